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
