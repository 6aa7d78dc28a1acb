// pipeline/config/tables.ts: source.tables (and the one-table shorthand), which tables a target
// receives and where, the topics they make, and the configuration mistakes named by key.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import {
  parseTableName,
  sourceTablesOf,
  sourceTopicsOf,
  targetRoutesOf,
  targetTopicsOf,
} from '../../../../pipeline/config/schema.ts';
import { fixtureContractDir } from '../../../../dev/tables/index.ts';
import { ConfigError } from '../../../../pipeline/errors.ts';

const contracts = fixtureContractDir();
const base = (source: Record<string, unknown> = {}, targets: unknown[] = []) => ({
  source: { url: 'postgres://src/db', contracts, ...source },
  kafka: { brokers: ['localhost:19092'], topicPrefix: 'p' },
  registry: { url: 'http://localhost:18081' },
  targets,
});
const peer = (extra: Record<string, unknown> = {}) => ({
  name: 'peer',
  type: 'postgres',
  url: 'postgres://peer/db',
  ...extra,
});
const hook = (extra: Record<string, unknown> = {}) => ({
  name: 'hook',
  type: 'webhook',
  url: 'http://localhost:9/h',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  ...extra,
});

function issues(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('table names', () => {
  it('"schema.table" or "table" in the default schema; anything else is not a name', () => {
    expect(parseTableName('crm.groups')).toEqual({ schema: 'crm', table: 'groups' });
    expect(parseTableName('groups', 'crm')).toEqual({ schema: 'crm', table: 'groups' });
    expect(parseTableName('a.b.c')).toBeUndefined();
    expect(parseTableName('bad name')).toBeUndefined();
  });
});

describe('source.tables', () => {
  it('the shorthand source.schema/source.table is one table, as before', () => {
    const cfg = parseConfig(base());
    expect(sourceTablesOf(cfg.source)).toEqual([{ schema: 'public', table: 'users' }]);
    expect(sourceTopicsOf(cfg.kafka, cfg.source)).toEqual(['p.public.users']);
  });

  it('lists tables as names or {schema, table}, one topic each, in configuration order', () => {
    const cfg = parseConfig(
      base({ tables: ['public.users', 'groups', { schema: 'public', table: 'memberships' }] }),
    );
    expect(sourceTablesOf(cfg.source).map((t) => t.table)).toEqual(['users', 'groups', 'memberships']);
    expect(sourceTopicsOf(cfg.kafka, cfg.source)).toEqual([
      'p.public.users',
      'p.public.groups',
      'p.public.memberships',
    ]);
  });

  it('refuses a table listed twice, a malformed name, and a table without a contract', () => {
    expect(issues(base({ tables: ['users', 'public.users'] }))).toMatch(
      /source\.tables\.1: table public\.users is listed twice/,
    );
    expect(issues(base({ tables: ['a.b.c'] }))).toMatch(/source\.tables\.0/);
    expect(issues(base({ tables: ['users', 'orders'] }))).toMatch(
      /source\.tables: no event contract for table "orders"/,
    );
    expect(issues(base({ tables: [] }))).toMatch(/source\.tables/);
  });
});

describe('targets[].tables', () => {
  const all = { tables: ['users', 'groups', 'memberships'] };

  it('default: every table, each to the same schema.table at the peer', () => {
    const cfg = parseConfig(base(all, [peer(), hook()]));
    for (const t of cfg.targets)
      expect(
        targetRoutesOf(cfg.source, t).map((r) => [r.source.table, `${r.at.schema}.${r.at.table}`]),
      ).toEqual([
        ['users', 'public.users'],
        ['groups', 'public.groups'],
        ['memberships', 'public.memberships'],
      ]);
    expect(targetTopicsOf(cfg.kafka, cfg.source, cfg.targets[1]!)).toHaveLength(3);
  });

  it("the shorthand keeps the target's schema/table as the one table's place", () => {
    const cfg = parseConfig(base({}, [peer({ schema: 'mirror', table: 'accounts' })]));
    expect(targetRoutesOf(cfg.source, cfg.targets[0]!)).toEqual([
      { source: { schema: 'public', table: 'users' }, at: { schema: 'mirror', table: 'accounts' } },
    ]);
  });

  it('a subset, and a Postgres target may place a table elsewhere', () => {
    const cfg = parseConfig(
      base(all, [
        peer({ tables: ['public.groups', { name: 'memberships', schema: 'm', table: 'members' }] }),
      ]),
    );
    expect(targetRoutesOf(cfg.source, cfg.targets[0]!)).toEqual([
      { source: { schema: 'public', table: 'groups' }, at: { schema: 'public', table: 'groups' } },
      { source: { schema: 'public', table: 'memberships' }, at: { schema: 'm', table: 'members' } },
    ]);
    expect(targetTopicsOf(cfg.kafka, cfg.source, cfg.targets[0]!)).toEqual([
      'p.public.groups',
      'p.public.memberships',
    ]);
  });

  it('refuses a table the source does not capture, two tables in one place, and placement for a webhook', () => {
    expect(issues(base(all, [peer({ tables: ['orders'] })]))).toMatch(
      /targets\.0\.tables\.0: "orders" is not a captured table/,
    );
    expect(issues(base(all, [peer({ tables: ['users', { name: 'groups', table: 'users' }] })]))).toMatch(
      /targets\.0\.tables\.1: two tables go to public\.users/,
    );
    expect(issues(base(all, [hook({ tables: [{ name: 'groups', table: 'g' }] })]))).toMatch(
      /targets\.0\.tables\.0: schema\/table \(where a table goes\) are for postgres targets only/,
    );
  });
});
