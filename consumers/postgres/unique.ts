// Secondary unique keys at a PostgreSQL target: which row holds the value an event collides with,
// and from which source position it was written. A unique key is a unique index, whether a
// constraint owns it (`UNIQUE (email)`) or not (`CREATE UNIQUE INDEX ... (lower(email))`): both
// are read from pg_index, their key columns or expressions as the catalog prints them, plus the
// predicate of a partial index. Pure SQL builders; the sink runs them.
import type { Row } from '../../schemas/contract.ts';
import { toSqlParam } from '../../schemas/values.ts';
import { POS_LSN, POS_SEQ, columnSpec, qname, quoteIdent, type TargetTable } from './table.ts';

/** A unique index of the target table: its key parts (column names or expressions) and predicate. */
export interface UniqueIndex {
  /** SQL of each key part, as pg_get_indexdef prints it (a quoted column name or an expression) */
  parts: string[];
  /** SQL of the partial index's WHERE, or null */
  predicate: string | null;
}

/**
 * The unique index named in a unique violation (the constraint name PostgreSQL reports is the
 * index's name in both forms): one row per key part, in order. $1 = index name, $2 = table.
 */
export const UNIQUE_INDEX_SQL =
  `SELECT pg_get_indexdef(i.indexrelid, k.n, true) AS part, pg_get_expr(i.indpred, i.indrelid, true) AS predicate ` +
  `FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid ` +
  `CROSS JOIN LATERAL generate_series(1, i.indnkeyatts::int) AS k(n) ` +
  `WHERE i.indisunique AND c.relname = $1 AND i.indrelid = to_regclass($2) AND c.relnamespace = ` +
  `(SELECT relnamespace FROM pg_class WHERE oid = to_regclass($2)) ORDER BY k.n`;

export function uniqueIndexFromRows(
  rows: { part: string; predicate: string | null }[],
): UniqueIndex | undefined {
  if (rows.length === 0) return undefined;
  return { parts: rows.map((r) => r.part), predicate: rows[0]!.predicate };
}

/**
 * Position of the other row whose key parts of `index` equal those of `row` (the event's new row,
 * not in the table). The parts are evaluated for `row` in a subquery whose only FROM item carries
 * the row's values under the table's column names, so an expression like lower(email) means the
 * same there as on the table.
 */
export function holderPositionSql(
  t: TargetTable,
  index: UniqueIndex,
  row: Row,
  key: Row,
): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const candidate = t.columns.map((c) => {
    values.push(toSqlParam(c.pgType, row[c.name] ?? null));
    return `$${values.length}::${c.sqlType} AS ${quoteIdent(c.name)}`;
  });
  const notSelf = t.keyColumns
    .map((k) => {
      values.push(toSqlParam(columnSpec(t, k).pgType, key[k] ?? null));
      return `${quoteIdent(k)} = $${values.length}`;
    })
    .join(' AND ');
  const parts = index.parts.join(', ');
  const text =
    `SELECT ${quoteIdent(POS_LSN)}::text AS lsn, ${quoteIdent(POS_SEQ)}::text AS seq FROM ${qname(t)} ` +
    `WHERE ROW(${parts}) = (SELECT ${parts} FROM (SELECT ${candidate.join(', ')}) AS candidate) ` +
    `AND NOT (${notSelf})${index.predicate ? ` AND (${index.predicate})` : ''}`;
  return { text, values };
}
