// The truncate mark of a PostgreSQL target. A TRUNCATE at the source reaches the target as one
// event at position P (schemas/truncate.ts), on one partition, while the table's rows travel on
// all partitions: a row event older than P may arrive after it (another partition lagging, a dead
// letter redriven, a replay). So the truncate is applied by position, which makes it commutative
// with every row event: `DELETE FROM <table> WHERE (_pgcdc_lsn, _pgcdc_seq) < P` plus a durable
// mark "truncated at P" in `<table>_pgcdc_truncated` (one row, only ever moving forward), written
// in the same statement. Every insert respects the mark (nothing at or before P inserts a row
// again), a newer event lands. Delete markers older than P protect nothing any more and go too.
import { deletedTable } from './deleted.ts';
import { EVENT_ID, POS_LSN, POS_SEQ, qname, quoteIdent as quote, type TargetTable } from './table.ts';
import type { ChangeEvent } from '../../schemas/contract.ts';

export const TRUNCATED_SUFFIX = '_pgcdc_truncated';
export const TRUNCATED_AT = '_pgcdc_truncated_at';
/** The mark table's key: one row per target table (always true). */
const ONE = '_pgcdc_table';

/** Name (unquoted) of the truncate-mark table of a target table. */
export const truncatedTableName = (t: TargetTable) => `${t.table}${TRUNCATED_SUFFIX}`;

/** Quoted, schema-qualified name of the truncate-mark table. */
export const truncatedTable = (t: TargetTable) => `${quote(t.schema)}.${quote(truncatedTableName(t))}`;

/** DDL of the truncate-mark table: at most one row, the position of the latest truncate applied. */
export function createTruncatedTableSql(t: TargetTable): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${truncatedTable(t)} (\n` +
    [
      `  ${quote(ONE)} boolean PRIMARY KEY DEFAULT true CHECK (${quote(ONE)})`,
      `  ${quote(POS_LSN)} bigint NOT NULL`,
      `  ${quote(POS_SEQ)} bigint NOT NULL`,
      `  ${quote(EVENT_ID)} text NOT NULL`,
      `  ${quote(TRUNCATED_AT)} timestamptz NOT NULL DEFAULT clock_timestamp()`,
    ].join(',\n') +
    `\n)`
  );
}

/**
 * A condition on a candidate row (alias `alias`, with the position columns) that is false when the
 * table was truncated at or after its position: such a row was removed later.
 */
export function notTruncatedLater(t: TargetTable, alias: string): string {
  return (
    `NOT EXISTS (SELECT 1 FROM ${truncatedTable(t)} AS tr WHERE ` +
    `(tr.${quote(POS_LSN)}, tr.${quote(POS_SEQ)}) >= (${alias}.${quote(POS_LSN)}, ${alias}.${quote(POS_SEQ)}))`
  );
}

/**
 * Applies a truncate at the event's position P: removes every row older than P, moves the mark
 * forward to P (never back) and drops delete markers older than P, in one statement. Its row count
 * is the number of target rows removed.
 */
export function truncateSql(t: TargetTable, e: ChangeEvent): { text: string; values: unknown[] } {
  const [lsn, seq, id] = [POS_LSN, POS_SEQ, EVENT_ID].map(quote) as [string, string, string];
  const p = `($1::bigint, $2::bigint)`;
  const text =
    `WITH mark AS (INSERT INTO ${truncatedTable(t)} AS m (${quote(ONE)}, ${lsn}, ${seq}, ${id}) ` +
    `VALUES (true, $1::bigint, $2::bigint, $3::text) ON CONFLICT (${quote(ONE)}) DO UPDATE SET ` +
    `${lsn} = EXCLUDED.${lsn}, ${seq} = EXCLUDED.${seq}, ${id} = EXCLUDED.${id}, ${quote(TRUNCATED_AT)} = clock_timestamp() ` +
    `WHERE (m.${lsn}, m.${seq}) < (EXCLUDED.${lsn}, EXCLUDED.${seq})), ` +
    `markers AS (DELETE FROM ${deletedTable(t)} AS d WHERE (d.${lsn}, d.${seq}) < ${p}) ` +
    `DELETE FROM ${qname(t)} AS t WHERE (t.${lsn}, t.${seq}) < ${p}`;
  return { text, values: [e.source.commit_lsn.toString(), e.source.seq.toString(), e.event_id] };
}

/** Was the table truncated at or after this position? (`$lsnParam`, `$seqParam`: bigint parameters) */
export function truncatedLaterSql(t: TargetTable, lsnParam: string, seqParam: string): string {
  return `SELECT 1 FROM ${truncatedTable(t)} AS tr WHERE (tr.${quote(POS_LSN)}, tr.${quote(POS_SEQ)}) >= (${lsnParam}::bigint, ${seqParam}::bigint)`;
}
