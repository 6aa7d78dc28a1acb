// Benchmark load generator for several tables (`--tables 3`), pure part: users, groups and
// memberships (dev/tables, docs/tables.md) written in one pipeline. Each writer transaction touches
// one table, the tables taking turns, so the changes split about evenly between the three topics.
// users reuse the one-table plan (workload.ts); groups and memberships get the same
// insert/update/delete mix. Guarantees that let the bench count the Kafka messages in advance:
// every writer owns disjoint keys (no lock waits, every planned change happens), and memberships
// only reference anchor users and groups that exist before the slot and are never deleted, so no
// ON DELETE CASCADE adds changes that were not planned.
import pg from 'pg';
import { rng } from '../verify/seed.ts';
import { countOps, emptyCounts, txnSql, WorkloadPlan, type OpCounts, type WorkloadSpec } from './workload.ts';

/** users with ids 1..ANCHOR_USERS exist before the slot; the users plan writes above them */
export const ANCHOR_USERS = 1000;

/** groups 1..n exist before the slot: enough that every planned membership has its own pair */
export const anchorGroupsFor = (events: number): number => Math.ceil(events / ANCHOR_USERS) + 1;

export type KeyedOp<K> =
  { op: 'c'; key: K; text: string } | { op: 'u'; key: K; text: string } | { op: 'd'; key: K };

/** Inserts, updates and deletes of rows a writer owns, keys from `keyOf(n)`, n = 0, 1, 2, ... */
class KeyedPlan<K> {
  private readonly live: K[] = [];
  private n = 0;
  private readonly total: number;

  constructor(
    private readonly spec: WorkloadSpec,
    private readonly r: () => number,
    private readonly keyOf: (n: number) => K,
  ) {
    this.total = spec.mix.insert + spec.mix.update + spec.mix.delete;
  }

  nextTxn(): KeyedOp<K>[] {
    const ops: KeyedOp<K>[] = [];
    const touched = new Set<K>();
    for (let i = 0; i < this.spec.txnSize; i++) ops.push(this.nextOp(touched));
    return ops;
  }

  private nextOp(touched: Set<K>): KeyedOp<K> {
    const x = this.r() * this.total;
    const { insert, update } = this.spec.mix;
    const text = `t${Math.floor(this.r() * 1e6)}`;
    if (x >= insert && this.live.length > touched.size) {
      let idx = Math.floor(this.r() * this.live.length);
      while (touched.has(this.live[idx]!)) idx = (idx + 1) % this.live.length;
      const key = this.live[idx]!;
      touched.add(key);
      if (x < insert + update) return { op: 'u', key, text };
      this.live[idx] = this.live[this.live.length - 1]!;
      this.live.pop();
      return { op: 'd', key };
    }
    const key = this.keyOf(this.n++);
    this.live.push(key);
    touched.add(key);
    return { op: 'c', key, text };
  }
}

const lit = (v: string): string => pg.escapeLiteral(v);

/** One statement per kind present, inserts, updates, deletes in that order (as txnSql). */
function keyedSql<K>(
  ops: KeyedOp<K>[],
  sql: {
    insert: (o: KeyedOp<K>[]) => string;
    update: (o: KeyedOp<K>[]) => string;
    delete: (o: KeyedOp<K>[]) => string;
  },
): string {
  const parts: string[] = [];
  for (const kind of ['c', 'u', 'd'] as const) {
    const of = ops.filter((o) => o.op === kind);
    if (of.length > 0) parts.push((kind === 'c' ? sql.insert : kind === 'u' ? sql.update : sql.delete)(of));
  }
  return parts.join(';\n');
}

function keyedCounts(ops: KeyedOp<unknown>[]): OpCounts {
  const c = emptyCounts();
  for (const o of ops) c[o.op]++;
  return c;
}

const text = (o: KeyedOp<unknown>): string => ('text' in o ? o.text : '');

export function groupsSql(ops: KeyedOp<number>[]): string {
  return keyedSql(ops, {
    insert: (o) =>
      `INSERT INTO public.groups (id, name, description, tags) VALUES ${o.map((x) => `(${x.key}, ${lit(`group-${x.key}`)}, ${lit(text(x))}, ARRAY['bench']::text[])`).join(', ')}`,
    update: (o) =>
      `UPDATE public.groups AS g SET description = v.d FROM (VALUES ${o.map((x) => `(${x.key}, ${lit(text(x))})`).join(', ')}) AS v(id, d) WHERE g.id = v.id`,
    delete: (o) => `DELETE FROM public.groups WHERE id IN (${o.map((x) => x.key).join(', ')})`,
  });
}

export function membershipsSql(ops: KeyedOp<string>[]): string {
  return keyedSql(ops, {
    insert: (o) =>
      `INSERT INTO public.memberships (user_id, group_id, role, note) VALUES ${o.map((x) => `(${x.key}, 'member', ${lit(text(x))})`).join(', ')}`,
    update: (o) =>
      `UPDATE public.memberships AS m SET role = v.role FROM (VALUES ${o.map((x) => `(${x.key}, ${lit(text(x))})`).join(', ')}) AS v(u, g, role) WHERE m.user_id = v.u AND m.group_id = v.g`,
    delete: (o) =>
      `DELETE FROM public.memberships WHERE (user_id, group_id) IN (${o.map((x) => `(${x.key})`).join(', ')})`,
  });
}

/** One writer's deterministic stream of transactions over the three tables. */
export class TablesPlan {
  private readonly users: WorkloadPlan;
  private readonly groups: KeyedPlan<number>;
  private readonly memberships: KeyedPlan<string>;
  private turn = 0;

  constructor(spec: WorkloadSpec, worker: number, workers: number, anchorGroups: number) {
    const r = rng(spec.seed * 1000 + 500 + worker);
    this.users = new WorkloadPlan(spec, worker, workers, ANCHOR_USERS);
    this.groups = new KeyedPlan(spec, r, (n) => anchorGroups + worker + 1 + workers * n);
    this.memberships = new KeyedPlan(spec, r, (n) => {
      // pair k = worker + workers * n over anchor users x anchor groups: disjoint per writer
      const k = worker + workers * n;
      const group = 1 + Math.floor(k / ANCHOR_USERS);
      if (group > anchorGroups)
        throw new Error(`tables workload: more memberships than ${anchorGroups} anchor groups allow`);
      return `${1 + (k % ANCHOR_USERS)}, ${group}`;
    });
  }

  /** The next transaction's SQL (one round trip) and the changes it plans. */
  nextTxn(): { sql: string; counts: OpCounts } {
    const t = this.turn++ % 3;
    if (t === 0) {
      const ops = this.users.nextTxn();
      return { sql: txnSql(ops), counts: countOps(ops) };
    }
    if (t === 1) {
      const ops = this.groups.nextTxn();
      return { sql: groupsSql(ops), counts: keyedCounts(ops) };
    }
    const ops = this.memberships.nextTxn();
    return { sql: membershipsSql(ops), counts: keyedCounts(ops) };
  }
}

/** SQL that creates the anchor users and groups (run before the slot exists: not streamed). */
export function anchorSql(anchorGroups: number): string {
  return (
    `INSERT INTO public.users (id, email, username) SELECT g, 'anchor-' || g || '@bench.invalid', 'anchor' || g FROM generate_series(1, ${ANCHOR_USERS}) g;\n` +
    `INSERT INTO public.groups (id, name) SELECT g, 'anchor-group-' || g FROM generate_series(1, ${anchorGroups}) g`
  );
}
