// The webhook target's configuration: defaults, secrets from the environment, and the checks that
// name the offending key.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { chunkSizeFor } from '../../../../pipeline/config/schema.ts';

const base = {
  source: { url: 'postgres://localhost/db' },
  kafka: { brokers: ['localhost:9092'] },
  registry: { url: 'http://localhost:8081' },
};
const withHook = (hook: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
  parseConfig(
    {
      ...base,
      targets: [
        { name: 'crm', type: 'webhook', url: 'https://crm.example.com/h', secret: 'whsec_c2VjcmV0', ...hook },
      ],
    },
    env,
  );

describe('webhook target config', () => {
  it('has documented defaults', () => {
    const t = withHook({}).targets[0]!;
    expect(t).toMatchObject({
      type: 'webhook',
      headers: {},
      connectTimeout: 5,
      responseTimeout: 30,
      maxAttempts: 10,
      backoff: { initial: 1, max: 60, jitter: 0.2 },
      retryAfterMax: 300,
      batchSize: 1,
      concurrency: 4,
      window: 200,
      onFailure: 'dead-letter',
      circuitBreaker: { failureThreshold: 5, cooldown: 30 },
    });
    expect(chunkSizeFor(t)).toBe(200);
  });

  it('takes the secret and headers from the environment', () => {
    const t = withHook(
      { secret: '${HOOK_SECRET}', headers: { authorization: 'Bearer ${HOOK_TOKEN}' } },
      { HOOK_SECRET: 'whsec_AAEC', HOOK_TOKEN: 't0k' },
    ).targets[0]!;
    expect(t).toMatchObject({ secret: 'whsec_AAEC', headers: { authorization: 'Bearer t0k' } });
  });

  it('accepts fractions of seconds (fast tests)', () => {
    expect(withHook({ responseTimeout: 0.3, backoff: { initial: 0.01, max: 0.1 } }).targets[0]).toMatchObject(
      {
        responseTimeout: 0.3,
        backoff: { initial: 0.01, max: 0.1, jitter: 0.2 },
      },
    );
  });

  it.each([
    [{ url: 'ftp://x/y' }, 'targets.0.url: must be an http:// or https:// URL'],
    [{ secret: '' }, 'targets.0.secret'],
    [{ secret: 'whsec_not base64!' }, 'targets.0.secret: whsec_ must be followed by base64'],
    [{ secret: 'plain words' }, 'targets.0.secret: must be "whsec_<base64 key>" or a base64 key'],
    [{ secret: 's' }, 'targets.0.secret: must be "whsec_<base64 key>" or a base64 key'],
    [{ backoff: { initial: 10, max: 1 } }, 'targets.0.backoff.max: must be >= backoff.initial'],
    [{ onFailure: 'drop' }, 'targets.0.onFailure'],
    [{ concurrency: 0 }, 'targets.0.concurrency'],
    [{ backoff: { jitter: 2 } }, 'targets.0.backoff.jitter'],
    [{ retries: 3 }, 'targets.0'],
  ])('rejects %j naming the key', (hook, message) => {
    expect(() => withHook(hook)).toThrow(message);
  });
});
