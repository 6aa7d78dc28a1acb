// Delete markers of a PostgreSQL target. A delete removes the row and with it the position stored
// in the row, so without a trace an older upsert of that key arriving later (a dead letter
// redriven, a replay of part of the topic, an event skipped and retried) would insert it again.
// Every applied delete therefore leaves a marker `(key, position, event id, time)` in the table
// `<table>_pgcdc_deleted` beside the target table, written in the same statement as the delete;
// every insert is guarded by it (nothing at or before a marker's position inserts the key again).
// Markers are pruned once redundant (the key was written again from a later position) or older
// than the target's `deleteMarkerRetentionHours` (see README, "Effectively-once state").
import {
  EVENT_ID,
  POS_LSN,
  POS_SEQ,
  columnSpec,
  qname,
  quoteIdent as quote,
  type TargetTable,
} from './table.ts';

export const DELETED_SUFFIX = '_pgcdc_deleted';
export const DELETED_AT = '_pgcdc_deleted_at';

/** Name (unquoted) of the marker table of a target table. */
export const deletedTableName = (t: TargetTable) => `${t.table}${DELETED_SUFFIX}`;

/** Quoted, schema-qualified name of the marker table. */
export const deletedTable = (t: TargetTable) => `${quote(t.schema)}.${quote(deletedTableName(t))}`;

/** DDL of the marker table: the key columns, the delete's position and event id, when it was applied. */
export function createDeletedTableSql(t: TargetTable): string {
  const keys = t.keyColumns.map((k) => {
    return `  ${quote(k)} ${columnSpec(t, k).sqlType} NOT NULL`;
  });
  return (
    `CREATE TABLE IF NOT EXISTS ${deletedTable(t)} (\n` +
    [
      ...keys,
      `  ${quote(POS_LSN)} bigint NOT NULL`,
      `  ${quote(POS_SEQ)} bigint NOT NULL`,
      `  ${quote(EVENT_ID)} text NOT NULL`,
      `  ${quote(DELETED_AT)} timestamptz NOT NULL DEFAULT clock_timestamp()`,
      `  PRIMARY KEY (${t.keyColumns.map(quote).join(', ')})`,
    ].join(',\n') +
    `\n)`
  );
}

/**
 * A condition on a candidate row (alias `alias`, with the key columns and the position columns)
 * that is false when a marker of its key is at or after its position: such a row was deleted later.
 */
export function notDeletedLater(t: TargetTable, alias: string): string {
  const match = t.keyColumns.map((k) => `d.${quote(k)} = ${alias}.${quote(k)}`).join(' AND ');
  return (
    `NOT EXISTS (SELECT 1 FROM ${deletedTable(t)} AS d WHERE ${match} AND ` +
    `(d.${quote(POS_LSN)}, d.${quote(POS_SEQ)}) >= (${alias}.${quote(POS_LSN)}, ${alias}.${quote(POS_SEQ)}))`
  );
}

/**
 * `INSERT ... SELECT` of markers from `from`, a FROM item aliased `s` with the key columns,
 * _pgcdc_lsn, _pgcdc_seq and _pgcdc_event_id: a key's marker only ever moves forward.
 */
export function insertMarkersSql(t: TargetTable, from: string): string {
  const cols = [...t.keyColumns, POS_LSN, POS_SEQ, EVENT_ID];
  const later = `(m.${quote(POS_LSN)}, m.${quote(POS_SEQ)}) < (EXCLUDED.${quote(POS_LSN)}, EXCLUDED.${quote(POS_SEQ)})`;
  return (
    `INSERT INTO ${deletedTable(t)} AS m (${cols.map(quote).join(', ')}) ` +
    `SELECT ${cols.map((c) => `s.${quote(c)}`).join(', ')} FROM ${from} ` +
    `ON CONFLICT (${t.keyColumns.map(quote).join(', ')}) DO UPDATE SET ` +
    [POS_LSN, POS_SEQ, EVENT_ID].map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`).join(', ') +
    `, ${quote(DELETED_AT)} = clock_timestamp() WHERE ${later}`
  );
}

/**
 * Prunes markers that can no longer protect anything: those whose key was written again from a
 * later position (the row's own position guards it now), and, with a retention, those applied
 * longer ago than that.
 */
export function pruneDeletedSql(t: TargetTable, retentionHours: number | undefined): string[] {
  const target = qname(t);
  const match = t.keyColumns.map((k) => `r.${quote(k)} = d.${quote(k)}`).join(' AND ');
  const statements = [
    `DELETE FROM ${deletedTable(t)} AS d USING ${target} AS r WHERE ${match} AND ` +
      `(r.${quote(POS_LSN)}, r.${quote(POS_SEQ)}) > (d.${quote(POS_LSN)}, d.${quote(POS_SEQ)})`,
  ];
  if (retentionHours !== undefined && retentionHours > 0) {
    statements.push(
      `DELETE FROM ${deletedTable(t)} WHERE ${quote(DELETED_AT)} < clock_timestamp() - interval '1 hour' * ${Number(retentionHours)}`,
    );
  }
  return statements;
}
