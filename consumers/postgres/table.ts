// The shape of a PostgreSQL target table as the sink's SQL builders see it: the contract's columns
// and key, plus the bookkeeping columns every target row carries (the source position it was
// written from, its event id and when it was written). Identifiers are quoted here, never inlined.
import type { ColumnSpec } from '../../schemas/contract.ts';

export const POS_LSN = '_pgcdc_lsn';
export const POS_SEQ = '_pgcdc_seq';
export const EVENT_ID = '_pgcdc_event_id';
export const SYNCED_AT = '_pgcdc_synced_at';

export interface TargetTable {
  schema: string;
  table: string;
  columns: ColumnSpec[];
  keyColumns: string[];
}

export function quoteIdent(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

export const qname = (t: TargetTable) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

/** The contract's spec of one of the table's columns (a key column, say). */
export const columnSpec = (t: TargetTable, name: string): ColumnSpec =>
  t.columns.find((c) => c.name === name)!;

/** An SQL string literal (standard_conforming_strings on: only quotes are doubled). */
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * DDL that makes the contract's enum types exist at the target with at least the contract's
 * labels, in their order (created if missing; labels the target lacks appended): statements to run
 * before the table's CREATE. The type name is the contract's `pgType` (format_type's spelling,
 * quoted where PostgreSQL needs it). Empty when the table has no enum column.
 */
export function enumTypesSql(t: Pick<TargetTable, 'columns'>): string[] {
  const types = new Map<string, string[]>();
  for (const c of t.columns) if (c.enumSymbols) types.set(c.sqlType.replace(/\[\]$/, ''), c.enumSymbols);
  return [...types].flatMap(([name, labels]) => [
    `DO $pgcdc$ BEGIN CREATE TYPE ${name} AS ENUM (); EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $pgcdc$`,
    ...labels.map((l) => `ALTER TYPE ${name} ADD VALUE IF NOT EXISTS ${literal(l)}`),
  ]);
}
