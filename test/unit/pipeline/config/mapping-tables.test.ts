// A mapping per table (pipeline/config/mapping.ts): a target receiving several tables gives a list
// of mappings, each naming its table; a table without one is an exact copy; a single mapping
// without `table` shapes every table. The mistakes (a list entry without a table, a table the
// target does not receive, a table named twice) are configuration errors named by key; each
// table's shape compiles against that table's contract.
import { describe, expect, it } from 'vitest';
import { compileShape } from '../../../../consumers/mapping/shape.ts';
import { fixtureContractDir } from '../../../../dev/tables/index.ts';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { mappingFor, mappingsOf, needsCompleteUpdates } from '../../../../pipeline/config/mapping.ts';
import { contractOf, targetRoutesOf } from '../../../../pipeline/config/schema.ts';
import { ConfigError } from '../../../../pipeline/errors.ts';

const contracts = fixtureContractDir();
const TABLES = ['public.users', 'public.groups', 'public.memberships'];
const base = (target: Record<string, unknown>, source: Record<string, unknown> = { tables: TABLES }) => ({
  source: { url: 'postgres://src/db', contracts, ...source },
  kafka: { brokers: ['localhost:19092'], topicPrefix: 'p' },
  registry: { url: 'http://localhost:18081' },
  targets: [{ name: 'peer', type: 'postgres', url: 'postgres://peer/db', ...target }],
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

const USERS = { table: 'public.users', include: ['id', 'email', 'is_active'], filter: 'is_active' };
const GROUPS = { table: 'groups', rename: { name: 'title' }, exclude: ['tags'] };

describe('a mapping per table', () => {
  it('each table gets its own mapping; a table without one is the exact copy', () => {
    const cfg = parseConfig(base({ mapping: [USERS, GROUPS] }));
    const t = cfg.targets[0]!;
    expect(mappingsOf(t)).toHaveLength(2);
    const shapes = targetRoutesOf(cfg.source, t).map((r) => {
      const m = mappingFor(cfg.source, t, r.source);
      const { shape, problems } = compileShape(m, contractOf(cfg.source, r.source));
      expect(problems).toEqual([]);
      return [r.source.table, m?.table, shape!.columns.map((c) => c.name)];
    });
    expect(shapes).toEqual([
      ['users', 'public.users', ['id', 'email', 'is_active']],
      ['groups', 'groups', ['id', 'title', 'description', 'created_at']],
      ['memberships', undefined, ['user_id', 'group_id', 'role', 'note', 'joined_at']],
    ]);
    expect(needsCompleteUpdates(cfg.targets)).toBe(true); // the users mapping has a filter
    expect(needsCompleteUpdates(parseConfig(base({ mapping: [GROUPS] })).targets)).toBe(false);
  });

  it('a single mapping without table shapes every table; with table only that one', () => {
    const all = parseConfig(base({ mapping: { deletePolicy: 'ignore' } }));
    for (const r of targetRoutesOf(all.source, all.targets[0]!))
      expect(mappingFor(all.source, all.targets[0]!, r.source)?.deletePolicy).toBe('ignore');
    const one = parseConfig(base({ mapping: USERS }));
    const named = targetRoutesOf(one.source, one.targets[0]!).map(
      (r) => mappingFor(one.source, one.targets[0]!, r.source)?.table,
    );
    expect(named).toEqual(['public.users', undefined, undefined]);
  });

  it('the one-table shorthand keeps working with or without table', () => {
    for (const mapping of [{ filter: 'is_active' }, { table: 'users', filter: 'is_active' }]) {
      const cfg = parseConfig(base({ mapping }, {}));
      const [route] = targetRoutesOf(cfg.source, cfg.targets[0]!);
      expect(mappingFor(cfg.source, cfg.targets[0]!, route!.source)?.filter).toBe('is_active');
    }
  });

  it('names the mistakes by key', () => {
    expect(issues(base({ mapping: [USERS, { rename: { name: 'title' } }] }))).toMatch(
      /targets\.0\.mapping\.1\.table.*each mapping of a list names its table/s,
    );
    expect(issues(base({ mapping: [USERS, { ...USERS, table: 'users' }] }))).toMatch(
      /targets\.0\.mapping\.1\.table.*public\.users has two mappings at target peer/s,
    );
    expect(issues(base({ tables: ['public.groups'], mapping: [USERS] }))).toMatch(
      /targets\.0\.mapping\.0\.table.*"public\.users" is not a table target peer receives \(public\.groups\)/s,
    );
    expect(issues(base({ mapping: { table: 'nope', filter: 'true' } }))).toMatch(
      /targets\.0\.mapping\.table.*"nope" is not a table target peer receives/s,
    );
    expect(issues(base({ mapping: [{ ...USERS, table: 'a.b.c' }] }))).toMatch(/must be "schema\.table"/);
  });

  it("each table's shape compiles against its own contract", () => {
    const cfg = parseConfig(base({ mapping: [{ table: 'groups', include: ['id', 'email'] }] }));
    const t = cfg.targets[0]!;
    const route = targetRoutesOf(cfg.source, t)[1]!;
    const { problems } = compileShape(
      mappingFor(cfg.source, t, route.source),
      contractOf(cfg.source, route.source),
    );
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'mapping.include: unknown column "email" (not in the contract of groups)',
    ]);
  });
});
