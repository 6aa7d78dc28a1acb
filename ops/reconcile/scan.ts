// One pass over one table: chunk by chunk in key order (keyset pagination, `chunkSize` source rows
// at a time), each chunk's key range compared with the same range at the target. With sqlHashes
// (plan.ts) both servers hash the range and only a range whose hashes differ is read row by row;
// otherwise the rows are read and each source row is mapped through the target's shape. Memory:
// one chunk of source rows and one page of target rows, whatever the table's size. The keys found
// different are the suspects the settle step (settle.ts) decides on.
import type pg from 'pg';
import { expectedOf, rangeComparison, type Expected, type RowDiff, type TargetRow } from './rows.ts';
import type { TablePlan } from './plan.ts';
import { sourceChunkHash, sourceRows, type ChunkHash, type KeyRange } from './postgres.ts';

/** What reconcile reads of a target (postgres.ts for PostgreSQL, mysql.ts for MySQL/MariaDB). */
export interface TargetReader {
  /** rows and hash of a range, when the target can hash as the source does */
  rangeHash?(plan: TablePlan, range: KeyRange): Promise<{ rows: number; hash: string | null }>;
  /** whether rangeHash can hash this table (its column types, its key's order); default: yes */
  hashable?(plan: TablePlan): Promise<boolean>;
  rows(
    plan: TablePlan,
    range: KeyRange,
    limit: number,
  ): Promise<{ rows: TargetRow[]; last: string[] | null }>;
  rowsByKeys(plan: TablePlan, keys: string[][]): Promise<TargetRow[]>;
}

export interface ScanOptions {
  chunkSize: number;
  /** keys kept for the settle step and repair; beyond them only counts */
  maxKeys: number;
  /** after each chunk: source rows done so far */
  progress?: (rowsDone: number) => void;
  stopping?: () => boolean;
}

export interface ScanResult extends RowDiff {
  chunks: number;
  /** chunks read row by row (hashes differed, or no sqlHashes) */
  chunksRead: number;
  /** differences beyond maxKeys: counted, keys not kept */
  overflow: { missing: number; extra: number; differing: number };
}

function merge(into: ScanResult, d: RowDiff, maxKeys: number): void {
  into.compared += d.compared;
  into.unmappable.push(...d.unmappable.slice(0, Math.max(0, maxKeys - into.unmappable.length)));
  for (const kind of ['missing', 'extra', 'differing'] as const) {
    const room = Math.max(0, maxKeys - into[kind].length);
    (into[kind] as unknown[]).push(...d[kind].slice(0, room));
    into.overflow[kind] += Math.max(0, d[kind].length - room);
  }
}

/** Compares one range row by row; `source` are its source rows (all of them). */
async function readRange(
  plan: TablePlan,
  target: TargetReader,
  range: KeyRange,
  source: ReturnType<typeof expectedOf>[],
  pageSize: number,
): Promise<RowDiff> {
  const expected = new Map<string, Expected>(source.map((s) => [s.key, s.expected]));
  const cmp = rangeComparison(plan, expected);
  let lo = range.lo;
  for (;;) {
    const page = await target.rows(plan, { lo, hi: range.hi }, pageSize);
    for (const t of page.rows) cmp.target(t);
    if (page.rows.length < pageSize) break;
    lo = page.last;
  }
  return cmp.finish();
}

export async function scanTable(
  plan: TablePlan,
  source: pg.Client,
  target: TargetReader,
  o: ScanOptions,
): Promise<ScanResult> {
  const out: ScanResult = {
    compared: 0,
    missing: [],
    extra: [],
    differing: [],
    unmappable: [],
    chunks: 0,
    chunksRead: 0,
    overflow: { missing: 0, extra: 0, differing: 0 },
  };
  const n = o.chunkSize;
  let lo: string[] | null = null;
  let done = 0;
  let next: Promise<ChunkHash> | undefined;
  const hashing =
    plan.sqlHashes && target.rangeHash !== undefined && ((await target.hashable?.(plan)) ?? true);
  for (;;) {
    if (o.stopping?.()) break;
    out.chunks++;
    let range: KeyRange;
    let rows: ReturnType<typeof expectedOf>[] | undefined;
    let size: number;
    if (hashing && target.rangeHash) {
      const ch: ChunkHash = await (next ?? sourceChunkHash(source, plan, lo, n));
      next = undefined;
      size = ch.rows;
      range = { lo, hi: ch.rows < n ? null : ch.last };
      // the source hashes the next chunk while the target hashes this one
      if (ch.rows === n) {
        next = sourceChunkHash(source, plan, ch.last, n);
        next.catch(() => undefined); // awaited by the next iteration
      }
      const th = await target.rangeHash(plan, range);
      if (th.rows === ch.rows && th.hash === ch.hash) {
        out.compared += ch.rows;
        done += ch.rows;
        o.progress?.(done);
        if (ch.rows < n) break;
        lo = ch.last;
        continue;
      }
    } else {
      const raw = await sourceRows(source, plan, { lo, hi: null }, n);
      rows = raw.map((r) => expectedOf(plan, r));
      size = raw.length;
      const last = rows.at(-1);
      range = { lo, hi: raw.length < n || !last ? null : lastKeyParts(plan, raw.at(-1)!) };
    }
    out.chunksRead++;
    rows ??= (await sourceRows(source, plan, range, n)).map((r) => expectedOf(plan, r));
    merge(out, await readRange(plan, target, range, rows, n), o.maxKeys);
    done += size;
    o.progress?.(done);
    if (size < n || range.hi === null) break;
    lo = range.hi;
  }
  return out;
}

/** The key column texts of a source row read in contract column order. */
function lastKeyParts(plan: TablePlan, raw: (string | null)[]): string[] {
  return plan.key.map((k) => raw[plan.contract.columns.findIndex((c) => c.name === k.source)] ?? '');
}
