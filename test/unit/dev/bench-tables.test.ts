// dev/bench --tables 3: the three-table workload is deterministic, takes turns over users, groups
// and memberships, keeps every writer's keys disjoint (groups above the anchors, membership pairs
// of anchor users and groups only), so the Kafka messages can be counted in advance; the option
// takes 1 or 3.
import { describe, expect, it } from 'vitest';
import { parseBenchOptions } from '../../../dev/cli/commands/bench.ts';
import { ANCHOR_USERS, anchorGroupsFor, TablesPlan } from '../../../dev/bench/tables-workload.ts';
import { DEFAULT_WORKLOAD } from '../../../dev/bench/workload.ts';

const take = (plan: TablesPlan, n: number) => Array.from({ length: n }, () => plan.nextTxn());

describe('TablesPlan', () => {
  it('is the same for the same seed and writer, and takes turns over the three tables', () => {
    const a = take(new TablesPlan(DEFAULT_WORKLOAD, 1, 4, 10), 30);
    expect(take(new TablesPlan(DEFAULT_WORKLOAD, 1, 4, 10), 30)).toEqual(a);
    const tables = a.map((t) => /(users|groups|memberships)/.exec(t.sql)?.[1]);
    expect(tables.slice(0, 6)).toEqual(['users', 'groups', 'memberships', 'users', 'groups', 'memberships']);
    for (const t of a) expect(t.counts.c + t.counts.u + t.counts.d).toBe(DEFAULT_WORKLOAD.txnSize);
  });

  it('keeps keys disjoint between writers, groups above the anchors, memberships on anchors', () => {
    const anchors = anchorGroupsFor(20_000);
    const keys = new Map<string, number>();
    for (const w of [0, 1, 2]) {
      for (const t of take(new TablesPlan(DEFAULT_WORKLOAD, w, 3, anchors), 600)) {
        const ins = /^INSERT INTO public\.(groups|memberships) .*?VALUES (.*)$/m.exec(t.sql);
        if (!ins) continue;
        for (const m of ins[2]!.matchAll(/\((\d+), (?:'group-\d+'|(\d+))/g)) {
          const key = `${ins[1]}:${m[1]}:${m[2] ?? ''}`;
          expect(keys.get(key) ?? w).toBe(w);
          keys.set(key, w);
          if (ins[1] === 'groups') expect(Number(m[1])).toBeGreaterThan(anchors);
          else {
            expect(Number(m[1])).toBeLessThanOrEqual(ANCHOR_USERS);
            expect(Number(m[2])).toBeLessThanOrEqual(anchors);
          }
        }
      }
    }
    expect(keys.size).toBeGreaterThan(500);
  });

  it('plans one statement per kind of change, as the writer counts them', () => {
    for (const t of take(new TablesPlan(DEFAULT_WORKLOAD, 0, 1, 10), 60)) {
      const kinds = (['c', 'u', 'd'] as const).filter((k) => t.counts[k] > 0);
      expect(t.sql.split(';\n').map((s) => s.split(' ')[0])).toEqual(
        kinds.map((k) => ({ c: 'INSERT', u: 'UPDATE', d: 'DELETE' })[k]),
      );
    }
  });
});

describe('bench --tables', () => {
  const base = {
    events: '100',
    rounds: '1',
    latencySeconds: '0',
    rates: '1000',
    saturation: false,
    snapshotRows: '0',
    webhook: false,
    baselines: false,
    mix: '60/30/10',
    txnSize: '5',
    largeBioRatio: '0',
    largeBioBytes: '10',
    seed: '1',
    writers: '2',
    out: '/tmp/bench',
  };
  it('defaults to one table, takes 3, refuses others', () => {
    expect(parseBenchOptions({ ...base, tables: '1' }).tables).toBeUndefined();
    expect(parseBenchOptions({ ...base, tables: '3' }).tables).toBe(3);
    expect(() => parseBenchOptions({ ...base, tables: '2' })).toThrow(/--tables: 1 or 3/);
  });
});
