// Model-based property test of the matched rules (consumers/matching): random source histories of
// a users table like test/shaping/random-writer.ts (inserts in and out of the filter, activations
// and blocks flipped, email changes to new and to released values, email swaps between two users
// in one transaction, deletes), mapped as the target's filter maps them (an update leaving the
// filter is a removal), spread over partitions by source key and applied through the real apply
// flow (apply.ts, the rules of decide.ts) to an in-memory target, with the partitions interleaved
// at random, batches of random size, a waiting event retried later (as the consumer group does),
// and crashes that redeliver everything after the last committed offsets. Every run must drain
// (no wait that never ends: a circle of waits is a stall here, a dead letter after 40 backoffs
// on the real stack) without dead letters, and end with the live linked rows equal to the
// filtered source, and the target's own rows untouched.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMatched, type Outcome } from '../../../../consumers/matching/apply.ts';
import type { Row } from '../../../../schemas/contract.ts';
import { changeEvent } from '../../support/events.ts';
import { MemoryTarget, UniqueViolation } from './memory-store.ts';

interface SourceRow {
  email: string;
  active: boolean;
  blocked: boolean;
  v: number;
}

type Op =
  | { kind: 'insert'; email: number; active: boolean; blocked: boolean }
  | { kind: 'flip'; pick: number; what: 'active' | 'blocked' }
  | { kind: 'email'; pick: number; email: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'touch'; pick: number }
  | { kind: 'delete'; pick: number };

const EMAILS = 8; // a small pool, so released values are taken again
// weighted towards what moves values between rows (email changes and swaps), which is where
// waits and their order matter
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      email: fc.nat(EMAILS),
      active: fc.boolean(),
      blocked: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('flip' as const),
      pick: fc.nat(),
      what: fc.constantFrom('active' as const, 'blocked' as const),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('email' as const), pick: fc.nat(), email: fc.nat(EMAILS) }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('touch' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
);

/** one step of the consumer: which pending partition, how many events, then commit or crash */
const stepArb = fc.record({ p: fc.nat(), n: fc.integer({ min: 1, max: 30 }), after: fc.nat(19) });

interface Change {
  id: bigint;
  op: 'c' | 'u' | 'd';
  row: SourceRow | null;
  lsn: bigint;
  seq: bigint;
}

const inFilter = (r: SourceRow) => r.active && !r.blocked;

/** The source: runs the ops, returns the changes in commit order and the final rows. */
function runSource(ops: Op[], reuse: boolean) {
  const rows = new Map<bigint, SourceRow>([[0n, { email: 'twin', active: true, blocked: false, v: 0 }]]);
  const changes: Change[] = [];
  let lsn = 10n;
  let nextId = 1n;
  let v = 1;
  const write = (tx: [bigint, SourceRow | null][]) => {
    lsn++;
    tx.forEach(([id, row], i) => {
      const op = row === null ? 'd' : rows.has(id) ? 'u' : 'c';
      if (row === null) rows.delete(id);
      else rows.set(id, row);
      changes.push({ id, op, row, lsn, seq: BigInt(i) });
    });
  };
  const taken = (email: string) => [...rows.values()].some((r) => r.email === email);
  // user 0 (the CMS's twin) is never touched, as in the random writer
  const pick = (n: number) => {
    const ids = [...rows.keys()].filter((id) => id !== 0n);
    return ids.length === 0 ? undefined : ids[n % ids.length];
  };
  write([[0n, rows.get(0n)!]]);
  for (const op of ops) {
    switch (op.kind) {
      case 'insert': {
        const email = reuse ? `m${op.email}` : `new${v}`;
        if (!taken(email)) write([[nextId++, { email, active: op.active, blocked: op.blocked, v: v++ }]]);
        break;
      }
      case 'flip': {
        const id = pick(op.pick);
        if (id !== undefined) write([[id, { ...rows.get(id)!, [op.what]: !rows.get(id)![op.what], v: v++ }]]);
        break;
      }
      case 'email': {
        // a value from the pool (released ones are taken again), or a new one as the random writer
        const email = reuse ? `m${op.email}` : `new${v}`;
        const id = pick(op.pick);
        if (id !== undefined && !taken(email)) write([[id, { ...rows.get(id)!, email, v: v++ }]]);
        break;
      }
      case 'swap': {
        const a = pick(op.a);
        const b = pick(op.b);
        if (a === undefined || b === undefined || a === b) break;
        const ra = rows.get(a)!;
        const rb = rows.get(b)!;
        write([
          [a, { ...ra, email: `tmp-${a}` }],
          [b, { ...rb, email: ra.email }],
          [a, { ...ra, email: rb.email }],
        ]);
        break;
      }
      case 'touch': {
        const id = pick(op.pick);
        if (id !== undefined) write([[id, { ...rows.get(id)!, v: v++ }]]);
        break;
      }
      case 'delete': {
        const id = pick(op.pick);
        if (id !== undefined) write([[id, null]]);
        break;
      }
      default:
        return op satisfies never;
    }
  }
  return { changes, rows };
}

/** A source change as the target's mapping gives it: the filtered row, a removal, or nothing. */
function mapped(c: Change) {
  const event = (op: 'c' | 'u' | 'd', after: Row | null) =>
    changeEvent({
      op,
      after,
      event_id: `${c.lsn}/${c.seq}`,
      source: { commit_lsn: c.lsn, seq: c.seq, lsn: c.lsn },
    });
  if (c.row && inFilter(c.row))
    return event(c.op === 'd' ? 'u' : c.op, { email: c.row.email, v: c.row.v, deleted: false });
  if (c.op === 'c') return undefined; // an insert outside the filter: the target never held it
  return event('d', null);
}

const PARTITIONS = 3;
const NAMES = { targetKey: 'uid', matchColumn: 'email' };

async function run(
  ops: Op[],
  steps: { p: number; n: number; after: number }[],
  o: { soft: boolean; reuse: boolean },
) {
  const { soft } = o;
  const { changes, rows } = runSource(ops, o.reuse);
  const target = new MemoryTarget(soft);
  target.own('twin', 'old');
  const foreign = target.own('foreign', 'keep');
  const partitions: { id: bigint; event: NonNullable<ReturnType<typeof mapped>> }[][] = Array.from(
    { length: PARTITIONS },
    () => [],
  );
  for (const c of changes) {
    const event = mapped(c);
    if (event) partitions[Number(c.id % BigInt(PARTITIONS))]!.push({ id: c.id, event });
  }
  const next = partitions.map(() => 0);
  const committed = partitions.map(() => 0);
  const dead: string[] = [];
  const matched = { names: NAMES, soft };
  let idle = new Set<number>(); // partitions that retried since the last progress
  for (let i = 0; ; i++) {
    const pending = partitions.map((_, p) => p).filter((p) => next[p]! < partitions[p]!.length);
    if (pending.length === 0) break;
    if (pending.every((p) => idle.has(p)))
      return {
        stall: pending.map((p) => `partition ${p} waits at ${partitions[p]![next[p]!]!.event.event_id}`),
      };
    // the schedule, then round robin with commits (no crash after it: every run ends)
    const step = steps[i] ?? { p: i, n: 2, after: 2 };
    const p = pending[step.p % pending.length]!;
    // one batch: events one by one, each all-or-nothing, stopping before one that must wait
    let moved = false;
    for (let k = 0; k < step.n && next[p]! < partitions[p]!.length; k++) {
      const { id, event } = partitions[p]![next[p]!]!;
      let out: Outcome;
      try {
        out = await target.savepoint(() => applyMatched(target, matched, { id }, event));
      } catch (err) {
        if (!(err instanceof UniqueViolation)) throw err;
        out = { kind: 'retry', error: err.message };
      }
      if (out.kind === 'retry') break;
      if (out.kind === 'dead') dead.push(`${event.event_id}: ${out.error}`);
      next[p]!++;
      moved = true;
    }
    if (moved) idle = new Set();
    else idle.add(p);
    // offsets are committed after the batch, or not yet when the consumer is killed
    if (step.after === 0) next.forEach((_, q) => (next[q] = committed[q]!));
    else if (step.after % 2 === 0) committed[p] = next[p]!;
  }
  const expected = [...rows.values()].filter(inFilter).map((r) => ({ email: r.email, v: r.v }));
  const order = (a: { email: string | null }, b: { email: string | null }) =>
    String(a.email).localeCompare(String(b.email));
  return {
    dead,
    live: target.live().sort(order),
    expected: expected.sort(order),
    foreign: target.rows.get(foreign),
  };
}

describe('matched rules: the target ends equal to the filtered source (model-based)', () => {
  it('a circle of waits: A v -> z -> w, D w -> v between, C takes z later and runs ahead', async () => {
    // users 1 (A, partition 1), 2 (C, partition 2), 3 (D, partition 0); emails m1 (v), m2, m3 (w), m4 (z)
    const ops: Op[] = [
      { kind: 'insert', email: 1, active: true, blocked: false },
      { kind: 'insert', email: 2, active: true, blocked: false },
      { kind: 'insert', email: 3, active: true, blocked: false },
      { kind: 'email', pick: 0, email: 4 },
      { kind: 'email', pick: 2, email: 1 },
      { kind: 'email', pick: 0, email: 3 },
      { kind: 'email', pick: 1, email: 4 },
    ];
    // the inserts first (twin and D, A), then C's partition all, then A's, then D's
    const steps = [
      { p: 0, n: 2, after: 2 },
      { p: 1, n: 1, after: 2 },
      { p: 2, n: 12, after: 2 },
      { p: 1, n: 12, after: 2 },
      { p: 0, n: 12, after: 2 },
    ];
    const r = await run(ops, steps, { soft: true, reuse: true });
    expect('stall' in r ? r.stall : r.dead).toEqual([]);
    expect('live' in r && r.live).toEqual('expected' in r && r.expected);
  });

  for (const o of [
    { soft: true, reuse: true, name: 'soft deletes, emails taken again once released' },
    { soft: false, reuse: true, name: 'hard deletes, emails taken again once released' },
    { soft: true, reuse: false, name: 'soft deletes, new emails and swaps only (as the random writer)' },
  ])
    it(`${o.name}: interleaved partitions, crashes`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(opArb, { maxLength: 80, size: 'max' }),
          fc.array(stepArb, { maxLength: 60, size: 'max' }),
          async (ops, steps) => {
            const r = await run(ops, steps, o);
            if ('stall' in r) throw new Error(`stalled: ${r.stall.join('; ')}`);
            expect(r.dead).toEqual([]);
            expect(r.live).toEqual(r.expected);
            expect(r.foreign).toEqual({ email: 'foreign', v: 'keep', deleted: false });
          },
        ),
        { numRuns: 300 },
      );
    });
});
