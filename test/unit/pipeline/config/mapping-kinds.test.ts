// What a target's sink kind cannot do with a mapping (pipeline/config/mapping.ts): a match key and
// soft delete are written by the database sinks (Postgres, MySQL/MariaDB); a webhook target holds
// no rows, so there a soft delete would silently become a `deleted` event and a match key would be
// ignored: the configuration refuses them, naming the key. Everything else of a mapping is
// accepted at every kind.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { ConfigError } from '../../../../pipeline/errors.ts';

const TARGETS: Record<string, Record<string, unknown>> = {
  postgres: { type: 'postgres', url: 'postgres://peer/db' },
  mysql: { type: 'mysql', url: 'mysql://root@maria/db' },
  webhook: { type: 'webhook', url: 'https://hooks.example/x', secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' },
};
const base = (kind: string, mapping: unknown) => ({
  source: { url: 'postgres://src/db' },
  kafka: { brokers: ['localhost:19092'], topicPrefix: 'p' },
  registry: { url: 'http://localhost:18081' },
  targets: [{ name: 't', ...TARGETS[kind], mapping }],
});

function error(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const SOFT = { deletePolicy: 'soft', softDelete: { column: 'deleted', type: 'boolean' } };
const MATCH = { include: ['email', 'username'], match: { column: 'email' } };
const SHAPE = {
  include: ['id', 'email', 'username', 'is_active', 'is_blocked'],
  rename: { username: 'login' },
  computed: { disabled: '!is_active' },
  filter: 'is_active && !is_blocked',
  deletePolicy: 'ignore',
};

describe('a mapping at each sink kind', () => {
  it.each(['postgres', 'mysql'])('%s takes soft delete and a match key', (kind) => {
    expect(() => parseConfig(base(kind, SOFT))).not.toThrow();
    expect(() => parseConfig(base(kind, MATCH))).not.toThrow();
    expect(() => parseConfig(base(kind, { ...MATCH, ...SOFT }))).not.toThrow();
  });

  it.each(['webhook'])('%s refuses soft delete and a match key, naming the key', (kind) => {
    expect(error(base(kind, SOFT))).toMatch(
      new RegExp(
        `targets\\.0\\.mapping\\.deletePolicy: deletePolicy soft is for database targets \\(postgres, mysql\\); a ${kind} target receives a deleted event`,
      ),
    );
    expect(error(base(kind, MATCH))).toMatch(
      new RegExp(
        `targets\\.0\\.mapping\\.match: match is for database targets \\(postgres, mysql\\); a ${kind} target holds no rows to match`,
      ),
    );
    // in a list of mappings, the entry's index is in the key
    expect(error(base(kind, [{ table: 'public.users', ...SOFT }]))).toMatch(
      /targets\.0\.mapping\.0\.deletePolicy: /,
    );
  });

  it.each(['mysql', 'webhook'])('%s takes columns, renames, computed fields, a filter and ignore', (kind) => {
    expect(() => parseConfig(base(kind, SHAPE))).not.toThrow();
  });
});
