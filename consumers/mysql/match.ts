// SQL of a MySQL/MariaDB target that matches rows by its own unique key (`mapping.match`, e.g.
// email) and keeps its own AUTO_INCREMENT primary key (e.g. uid): the MySQL twin of
// consumers/postgres/matched.ts, with the same links table beside the target
// (`<table>_pgcdc_links`: the source key, the target row's key, whether the source row is deleted
// or out of the filter, the source position last applied). Only linked rows, i.e. rows pgcdc
// created or adopted, are ever updated, deleted or soft-deleted. Pure builders (`?` placeholders,
// values formatted client-side by mysql2, as sql.ts).
//
// MySQL specifics:
// - equality of the match key is the match column's collation (there is no index on lower(x) in
//   MariaDB): `caseInsensitive: true` needs a case-insensitive (_ci) collation, which a created
//   table gets; the sink and `pgcdc check` verify it (matchCollationProblem);
// - ON DUPLICATE KEY UPDATE evaluates its assignments left to right, each seeing the columns
//   already assigned: the link's position columns are assigned last (seq, then lsn), as in sql.ts;
//   and it also fires on the links' secondary unique key (the target key): the first assignment
//   checks that the row found is the event's own source key, else sets the NOT NULL event id to
//   NULL, an error the sink reads as a conflict, never a write to another source row's link.
import type { ColumnSpec, Row } from '../../schemas/contract.ts';
import type { TargetShape } from '../mapping/shape.ts';
import { linkKeyColumns } from '../matching/apply.ts';
import { DELETED, LINKS_SUFFIX, TARGET_KEY } from '../postgres/matched.ts';
import type { Statement } from './sql.ts';
import { EVENT_ID, POS_LSN, POS_SEQ, SYNCED_AT, q } from './table.ts';
import { datetime, mysqlColumnType, toMysqlValue } from './types.ts';

export { DELETED, TARGET_KEY };

export interface MatchedMysqlTable {
  table: string;
  /** the mapped columns pgcdc writes (no bookkeeping columns in the target table) */
  columns: ColumnSpec[];
  /** the source key as the links table stores it */
  sourceKey: ColumnSpec[];
  /** the target's own AUTO_INCREMENT primary key column */
  targetKey: string;
  match: { column: string; caseInsensitive: boolean };
  soft: { column: string; type: 'timestamptz' | 'boolean' } | undefined;
}

/** The matched table of a MySQL target whose shape has a match key. */
export function matchedMysqlTableOf(cfg: { table: string }, shape: TargetShape): MatchedMysqlTable {
  const match = shape.match!;
  return {
    table: cfg.table,
    columns: shape.columns,
    sourceKey: linkKeyColumns(shape),
    targetKey: match.targetKey,
    match: { column: match.column, caseInsensitive: match.caseInsensitive },
    soft: shape.softDelete,
  };
}

export const linksName = (t: MatchedMysqlTable) => `${t.table}${LINKS_SUFFIX}`;
const target = (t: MatchedMysqlTable) => q(t.table);
const links = (t: MatchedMysqlTable) => q(linksName(t));
const TK = q(TARGET_KEY);
const DEL = q(DELETED);
const LSN = q(POS_LSN);
const SEQ = q(POS_SEQ);
const EID = q(EVENT_ID);

/** The collation a created table gives the match column. */
export const CASE_INSENSITIVE_COLLATION = 'utf8mb4_unicode_ci';

const tableOptions = (collation: string) => `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`;

/** DDL of a target table pgcdc creates: its own AUTO_INCREMENT key, the mapped columns, the unique (nullable) match key. */
export function createMatchedTableSql(t: MatchedMysqlTable, collation: string): string {
  const cols = t.columns.map((c) => {
    const isMatch = c.name === t.match.column;
    const coll = isMatch && t.match.caseInsensitive ? ` COLLATE ${CASE_INSENSITIVE_COLLATION}` : '';
    const dflt =
      t.soft?.column === c.name ? (t.soft.type === 'boolean' ? ' DEFAULT FALSE' : ' DEFAULT NULL') : '';
    // the match column is nullable: a row gives its value up by setting it to NULL (consumers/matching)
    return `  ${q(c.name)} ${mysqlColumnType(c, isMatch)}${coll}${c.nullable || isMatch ? ' NULL' : ' NOT NULL'}${dflt}`;
  });
  return (
    `CREATE TABLE IF NOT EXISTS ${target(t)} (\n` +
    [
      `  ${q(t.targetKey)} BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY`,
      ...cols,
      `  UNIQUE KEY ${q(`${t.table}_pgcdc_match`)} (${q(t.match.column)})`,
    ].join(',\n') +
    `\n) ${tableOptions(collation)}`
  );
}

export function createLinksTableSql(t: MatchedMysqlTable, collation: string): string {
  const keys = t.sourceKey.map((k) => `  ${q(k.name)} ${mysqlColumnType(k, true)} NOT NULL`);
  return (
    `CREATE TABLE IF NOT EXISTS ${links(t)} (\n` +
    [
      ...keys,
      `  ${TK} BIGINT UNSIGNED NULL`,
      `  ${DEL} BOOLEAN NOT NULL DEFAULT FALSE`,
      `  ${LSN} BIGINT UNSIGNED NOT NULL`,
      `  ${SEQ} BIGINT UNSIGNED NOT NULL`,
      `  ${EID} VARCHAR(255) NOT NULL`,
      `  ${q(SYNCED_AT)} DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)`,
      `  PRIMARY KEY (${t.sourceKey.map((k) => q(k.name)).join(', ')})`,
      `  UNIQUE KEY ${q(`${linksName(t)}_target`)} (${TK})`,
    ].join(',\n') +
    `\n) ${tableOptions(collation)}`
  );
}

function keyWhere(t: MatchedMysqlTable, key: Row, values: unknown[]): string {
  return t.sourceKey
    .map((k) => {
      values.push(toMysqlValue(k, key[k.name] ?? null));
      return `${q(k.name)} = ?`;
    })
    .join(' AND ');
}

/** The link of a source key, locked for this transaction: target_key, deleted, lsn, seq. */
export function linkSql(t: MatchedMysqlTable, key: Row): Statement {
  const values: unknown[] = [];
  const where = keyWhere(t, key, values);
  return {
    sql: `SELECT ${TK} AS target_key, ${DEL} AS deleted, ${LSN} AS lsn, ${SEQ} AS seq FROM ${links(t)} WHERE ${where} FOR UPDATE`,
    values,
  };
}

const guard = `(${LSN}, ${SEQ}) < (VALUES(${LSN}), VALUES(${SEQ}))`;
const guarded = (col: string, to: string) => `${col} = IF(${guard}, ${to}, ${col})`;

/** Writes (or moves forward, never back) the link of a source key. */
export function upsertLinkSql(
  t: MatchedMysqlTable,
  key: Row,
  link: { targetKey: string | null; deleted: boolean },
  pos: { lsn: bigint; seq: bigint; eventId: string },
): Statement {
  const names = [...t.sourceKey.map((k) => k.name), TARGET_KEY, DELETED, POS_LSN, POS_SEQ, EVENT_ID];
  const values = [
    ...t.sourceKey.map((k) => toMysqlValue(k, key[k.name] ?? null)),
    link.targetKey,
    link.deleted ? 1 : 0,
    pos.lsn,
    pos.seq,
    pos.eventId,
  ];
  const sameKey = t.sourceKey.map((k) => `${q(k.name)} <=> VALUES(${q(k.name)})`).join(' AND ');
  const sets = [
    `${EID} = IF(${sameKey}, IF(${guard}, VALUES(${EID}), ${EID}), NULL)`,
    guarded(TK, `VALUES(${TK})`),
    guarded(DEL, `VALUES(${DEL})`),
    guarded(q(SYNCED_AT), 'CURRENT_TIMESTAMP(6)'),
    guarded(SEQ, `VALUES(${SEQ})`),
    guarded(LSN, `VALUES(${LSN})`),
  ];
  return {
    sql: `INSERT INTO ${links(t)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON DUPLICATE KEY UPDATE ${sets.join(', ')}`,
    values,
  };
}

/**
 * Updates the columns the event carries of the target row `targetKey`. Affected rows (the
 * connection counts found rows) 0: the row is gone.
 */
export function updateRowSql(
  t: MatchedMysqlTable,
  row: Row,
  unchanged: readonly string[],
  targetKey: string,
): Statement {
  const cols = t.columns.filter((c) => !unchanged.includes(c.name));
  const values: unknown[] = cols.map((c) => toMysqlValue(c, row[c.name] ?? null));
  const sets = cols.map((c) => `${q(c.name)} = ?`);
  if (sets.length === 0) sets.push(`${q(t.targetKey)} = ${q(t.targetKey)}`); // only: is the row there?
  values.push(targetKey);
  return { sql: `UPDATE ${target(t)} SET ${sets.join(', ')} WHERE ${q(t.targetKey)} = ?`, values };
}

/** Inserts the row; its target key is the statement's insertId (AUTO_INCREMENT). */
export function insertRowSql(t: MatchedMysqlTable, row: Row): Statement {
  return {
    sql: `INSERT INTO ${target(t)} (${t.columns.map((c) => q(c.name)).join(', ')}) VALUES (${t.columns.map(() => '?').join(', ')})`,
    values: t.columns.map((c) => toMysqlValue(c, row[c.name] ?? null)),
  };
}

/** The target row holding a match value (equal in the column's collation), locked (`target_key`). */
export function holderSql(t: MatchedMysqlTable, value: unknown): Statement {
  const col = t.columns.find((c) => c.name === t.match.column)!;
  return {
    sql: `SELECT t.${q(t.targetKey)} AS target_key FROM ${target(t)} AS t WHERE t.${q(t.match.column)} = ? FOR UPDATE`,
    values: [toMysqlValue(col, (value ?? null) as never)],
  };
}

/** The link owning a target row, locked (none: a row the target made itself): deleted, lsn, seq. */
export function ownerSql(t: MatchedMysqlTable, targetKey: string): Statement {
  return {
    sql: `SELECT ${DEL} AS deleted, ${LSN} AS lsn, ${SEQ} AS seq FROM ${links(t)} WHERE ${TK} = ? FOR UPDATE`,
    values: [targetKey],
  };
}

/** Frees the match value of a row whose source row is gone or out of the filter (another row takes it). */
export function releaseMatchSql(t: MatchedMysqlTable, targetKey: string): Statement {
  return {
    sql: `UPDATE ${target(t)} SET ${q(t.match.column)} = NULL WHERE ${q(t.targetKey)} = ?`,
    values: [targetKey],
  };
}

/** The soft-delete mark of a delete committed at `commitTimeUs`: true, or the commit time (a replay writes the same). */
function softMark(t: MatchedMysqlTable, commitTimeUs: bigint): number | string {
  return t.soft!.type === 'boolean' ? 1 : datetime(t.soft!.column, commitTimeUs);
}

/** Removes (or soft-deletes) the target row of a link. */
export function removeRowSql(t: MatchedMysqlTable, targetKey: string, commitTimeUs: bigint): Statement {
  if (!t.soft) return { sql: `DELETE FROM ${target(t)} WHERE ${q(t.targetKey)} = ?`, values: [targetKey] };
  return {
    sql: `UPDATE ${target(t)} SET ${q(t.soft.column)} = ? WHERE ${q(t.targetKey)} = ?`,
    values: [softMark(t, commitTimeUs), targetKey],
  };
}

/**
 * A truncate at position P: every linked row written before P is removed (or soft-deleted), then
 * those links are moved to P (deleted); rows the target made itself stay. Two statements, in order.
 */
export function truncateMatchedSql(
  t: MatchedMysqlTable,
  pos: { lsn: bigint; seq: bigint; eventId: string },
  commitTimeUs: bigint,
): Statement[] {
  const older = `(l.${LSN}, l.${SEQ}) < (?, ?)`;
  const join = `${target(t)} AS t JOIN ${links(t)} AS l ON l.${TK} = t.${q(t.targetKey)}`;
  const remove: Statement = t.soft
    ? {
        sql: `UPDATE ${join} SET t.${q(t.soft.column)} = ? WHERE ${older} AND NOT l.${DEL}`,
        values: [softMark(t, commitTimeUs), pos.lsn, pos.seq],
      }
    : { sql: `DELETE t FROM ${join} WHERE ${older} AND NOT l.${DEL}`, values: [pos.lsn, pos.seq] };
  // the WHERE is read before the assignments: their order does not matter here
  const keep = t.soft ? TK : 'NULL';
  return [
    remove,
    {
      sql:
        `UPDATE ${links(t)} AS l SET ${DEL} = TRUE, ${TK} = ${keep}, ${EID} = ?, ${q(SYNCED_AT)} = CURRENT_TIMESTAMP(6), ` +
        `${SEQ} = ?, ${LSN} = ? WHERE ${older}`,
      values: [pos.eventId, pos.seq, pos.lsn, pos.lsn, pos.seq],
    },
  ];
}

/** The match column's collation and whether the target key is AUTO_INCREMENT (information_schema). */
export function tableFactsSql(t: MatchedMysqlTable): Statement {
  return {
    sql:
      'SELECT COLUMN_NAME AS name, COLLATION_NAME AS collation, EXTRA AS extra, COLUMN_KEY AS `key` FROM information_schema.COLUMNS ' +
      'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME IN (?, ?)',
    values: [t.table, t.match.column, t.targetKey],
  };
}

/**
 * What keeps the table from serving as a matched target, or undefined: the target key must be
 * the AUTO_INCREMENT primary key; the match column's collation decides equality, so
 * `caseInsensitive` needs a _ci collation and a case-sensitive match a _bin or _cs one. Pure.
 */
export function matchTableProblem(
  t: MatchedMysqlTable,
  facts: { name: string; collation: string | null; extra: string; key: string }[],
): string | undefined {
  const key = facts.find((f) => f.name === t.targetKey);
  if (!key || key.key !== 'PRI' || !/auto_increment/i.test(key.extra))
    return `${t.targetKey} is not the AUTO_INCREMENT primary key of ${t.table}`;
  const col = facts.find((f) => f.name === t.match.column);
  if (!col) return `${t.match.column} is not a column of ${t.table}`;
  if (col.collation === null) return undefined; // a number: no collation
  const ci = /_ci$/i.test(col.collation);
  if (t.match.caseInsensitive && !ci)
    return `caseInsensitive needs a case-insensitive collation on ${t.match.column} (it is ${col.collation}); MariaDB compares by the column's collation: ALTER TABLE ${q(t.table)} MODIFY ${q(t.match.column)} ... COLLATE ${CASE_INSENSITIVE_COLLATION}`;
  if (!t.match.caseInsensitive && ci)
    return `${t.match.column} has a case-insensitive collation (${col.collation}): set match.caseInsensitive: true, or give it a _bin collation`;
  return undefined;
}
