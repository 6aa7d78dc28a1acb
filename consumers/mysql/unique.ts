// Secondary unique keys at a MySQL target: which unique indexes the table has (from
// information_schema), and from which source position the row holding an event's values for them
// was written. A row whose unique value is held by a row written from a LATER position is an
// intermediate state its own later event replaces (emails swapped across partitions): the sink
// skips it instead of waiting forever. Column indexes only; a functional or prefix part is
// compared on the whole column (see docs/mysql.md). Pure SQL builders; the sink runs them.
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { POS_LSN, POS_SEQ, columnOf, q, type MysqlTable } from './table.ts';
import { toMysqlValue } from './types.ts';
import type { Statement } from './sql.ts';

/** Unique indexes other than the primary key: one row per column part, in order. */
export const UNIQUE_INDEXES_SQL =
  `SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS ` +
  `WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY' ` +
  `ORDER BY INDEX_NAME, SEQ_IN_INDEX`;

/** index name -> its columns (an index with an expression part is left out: no column to compare). */
export function uniqueIndexesFromRows(rows: { name: string; col: string | null }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const skip = new Set<string>();
  for (const r of rows) {
    if (r.col === null) skip.add(r.name);
    else out.set(r.name, [...(out.get(r.name) ?? []), r.col]);
  }
  for (const name of skip) out.delete(name);
  return out;
}

/**
 * Positions of the other rows holding the same values as `row` for one of `indexes` (a NULL part
 * never collides). Undefined when the row has no value to collide on.
 */
export function holderPositionsSql(
  t: MysqlTable,
  indexes: string[][],
  row: Row,
  key: Row,
): Statement | undefined {
  const values: unknown[] = [];
  const ors: string[] = [];
  for (const cols of indexes) {
    if (cols.some((c) => (row[c] ?? null) === null || !t.columns.some((x) => x.name === c))) continue;
    ors.push(
      `(${cols
        .map((c) => {
          values.push(toMysqlValue(columnOf(t, c), row[c] ?? null));
          return `${q(c)} = ?`;
        })
        .join(' AND ')})`,
    );
  }
  if (ors.length === 0) return undefined;
  const notSelf = t.keyColumns
    .map((k) => {
      values.push(toMysqlValue(columnOf(t, k), key[k] ?? null));
      return `${q(k)} <=> ?`;
    })
    .join(' AND ');
  return {
    sql: `SELECT ${q(POS_LSN)} AS lsn, ${q(POS_SEQ)} AS seq FROM ${q(t.table)} WHERE (${ors.join(' OR ')}) AND NOT (${notSelf})`,
    values,
  };
}

/**
 * The holder check of one table: the unique indexes read once (first needed), then per event the
 * positions of the other rows holding its values. `query` runs a statement on the batch's
 * connection (its transaction sees the batch's own writes).
 */
export class UniqueHolders {
  private indexes: string[][] | undefined;
  constructor(private readonly t: MysqlTable) {}

  /** Does a row written from a LATER position than `e` hold one of e's unique values? */
  async supersede(
    e: { key: Row; event: ChangeEvent },
    query: (st: Statement) => Promise<Record<string, unknown>[]>,
  ): Promise<boolean> {
    const row = e.event.after;
    if (!row) return false;
    if (!this.indexes) {
      const rows = await query({ sql: UNIQUE_INDEXES_SQL, values: [this.t.table] });
      this.indexes = [...uniqueIndexesFromRows(rows as { name: string; col: string | null }[]).values()];
    }
    const st = holderPositionsSql(this.t, this.indexes, row, e.key);
    if (!st) return false;
    const { commit_lsn, seq } = e.event.source;
    return (await query(st)).some((h) => {
      const [lsn, hseq] = [BigInt(String(h.lsn)), BigInt(String(h.seq))];
      return lsn > commit_lsn || (lsn === commit_lsn && hseq > seq);
    });
  }
}
