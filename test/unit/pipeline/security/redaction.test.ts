// Secrets never leave the process in text: the logger scrubs every line of the configuration's
// secret values at every level (besides its key-based redaction), describeError scrubs messages,
// and the dev tools' redactSecrets masks them too. And the explanations of failed handshakes and
// authentications (pipeline/transport-errors.ts) name the fix.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redactSecrets } from '../../../../dev/redact.ts';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { describeError, PgcdcError } from '../../../../pipeline/errors.ts';
import { createLogger } from '../../../../pipeline/observability/logger.ts';
import { explainTransportError } from '../../../../pipeline/transport-errors.ts';

const PLANTED = {
  db: 'pg-Planted-9f1',
  sasl: 'sasl-Planted-7c2',
  registry: 'reg-Planted-3b8',
  webhook: 'whsec_UGxhbnRlZFdlYmhvb2tTZWNyZXQ=',
};

const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-redact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = () =>
  parseConfig({
    source: { url: `postgres://app:${PLANTED.db}@db/app` },
    kafka: {
      brokers: ['b:9093'],
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: PLANTED.sasl },
    },
    registry: { url: 'https://r', auth: { type: 'basic', username: 'k', password: PLANTED.registry } },
    targets: [{ name: 'hook', type: 'webhook', url: 'https://h/x', secret: PLANTED.webhook }],
  });

describe('secret redaction', () => {
  it('no log line at trace level carries a configured secret, wherever it hides', () => {
    const cfg = config();
    const file = path.join(dir, 'log.jsonl');
    const log = createLogger({ level: 'trace', file });
    log.trace({ config: cfg }, 'the whole configuration');
    log.debug({ err: new Error(`auth failed with ${PLANTED.sasl}`) }, `message ${PLANTED.registry}`);
    log.info({ nested: { deeper: { value: PLANTED.db } } }, 'nested');
    log.error({ headers: { authorization: `Bearer ${PLANTED.registry}` } }, PLANTED.webhook.slice(6));
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(4);
    for (const v of Object.values(PLANTED)) expect(text).not.toContain(v);
    expect(text).not.toContain(PLANTED.webhook.slice('whsec_'.length));
    expect(text).toContain('[redacted]');
  });

  it('describeError and the dev tools scrub them from messages', () => {
    config();
    const err = new PgcdcError(`could not log in with ${PLANTED.sasl}`, { hint: `not ${PLANTED.registry}` });
    expect(describeError(err)).toBe('could not log in with [redacted]\n  fix: not [redacted]');
    expect(redactSecrets(`{"password":"other-one","x":"${PLANTED.db}"}`)).toBe(
      '{"password":"***","x":"[redacted]"}',
    );
  });
});

describe('explainTransportError', () => {
  const kafka = {
    system: 'kafka' as const,
    section: 'kafka',
    tls: true,
    sasl: { mechanism: 'scram-sha-512', username: 'pgcdc' },
  };
  const tlsError = (code: string, message: string) => Object.assign(new Error(message), { code });
  it.each([
    [
      'unknown-ca',
      tlsError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'),
      /kafka\.tls\.caFile/,
    ],
    [
      'wrong-host',
      tlsError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      /servername/,
    ],
    ['expired', tlsError('CERT_HAS_EXPIRED', 'certificate has expired'), /renew/],
    [
      'not-tls',
      new Error('write EPROTO 1234:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'),
      /TLS listener/,
    ],
    [
      'mechanism',
      Object.assign(
        new Error('SASL SCRAM-SHA-512 mechanism is not supported by the broker: UNSUPPORTED_SASL_MECHANISM'),
        { name: 'KafkaJSSASLAuthenticationError' },
      ),
      /sasl\.mechanism/,
    ],
    [
      'authentication',
      Object.assign(
        new Error(
          'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
        ),
        { name: 'KafkaJSSASLAuthenticationError' },
      ),
      /kafka\.sasl\.username/,
    ],
  ])('%s', (problem, err, fix) => {
    const wrapped = new Error('Connection error', { cause: err });
    const e = explainTransportError(wrapped, kafka);
    expect(e?.problem).toBe(problem);
    expect(e?.fix).toMatch(fix);
  });
  it('leaves anything else alone', () => {
    expect(explainTransportError(new Error('ECONNREFUSED'), kafka)).toBeUndefined();
  });
});
