// The shape of a MySQL target table as the sink's SQL builders see it: the contract's columns and
// key, the bookkeeping columns every row carries (source position, event id, when written; the
// same names as a PostgreSQL target's), and the tables beside it: delete markers and the truncate
// mark. Identifiers are quoted here with backticks, never inlined.
import type { ColumnSpec } from '../../schemas/contract.ts';
import { EVENT_ID, POS_LSN, POS_SEQ, SYNCED_AT } from '../postgres/table.ts';

export { EVENT_ID, POS_LSN, POS_SEQ, SYNCED_AT };
export const DELETED_AT = '_pgcdc_deleted_at';
export const TRUNCATED_AT = '_pgcdc_truncated_at';
/** the truncate mark's key column: its one row has 1 */
export const MARK_ONE = '_pgcdc_table';

export interface MysqlTable {
  table: string;
  columns: ColumnSpec[];
  keyColumns: string[];
}

export const q = (id: string) => `\`${id.replace(/`/g, '``')}\``;

export const deletedName = (t: MysqlTable) => `${t.table}_pgcdc_deleted`;
export const truncatedName = (t: MysqlTable) => `${t.table}_pgcdc_truncated`;

export const columnOf = (t: MysqlTable, name: string): ColumnSpec => t.columns.find((c) => c.name === name)!;
