// SQL for the MySQL/MariaDB sink, built from the contract. Pure: each builder returns the text with
// `?` placeholders and its values (mysql2 formats them client-side: strings escaped, bigints as
// exact literals), so a batch is one round trip per statement whatever its size.
// Every write is guarded by the source position (_pgcdc_lsn, _pgcdc_seq) stored in the row, so a
// redelivered or replayed event never moves a row backwards. MySQL evaluates the assignments of
// ON DUPLICATE KEY UPDATE left to right, each seeing the columns already assigned: the position
// columns are therefore assigned LAST (seq, then lsn: once seq took the new value, the guard read
// by the lsn assignment reduces to old lsn < new lsn, which is exactly when lsn must change).
// ON DUPLICATE KEY UPDATE also fires on a SECONDARY unique key (another row holding the email):
// the first assignment checks that the row found is the event's own key and otherwise sets the NOT
// NULL _pgcdc_event_id to NULL, an error (strict mode) the sink reads as a secondary-unique
// conflict (errors.ts), never an update of the wrong row.
import type { ChangeEvent, ColumnSpec, Row } from '../../schemas/contract.ts';
import {
  DELETED_AT,
  EVENT_ID,
  MARK_ONE,
  POS_LSN,
  POS_SEQ,
  SYNCED_AT,
  TRUNCATED_AT,
  columnOf,
  deletedName,
  q,
  truncatedName,
  type MysqlTable,
} from './table.ts';
import { mysqlColumnType, toMysqlValue } from './types.ts';

export interface Statement {
  sql: string;
  values: unknown[];
}

const LSN = q(POS_LSN);
const SEQ = q(POS_SEQ);
const EID = q(EVENT_ID);

/** utf8mb4 with a binary, no-pad collation (byte equality like PostgreSQL's C collation) when the server has one. */
export const COLLATION_PREFERENCE = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin'];

/** The session every sink connection runs in: strict, UTC, utf8mb4, READ COMMITTED (no gap locks). */
export function sessionSql(lockWaitSeconds: number): string[] {
  return [
    `SET SESSION sql_mode = 'STRICT_ALL_TABLES,STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'`,
    `SET SESSION time_zone = '+00:00'`,
    `SET NAMES utf8mb4`,
    `SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED`,
    `SET SESSION innodb_lock_wait_timeout = ${Math.max(1, Math.ceil(lockWaitSeconds))}`,
  ];
}

const tableOptions = (collation: string) => `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`;

/** DDL of the target table: the contract's columns (no secondary unique keys), plus bookkeeping. */
export function createTableSql(t: MysqlTable, collation: string): string {
  const cols = t.columns.map(
    (c) =>
      `  ${q(c.name)} ${mysqlColumnType(c, t.keyColumns.includes(c.name))}${c.nullable ? ' NULL' : ' NOT NULL'}`,
  );
  cols.push(
    `  ${LSN} BIGINT UNSIGNED NOT NULL`,
    `  ${SEQ} BIGINT UNSIGNED NOT NULL`,
    `  ${EID} VARCHAR(255) NOT NULL`,
    `  ${q(SYNCED_AT)} DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)`,
    `  PRIMARY KEY (${t.keyColumns.map(q).join(', ')})`,
  );
  return `CREATE TABLE IF NOT EXISTS ${q(t.table)} (\n${cols.join(',\n')}\n) ${tableOptions(collation)}`;
}

/** Delete markers: the key, the delete's position and event id, when applied (see the sink). */
export function createDeletedSql(t: MysqlTable, collation: string): string {
  const keys = t.keyColumns.map((k) => `  ${q(k)} ${mysqlColumnType(columnOf(t, k), true)} NOT NULL`);
  return (
    `CREATE TABLE IF NOT EXISTS ${q(deletedName(t))} (\n` +
    [
      ...keys,
      `  ${LSN} BIGINT UNSIGNED NOT NULL`,
      `  ${SEQ} BIGINT UNSIGNED NOT NULL`,
      `  ${EID} VARCHAR(255) NOT NULL`,
      `  ${q(DELETED_AT)} DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)`,
      `  PRIMARY KEY (${t.keyColumns.map(q).join(', ')})`,
    ].join(',\n') +
    `\n) ${tableOptions(collation)}`
  );
}

/** The truncate mark: one row (position 0 until a truncate), locked shared by every batch. */
export function createTruncatedSql(t: MysqlTable, collation: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${q(truncatedName(t))} (\n` +
      [
        `  ${q(MARK_ONE)} TINYINT NOT NULL PRIMARY KEY CHECK (${q(MARK_ONE)} = 1)`,
        `  ${LSN} BIGINT UNSIGNED NOT NULL`,
        `  ${SEQ} BIGINT UNSIGNED NOT NULL`,
        `  ${EID} VARCHAR(255) NOT NULL`,
        `  ${q(TRUNCATED_AT)} DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)`,
      ].join(',\n') +
      `\n) ${tableOptions(collation)}`,
    `INSERT IGNORE INTO ${q(truncatedName(t))} (${q(MARK_ONE)}, ${LSN}, ${SEQ}, ${EID}) VALUES (1, 0, 0, '')`,
  ];
}

/** The row values of the contract columns `cols` of an event (throws UnrepresentableValueError). */
export function rowValues(cols: ColumnSpec[], row: Row): unknown[] {
  return cols.map((c) => toMysqlValue(c, row[c.name] ?? null));
}

const position = (e: ChangeEvent): unknown[] => [e.source.commit_lsn, e.source.seq, e.event_id];

/** `k IN (?, ?)` or `(k1, k2) IN ((?, ?), (?, ?))` for the given keys (values appended). */
export function keyIn(t: MysqlTable, keys: Row[], values: unknown[], alias = ''): string {
  const col = (k: string) => `${alias}${q(k)}`;
  const specs = t.keyColumns.map((k) => columnOf(t, k));
  const one = specs.length === 1 ? '?' : `(${specs.map(() => '?').join(', ')})`;
  for (const key of keys) for (const c of specs) values.push(toMysqlValue(c, key[c.name] ?? null));
  const lhs = t.keyColumns.length === 1 ? col(t.keyColumns[0]!) : `(${t.keyColumns.map(col).join(', ')})`;
  return `${lhs} IN (${Array<string>(keys.length).fill(one).join(', ')})`;
}

const guardValues = `(${LSN}, ${SEQ}) < (VALUES(${LSN}), VALUES(${SEQ}))`;
const guarded = (col: string, to: string) => `${col} = IF(${guardValues}, ${to}, ${col})`;

/** ON DUPLICATE KEY UPDATE assignments: own-key check first, data, then seq, then lsn (see header). */
function upsertAssignments(t: MysqlTable, dataColumns: string[]): string {
  const sameKey = t.keyColumns.map((k) => `${q(k)} <=> VALUES(${q(k)})`).join(' AND ');
  return [
    `${EID} = IF(${sameKey}, IF(${guardValues}, VALUES(${EID}), ${EID}), NULL)`,
    ...dataColumns.map((c) => guarded(q(c), `VALUES(${q(c)})`)),
    guarded(q(SYNCED_AT), 'CURRENT_TIMESTAMP(6)'),
    guarded(SEQ, `VALUES(${SEQ})`),
    guarded(LSN, `VALUES(${LSN})`),
  ].join(', ');
}

/**
 * One multi-row guarded upsert of full rows (distinct keys; rows behind a delete marker or the
 * truncate mark already left out by the caller). `rows[i]` are the converted values of `events[i]`.
 */
export function multiUpsertSql(t: MysqlTable, events: ChangeEvent[], rows: unknown[][]): Statement {
  const names = [...t.columns.map((c) => c.name), POS_LSN, POS_SEQ, EVENT_ID];
  // one tuple text for every row, values appended in place (the per-row work of a 500-row batch)
  const tuple = `(${names.map(() => '?').join(', ')})`;
  const values: unknown[] = [];
  for (let i = 0; i < events.length; i++) {
    for (const v of rows[i]!) values.push(v);
    const { source, event_id } = events[i]!;
    values.push(source.commit_lsn, source.seq, event_id);
  }
  const data = t.columns.map((c) => c.name).filter((c) => !t.keyColumns.includes(c));
  return {
    sql:
      `INSERT INTO ${q(t.table)} (${names.map(q).join(', ')}) VALUES ${Array<string>(events.length).fill(tuple).join(', ')} ` +
      `ON DUPLICATE KEY UPDATE ${upsertAssignments(t, data)}`,
    values,
  };
}

/**
 * Update only the columns the event carries (the others were unchanged TOAST values the source
 * did not send). 0 affected rows: the row is newer (fine) or missing (the caller finds out).
 */
export function partialUpdateSql(t: MysqlTable, e: ChangeEvent, key: Row): Statement {
  const skip = new Set([...e.unchanged, ...t.keyColumns]);
  const cols = t.columns.filter((c) => !skip.has(c.name));
  const values = rowValues(cols, e.after!);
  const sets = cols.map((c) => `${q(c.name)} = ?`);
  sets.push(`${EID} = ?`, `${q(SYNCED_AT)} = CURRENT_TIMESTAMP(6)`, `${SEQ} = ?`, `${LSN} = ?`);
  values.push(e.event_id, e.source.seq, e.source.commit_lsn);
  const where = keyIn(t, [key], values);
  values.push(e.source.commit_lsn, e.source.seq);
  return {
    sql: `UPDATE ${q(t.table)} SET ${sets.join(', ')} WHERE ${where} AND (${LSN}, ${SEQ}) < (?, ?)`,
    values,
  };
}

/** Partial updates in one statement at most: each CASE is read per row, quadratic in this (measured
 * on MariaDB 10.11, 500 partial updates: 100 per statement 0.71 s, 50 0.51 s, 20 0.64 s, one each 3.5 s). */
export const PARTIALS_PER_STATEMENT = 50;

/**
 * Several partial updates that leave the same columns unchanged, in one single-table UPDATE: each
 * carried column (and the position) set by a `CASE` on the key, every key guarded by its own
 * position in WHERE (read before any assignment, so the order of the assignments does not matter
 * here). Distinct keys. Affected rows below `items.length`: some row was newer or missing (the
 * caller finds out which). Throws UnrepresentableValueError like rowValues.
 */
export function multiPartialUpdateSql(t: MysqlTable, items: { key: Row; event: ChangeEvent }[]): Statement {
  if (items.length === 1) return partialUpdateSql(t, items[0]!.event, items[0]!.key);
  const skip = new Set([...items[0]!.event.unchanged, ...t.keyColumns]);
  const cols = t.columns.filter((c) => !skip.has(c.name));
  const rows = items.map(({ event }) => [...rowValues(cols, event.after!), ...position(event)]);
  const values: unknown[] = [];
  const names = [...cols.map((c) => c.name), POS_LSN, POS_SEQ, EVENT_ID];
  const sets = names.map((name, i) => {
    const whens = items.map(({ key }, r) => {
      const k = keyIn(t, [key], values);
      values.push(rows[r]![i]);
      return `WHEN ${k} THEN ?`;
    });
    return `${q(name)} = CASE ${whens.join(' ')} ELSE ${q(name)} END`;
  });
  sets.push(`${q(SYNCED_AT)} = CURRENT_TIMESTAMP(6)`);
  const where = guardedKeys(t, items, values);
  return { sql: `UPDATE ${q(t.table)} SET ${sets.join(', ')} WHERE ${where}`, values };
}

/** `(key AND (lsn, seq) < (?, ?)) OR ...`: each key older than its event's position (values appended). */
function guardedKeys(t: MysqlTable, items: { key: Row; event: ChangeEvent }[], values: unknown[]): string {
  return items
    .map(({ key, event }) => {
      const k = keyIn(t, [key], values);
      values.push(event.source.commit_lsn, event.source.seq);
      return `(${k} AND (${LSN}, ${SEQ}) < (?, ?))`;
    })
    .join(' OR ');
}

/** Guarded delete of many keys (each at its own position), then their markers (moving forward only). */
export function multiDeleteSql(t: MysqlTable, items: { key: Row; event: ChangeEvent }[]): Statement[] {
  const delValues: unknown[] = [];
  const where = guardedKeys(t, items, delValues);
  const cols = [...t.keyColumns, POS_LSN, POS_SEQ, EVENT_ID];
  const markValues: unknown[] = [];
  const tuples = items.map(({ key, event }) => {
    for (const k of t.keyColumns) markValues.push(toMysqlValue(columnOf(t, k), key[k] ?? null));
    markValues.push(...position(event));
    return `(${cols.map(() => '?').join(', ')})`;
  });
  return [
    { sql: `DELETE FROM ${q(t.table)} WHERE ${where}`, values: delValues },
    {
      sql:
        `INSERT INTO ${q(deletedName(t))} (${cols.map(q).join(', ')}) VALUES ${tuples.join(', ')} ` +
        `ON DUPLICATE KEY UPDATE ${guarded(EID, `VALUES(${EID})`)}, ${guarded(q(DELETED_AT), 'CURRENT_TIMESTAMP(6)')}, ` +
        `${guarded(SEQ, `VALUES(${SEQ})`)}, ${guarded(LSN, `VALUES(${LSN})`)}`,
      values: markValues,
    },
  ];
}

/** The delete markers of these keys: key columns, _pgcdc_lsn, _pgcdc_seq. */
export function markersOfSql(t: MysqlTable, keys: Row[]): Statement {
  const values: unknown[] = [];
  return {
    sql: `SELECT ${[...t.keyColumns.map(q), LSN, SEQ].join(', ')} FROM ${q(deletedName(t))} WHERE ${keyIn(t, keys, values)}`,
    values,
  };
}

/** The truncate mark's position, locked shared: a concurrent truncate waits for this batch. */
export function readMarkSql(t: MysqlTable): string {
  return `SELECT ${LSN}, ${SEQ} FROM ${q(truncatedName(t))} WHERE ${q(MARK_ONE)} = 1 LOCK IN SHARE MODE`;
}

/**
 * Positions of these keys' rows (did a partial update land, or is it newer?); `forUpdate`: locked
 * for this transaction (the rows it updates next), so what is read stays true until it commits.
 */
export function rowPositionsSql(t: MysqlTable, keys: Row[], forUpdate = false): Statement {
  const values: unknown[] = [];
  return {
    sql:
      `SELECT ${[...t.keyColumns.map(q), LSN, SEQ].join(', ')} FROM ${q(t.table)} WHERE ${keyIn(t, keys, values)}` +
      (forUpdate ? ' FOR UPDATE' : ''),
    values,
  };
}

/**
 * A truncate at the event's position P: the mark moves forward to P (never back), delete markers
 * older than P go (the mark covers them), and every row older than P goes.
 */
export function truncateSql(t: MysqlTable, e: ChangeEvent): Statement[] {
  const p = [e.source.commit_lsn, e.source.seq];
  return [
    {
      sql:
        `INSERT INTO ${q(truncatedName(t))} (${q(MARK_ONE)}, ${LSN}, ${SEQ}, ${EID}) VALUES (1, ?, ?, ?) ` +
        `ON DUPLICATE KEY UPDATE ${guarded(EID, `VALUES(${EID})`)}, ${guarded(q(TRUNCATED_AT), 'CURRENT_TIMESTAMP(6)')}, ` +
        `${guarded(SEQ, `VALUES(${SEQ})`)}, ${guarded(LSN, `VALUES(${LSN})`)}`,
      values: position(e),
    },
    { sql: `DELETE FROM ${q(deletedName(t))} WHERE (${LSN}, ${SEQ}) < (?, ?)`, values: p },
    { sql: `DELETE FROM ${q(t.table)} WHERE (${LSN}, ${SEQ}) < (?, ?)`, values: p },
  ];
}

/** Markers that protect nothing any more: the key was written again later, or past the retention. */
export function pruneSql(t: MysqlTable, retentionHours: number): Statement[] {
  const on = t.keyColumns.map((k) => `d.${q(k)} = r.${q(k)}`).join(' AND ');
  const out: Statement[] = [
    {
      sql: `DELETE d FROM ${q(deletedName(t))} AS d JOIN ${q(t.table)} AS r ON ${on} WHERE (r.${LSN}, r.${SEQ}) > (d.${LSN}, d.${SEQ})`,
      values: [],
    },
  ];
  if (retentionHours > 0)
    out.push({
      sql: `DELETE FROM ${q(deletedName(t))} WHERE ${q(DELETED_AT)} < CURRENT_TIMESTAMP(6) - INTERVAL ? SECOND`,
      values: [Math.round(retentionHours * 3600)],
    });
  return out;
}
