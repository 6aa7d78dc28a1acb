// No false alarms from lag. A key the pass found different may only be behind: its change still in
// the WAL, in Kafka, or in the target's consumer. So every suspect key is decided again, in
// rounds: note the source's WAL position P0, read the source rows (S1) with their row versions;
// put a position P into the source's WAL after that read (a heartbeat message, which the producer
// acknowledges once everything before it is in Kafka); wait until the producer acknowledged P and
// the target's consumer group committed every offset that was in its topics then (catchUp), so the
// target has applied every change committed before S1 was read; read the target rows (T) and the
// source rows again (S2).
// - T agrees with S1 or with S2: not drift (the target holds a state the source had).
// - The row moved: S2 is another version of the row than S1 (xmin, or present in one read only),
//   or T was written by a change after P0 (its `_pgcdc_lsn`). Then T may hold a state the source
//   had between S1 and S2: a row that entered the filter and left it again, or was updated and
//   changed back, reads the same in S1 and S2 but not at a target that applied only the first
//   change. Decided again in the next round.
// - Otherwise T agrees with neither: drift (the source did not move, the target had its changes).
// Still moving after the last round, or the target never caught up: `unsettled`, reported apart,
// never counted as drift. Missing, differing and extra rows are decided by the same rule.
import type pg from 'pg';
import { differingColumns, expectedOf, keyPartsOf, type Expected, type TargetRow } from './rows.ts';
import type { TablePlan } from './plan.ts';
import { sourceRowsByKeys } from './postgres.ts';
import { parseLsn } from '../../schemas/lsn.ts';
import type { TargetReader } from './scan.ts';

export type Verdict =
  | { kind: 'same' }
  | { kind: 'moving' }
  | { kind: 'missing' }
  | { kind: 'extra'; owned: boolean }
  | { kind: 'differing'; columns: string[] };

/** Does the target row (undefined: none) hold what the source row (undefined: none) asks for? */
export function agrees(plan: TablePlan, e: Expected | undefined, t: TargetRow | undefined): boolean {
  if (e === 'unmappable') return true;
  const live = t !== undefined && !t.removed;
  if (e === undefined || e === null) return !live || !plan.extrasAreDrift;
  return live && differingColumns(plan, e, t.row).length === 0;
}

/**
 * The verdict on one key from S1, T and S2 (see the header). `moved`: the source row changed
 * between S1 and S2, or T was written after S1 (sourceMoved, writtenAfter). Pure.
 */
export function judge(
  plan: TablePlan,
  s1: Expected | undefined,
  t: TargetRow | undefined,
  s2: Expected | undefined,
  moved = false,
): Verdict {
  if (agrees(plan, s1, t) || agrees(plan, s2, t)) return { kind: 'same' };
  if (moved || !sameExpected(plan, s1, s2)) return { kind: 'moving' };
  const live = t !== undefined && !t.removed;
  if (s2 === undefined || s2 === null || s2 === 'unmappable')
    return { kind: 'extra', owned: t?.owned ?? false };
  if (!live) return { kind: 'missing' };
  return { kind: 'differing', columns: differingColumns(plan, s2, t.row) };
}

function sameExpected(plan: TablePlan, a: Expected | undefined, b: Expected | undefined): boolean {
  const none = (x: Expected | undefined) => x === undefined || x === null;
  if (none(a) || none(b)) return none(a) && none(b);
  if (a === 'unmappable' || b === 'unmappable') return a === b;
  return differingColumns(plan, a, b).length === 0;
}

export interface Settled {
  missing: string[];
  extra: { key: string; owned: boolean }[];
  differing: { key: string; columns: string[] }[];
  /** keys still moving after the last round, or undecided because the target did not catch up */
  unsettled: string[];
  caughtUp: boolean;
}

const BATCH = 1000;

/** A source row as one settle read saw it: what the target should hold, and the row's version. */
export interface SourceRead {
  expected: Expected;
  /** xmin of the row version read */
  version: string;
}

/** Did the source row change between the two reads (another version, or present in one only)? */
export function sourceMoved(s1: SourceRead | undefined, s2: SourceRead | undefined): boolean {
  return s1?.version !== s2?.version;
}

/** Was the target row written by a change after `p0` (a position taken before S1)? */
export function writtenAfter(t: TargetRow | undefined, p0: bigint): boolean {
  return t?.position != null && t.position > p0;
}

async function sourceByKey(plan: TablePlan, c: pg.Client, keys: string[]): Promise<Map<string, SourceRead>> {
  const out = new Map<string, SourceRead>();
  for (let i = 0; i < keys.length; i += BATCH) {
    const rows = await sourceRowsByKeys(
      c,
      plan,
      keys.slice(i, i + BATCH).map((k) => keyPartsOf(plan, k)),
    );
    for (const r of rows) {
      const e = expectedOf(plan, r);
      out.set(e.key, { expected: e.expected, version: String(r[plan.contract.columns.length]) });
    }
  }
  return out;
}

/** The source's current WAL insert position, as a number comparable with `_pgcdc_lsn`. */
async function walPosition(c: pg.Client): Promise<bigint> {
  const r = await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return parseLsn(r.rows[0]!.lsn);
}

async function targetByKey(
  plan: TablePlan,
  t: TargetReader,
  keys: string[],
): Promise<Map<string, TargetRow>> {
  const out = new Map<string, TargetRow>();
  for (let i = 0; i < keys.length; i += BATCH)
    for (const r of await t.rowsByKeys(
      plan,
      keys.slice(i, i + BATCH).map((k) => keyPartsOf(plan, k)),
    ))
      out.set(r.key, r);
  return out;
}

/** Puts a position into the source's WAL that the producer acknowledges (a heartbeat); its LSN. */
export async function markPosition(c: pg.Client): Promise<string> {
  const r = await c.query<{ lsn: string }>(
    "SELECT pg_logical_emit_message(true, 'pgcdc.heartbeat', 'reconcile')::text AS lsn",
  );
  return r.rows[0]!.lsn;
}

export async function settle(
  plan: TablePlan,
  source: pg.Client,
  target: TargetReader,
  suspects: string[],
  catchUp: (lsn: string) => Promise<boolean>,
  rounds = 3,
): Promise<Settled> {
  const out: Settled = { missing: [], extra: [], differing: [], unsettled: [], caughtUp: true };
  let keys = suspects;
  for (let round = 0; round < rounds && keys.length > 0; round++) {
    const p0 = await walPosition(source);
    const s1 = await sourceByKey(plan, source, keys);
    const lsn = await markPosition(source);
    if (!(await catchUp(lsn))) {
      out.caughtUp = false;
      break;
    }
    const t = await targetByKey(plan, target, keys);
    const s2 = await sourceByKey(plan, source, keys);
    const moving: string[] = [];
    for (const k of keys) {
      const [a, b, tk] = [s1.get(k), s2.get(k), t.get(k)];
      const moved = sourceMoved(a, b) || writtenAfter(tk, p0);
      const v = judge(plan, a?.expected, tk, b?.expected, moved);
      switch (v.kind) {
        case 'same':
          break;
        case 'moving':
          moving.push(k);
          break;
        case 'missing':
          out.missing.push(k);
          break;
        case 'extra':
          out.extra.push({ key: k, owned: v.owned });
          break;
        case 'differing':
          out.differing.push({ key: k, columns: v.columns });
          break;
        default:
          return v satisfies never;
      }
    }
    keys = moving;
  }
  out.unsettled.push(...keys);
  return out;
}
