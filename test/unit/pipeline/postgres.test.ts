// The one Postgres connection factory: each role's statement and lock timeouts and keepalives.
import { describe, expect, it } from 'vitest';
import { CONNECTION_DEFAULTS } from '../../../pipeline/config/connections.ts';
import { clientConfigFor, createPgConnections, type PgRole } from '../../../pipeline/postgres.ts';

describe('clientConfigFor', () => {
  it.each([
    ['replication', 0, 0],
    ['source', 300_000, 10_000],
    ['position', 10_000, 5_000],
    ['target', 20_000, 5_000],
    ['ops', 30_000, 5_000],
  ] as [PgRole, number, number][])('%s: statement %i ms, lock %i ms, keepalives', (role, statement, lock) => {
    const c = clientConfigFor(CONNECTION_DEFAULTS, 'postgres://h/db', role, 'pgcdc-x');
    expect(c).toEqual({
      connectionString: 'postgres://h/db',
      application_name: 'pgcdc-x',
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 30_000,
      statement_timeout: statement,
      lock_timeout: lock,
    });
  });

  it('passes session options through', () => {
    expect(clientConfigFor(CONNECTION_DEFAULTS, 'u', 'source', 'a', '-c TimeZone=UTC').options).toBe(
      '-c TimeZone=UTC',
    );
  });

  it('takes the configured values', () => {
    const settings = { ...CONNECTION_DEFAULTS, target: { statementTimeoutMs: 7, lockTimeoutMs: 3 } };
    const c = createPgConnections(settings).config('u', 'target', 'a');
    expect([c.statement_timeout, c.lock_timeout]).toEqual([7, 3]);
  });
});
