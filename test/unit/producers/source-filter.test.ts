// The source filter (producers/source-filter.ts): membership per operation, the same predicate
// for snapshot reads and changes; a row leaving becomes a delete of its key, one entering passes
// whole; a change whose previous row is known outside the filter is dropped; the configuration
// resolves one predicate per table and names problems.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipeline/config/load.ts';
import { sourceFilterFor } from '../../../pipeline/config/source-filter.ts';
import { ConfigError } from '../../../pipeline/errors.ts';
import {
  applySourceFilter,
  compileSourceFilter,
  compileSourceFilters,
} from '../../../producers/source-filter.ts';
import type { SourceItem } from '../../../producers/postgres/assembler.ts';
import { loadContract, type Op, type Row } from '../../../schemas/contract.ts';
import { fixtureContractDir } from '../../../dev/tables/index.ts';
import { changeEvent } from '../support/events.ts';
import { checkSourceFilter } from '../../../ops/check/source-filter.ts';

const contract = loadContract();
const filter = (() => {
  const r = compileSourceFilter('is_active && !is_blocked', contract);
  if ('problem' in r) throw new Error(r.problem);
  return r.filter;
})();
const row = (is_active: boolean, is_blocked = false): Row => ({ id: 1n, is_active, is_blocked });
const item = (op: Op, before: Row | null, after: Row | null, unchanged: string[] = []): SourceItem => ({
  kind: 'event',
  key: { id: 1n },
  event: changeEvent({ op, before, after, unchanged }),
});
const out = (i: SourceItem) => {
  const r = applySourceFilter(filter, i);
  return r?.kind === 'event' ? r.event.op : r === undefined ? 'dropped' : r.kind;
};

describe('source filter membership', () => {
  it.each([
    ['c', null, row(true), 'c'],
    ['c', null, row(false), 'dropped'],
    ['r', null, row(true), 'r'],
    ['r', null, row(false), 'dropped'],
    ['u', null, row(true), 'u'], // enters or stays in: whole
    ['u', null, row(false), 'd'], // may have been in: removed everywhere
    ['u', row(true), row(true, true), 'd'], // leaves (blocked)
    ['u', row(false), row(false), 'dropped'], // known to be out before and after
    ['u', row(false), row(true), 'u'], // enters
    ['d', null, null, 'd'],
    ['d', row(false), null, 'dropped'],
    ['d', row(true), null, 'd'],
  ] as const)('%s, then %s', (op, before, after, want) => {
    expect(out(item(op, before, after))).toBe(want);
  });

  it('a leaving update becomes a delete of the key, the previous row kept, no new row', () => {
    const r = applySourceFilter(filter, item('u', null, row(false), ['bio']));
    expect(r).toMatchObject({
      kind: 'event',
      key: { id: 1n },
      event: { op: 'd', after: null, unchanged: [] },
    });
  });

  it('other items and tables without a filter pass; an incomplete update is a defect, never a guess', () => {
    const commit: SourceItem = { kind: 'commit', endLsn: 1n, commitLsn: 1n, events: 0 };
    expect(applySourceFilter(filter, commit)).toBe(commit);
    const x = item('u', null, row(false));
    expect(applySourceFilter(undefined, x)).toBe(x);
    expect(() => applySourceFilter(filter, item('u', null, row(true), ['is_blocked']))).toThrow(
      /reads is_blocked, which the change left out/,
    );
    expect(applySourceFilter(filter, item('u', null, row(true), ['bio']))).toBeDefined();
  });

  it('an evaluation error counts as outside, reported', () => {
    const r = compileSourceFilter('middle_name.value() == "x"', contract);
    if ('problem' in r) throw new Error(r.problem);
    const errors: string[] = [];
    expect(
      applySourceFilter(r.filter, item('c', null, { id: 1n, middle_name: null }), (e) =>
        errors.push(e.message),
      ),
    ).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});

describe('source.filter configuration', () => {
  const base = (source: Record<string, unknown>) =>
    parseConfig({
      source: { url: 'postgres://src/db', contracts: fixtureContractDir(), ...source },
      kafka: { brokers: ['localhost:19092'], topicPrefix: 'p' },
      registry: { url: 'http://localhost:18081' },
      targets: [],
    });

  it('one predicate for the table, or one per table', () => {
    const one = base({ filter: 'is_active' });
    expect(sourceFilterFor(one.source, { schema: 'public', table: 'users' })).toBe('is_active');
    const per = base({
      tables: ['public.users', 'public.groups'],
      filter: { users: 'is_active', 'public.groups': 'name != ""' },
    });
    expect(sourceFilterFor(per.source, { schema: 'public', table: 'groups' })).toBe('name != ""');
    expect(sourceFilterFor(per.source, { schema: 'public', table: 'memberships' })).toBeUndefined();
  });

  it('names a table that is not captured, and a predicate that does not compile or is not bool', () => {
    expect(() => base({ filter: { nope: 'true' } })).toThrow(
      /source\.filter\.nope.*"nope" is not a captured table/s,
    );
    const cfg = base({ filter: 'is_actve' });
    let err: unknown;
    try {
      compileSourceFilters(cfg.source, [contract]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/source\.filter of public\.users: does not compile/);
    expect(compileSourceFilter('email', contract)).toEqual({ problem: 'must be bool, is string' });
  });
});

describe('pgcdc check of source.filter', () => {
  const cfg = (filter: unknown) =>
    parseConfig({
      source: { url: 'postgres://src/db', filter },
      kafka: { brokers: ['localhost:19092'], topicPrefix: 'p' },
      registry: { url: 'http://localhost:18081' },
      targets: [],
    });
  it('says what enters Kafka, or names the problem', () => {
    const [line] = checkSourceFilter(cfg('is_active'));
    expect(line?.level).toBe('INFO');
    expect(line?.message).toMatch(/^public\.users: only rows matching is_active enter Kafka/);
    expect(checkSourceFilter(cfg('email'))).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        message: 'source.filter of public.users: must be bool, is string',
      }),
    ]);
  });
});
