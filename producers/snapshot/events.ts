// Snapshot rows -> `op = r` change events. Pure. A chunk's rows are positioned at the chunk's high
// watermark (window.ts snapshotPosition: commit_lsn = its LSN - 1, seq = 0..n-1), so targets
// guarded by (commit_lsn, seq) order them after every change committed before the watermark and
// before every change committed after.
import type { ChangeEvent, ColumnSpec, Row, TableContract } from '../../schemas/contract.ts';
import { decodeColumn, toSqlParam } from '../../schemas/values.ts';
import type { Lsn } from '../../schemas/lsn.ts';

/** A row as the chunk SELECT returns it: PostgreSQL text output per contract column (null = SQL NULL). */
export type RawRow = (string | null)[];

export interface SnapshotRow {
  /** Primary key in text form, as the checkpoint and the chunk query use it. */
  keyText: string;
  key: Row;
  after: Row;
}

export interface SnapshotEventContext {
  contract: TableContract;
  db: string;
  /** Logical name of the pipeline (the topic prefix). */
  name: string;
  version: string;
}

/**
 * The text form of a key, as the checkpoint and the chunk query use it: the value's text for a
 * single-column primary key; a JSON array of the values' texts for a composite one (keyParts).
 */
export function keyTextOf(contract: TableContract, key: Row): string {
  const specs = keySpecs(contract);
  if (specs.length === 0) throw new Error(`${contract.schema}.${contract.table} has no key columns`);
  const parts: string[] = [];
  for (const [column, spec] of specs) {
    const v = key[column];
    if (v === null || v === undefined) throw new Error(`key without a value for ${column}`);
    parts.push(spec ? String(toSqlParam(spec.pgType, v)) : String(v)); // PostgreSQL's input text of any key type
  }
  return parts.length === 1 ? parts[0]! : JSON.stringify(parts);
}

/** Each key column with its spec, worked out once per contract (keyTextOf runs once per row). */
const keySpecsOf = new WeakMap<TableContract, [string, ColumnSpec | undefined][]>();
function keySpecs(contract: TableContract): [string, ColumnSpec | undefined][] {
  let specs = keySpecsOf.get(contract);
  if (!specs) {
    specs = contract.keyColumns.map((k) => [k, contract.columns.find((c) => c.name === k)]);
    keySpecsOf.set(contract, specs);
  }
  return specs;
}

/** keyTextOf's inverse: one text per key column (nulls when the text is not a composite key's). */
export function keyParts(contract: TableContract, keyText: string): (string | null)[] {
  if (contract.keyColumns.length === 1) return [keyText];
  try {
    const parts: unknown = JSON.parse(keyText);
    if (Array.isArray(parts) && parts.length === contract.keyColumns.length)
      return parts.map((p) => (typeof p === 'string' ? p : null));
  } catch {
    // not a composite key's text: compares as unknown (no row)
  }
  return contract.keyColumns.map(() => null);
}

/** Decodes one SELECT row (columns in contract order) the way the assembler decodes pgoutput text. */
export function decodeSnapshotRow(contract: TableContract, raw: RawRow): SnapshotRow {
  const after: Row = {};
  const { columns } = contract;
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    const text = raw[i];
    after[c.name] = text === null || text === undefined ? null : decodeColumn(c, text);
  }
  const key: Row = {};
  for (const k of contract.keyColumns) key[k] = after[k] ?? null;
  return { keyText: keyTextOf(contract, key), key, after };
}

/** Deterministic per (snapshot, row): receivers may de-duplicate on it. */
export function snapshotEventId(snapshotId: string, keyText: string): string {
  return `snap:${snapshotId}:${keyText}`;
}

export function snapshotEvent(
  ctx: SnapshotEventContext,
  snapshotId: string,
  row: SnapshotRow,
  position: { lsn: Lsn; commitLsn: Lsn; seq: bigint; readAtUs: bigint; nowMs: bigint },
): ChangeEvent {
  return {
    before: null,
    after: row.after,
    unchanged: [],
    source: {
      version: ctx.version,
      connector: 'pgcdc',
      name: ctx.name,
      db: ctx.db,
      schema: ctx.contract.schema,
      table: ctx.contract.table,
      lsn: position.lsn,
      commit_lsn: position.commitLsn,
      seq: position.seq,
      tx_id: null,
      ts_us: position.readAtUs,
      snapshot: true,
    },
    op: 'r',
    ts_ms: position.nowMs,
    event_id: snapshotEventId(snapshotId, row.keyText),
  };
}
