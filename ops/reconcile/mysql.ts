// The TargetReader of a MySQL/MariaDB target (scan.ts): range hashes of a canonical text form both
// servers print alike (mysql-hash.ts), where the table's column types allow it, so a chunk that
// agrees is never transferred; a chunk that differs (or every chunk of a table that cannot be
// hashed) is read, one short statement per page in key order on the primary key (`key > last
// ORDER BY key LIMIT n`, autocommit, READ COMMITTED: no lock, no long snapshot), and compared value
// by value with the mapped source rows after mysql-values.ts turned them back into domain values. Key bounds come from the source (PostgreSQL
// text, as the sink writes them); a text key ordered differently by the target's collation than by
// the source's "C" order can only make a row a suspect, which the settle step reads again by key.
// A matched target (mapping.match) is read through its links table, keyed by the source key (each
// link joined to the target row it names, as postgres.ts does): rows without a link are never read.
// Repair's one write here: foreign rows removed by the delete policy (with --include-foreign).
import mysql from 'mysql2/promise';
import type { MysqlTargetConfig } from '../../pipeline/config/schema.ts';
import { UnavailableError } from '../../pipeline/errors.ts';
import { MODE_SAFE_LITERALS } from '../../consumers/mysql/literals.ts';
import { POS_LSN, q } from '../../consumers/mysql/table.ts';
import { LINKS_SUFFIX, TARGET_KEY } from '../../consumers/postgres/matched.ts';
import type { TablePlan } from './plan.ts';
import type { KeyRange } from './postgres.ts';
import { domainOfMysql, keyTextOfMysql, mysqlKeyParam, type MysqlValue } from './mysql-values.ts';
import { keyPartsOf, keyTextOf, type TargetRow } from './rows.ts';
import type { ReconcileDeps } from './deps.ts';
import type { TargetReader } from './scan.ts';
import { mysqlRowHash, unhashable, type MysqlFlavor } from './mysql-hash.ts';

type Conn = mysql.Connection;

/** `(k1, k2)` or `k1` of the target's key columns. */
export function keyExpr(plan: TablePlan): string {
  const cols = plan.key.map((k) => `x.${q(k.target)}`);
  return cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`;
}

export function keyParams(plan: TablePlan, parts: string[], values: unknown[]): string {
  const ps = plan.key.map((k, i) => {
    values.push(mysqlKeyParam(k.spec, parts[i]!));
    return '?';
  });
  return ps.length === 1 ? ps[0]! : `(${ps.join(', ')})`;
}

/**
 * What a target row is read from: the target table (x), or for a matched target its links table
 * (x: the source key, the position) joined to the linked target row (t).
 */
export function targetFrom(plan: TablePlan): { from: string; row: string } {
  const m = plan.shape.match;
  if (!m) return { from: `${q(plan.at.table)} AS x`, row: 'x' };
  return {
    from: `${q(plan.at.table + LINKS_SUFFIX)} AS x LEFT JOIN ${q(plan.at.table)} AS t ON t.${q(m.targetKey)} = x.${q(TARGET_KEY)}`,
    row: 't',
  };
}

/**
 * Whether a target row is absent for the source: soft-deleted; at a matched target also its row
 * gone. A deleted link whose row is live again (revived by hand) counts as live: an extra row.
 */
export function removedSql(plan: TablePlan): string {
  const sd = plan.softDelete;
  const { row } = targetFrom(plan);
  const soft = !sd
    ? 'false'
    : sd.type === 'boolean'
      ? `(${row}.${q(sd.column)} IS TRUE)`
      : `(${row}.${q(sd.column)} IS NOT NULL)`;
  const m = plan.shape.match;
  return m ? `(t.${q(m.targetKey)} IS NULL OR ${soft})` : soft;
}

function select(plan: TablePlan): string {
  const { from, row } = targetFrom(plan);
  const cols = [
    ...plan.key.map((k) => `x.${q(k.target)}`),
    ...plan.columns.map((c) => `${row}.${q(c.name)}`),
  ];
  return `SELECT ${cols.join(', ')}, ${removedSql(plan)} AS removed, x.${q(POS_LSN)} AS position FROM ${from}`;
}

function toTargetRow(plan: TablePlan, raw: MysqlValue[]): TargetRow {
  const n = plan.key.length;
  const row: TargetRow['row'] = {};
  plan.columns.forEach((c, i) => (row[c.name] = domainOfMysql(c.pgType, raw[n + i] ?? null)));
  const keyParts = plan.key.map((k, i) => keyTextOfMysql(k.spec, raw[i] ?? null));
  const p = raw[n + plan.columns.length + 1];
  // BIGINT UNSIGNED: a string with reconcile's connection options (bigNumberStrings)
  const position = typeof p === 'string' || typeof p === 'number' || typeof p === 'bigint' ? BigInt(p) : null;
  return {
    key: keyTextOf(keyParts),
    row,
    removed: Number(raw[n + plan.columns.length]) === 1,
    owned: position !== null,
    position,
  };
}

async function rows(c: Conn, plan: TablePlan, range: KeyRange, limit: number) {
  const values: unknown[] = [];
  const conds = ['true'];
  if (range.lo) conds.push(`${keyExpr(plan)} > ${keyParams(plan, range.lo, values)}`);
  if (range.hi) conds.push(`${keyExpr(plan)} <= ${keyParams(plan, range.hi, values)}`);
  values.push(limit);
  const order = plan.key.map((k) => `x.${q(k.target)}`).join(', ');
  const [res] = await c.query<mysql.RowDataPacket[]>({
    sql: `${select(plan)} WHERE ${conds.join(' AND ')} ORDER BY ${order} LIMIT ?`,
    values,
    rowsAsArray: true,
  });
  const raws = res as unknown as MysqlValue[][];
  const last = raws.at(-1);
  return {
    rows: raws.map((r) => toTargetRow(plan, r)),
    last: last ? plan.key.map((k, i) => keyTextOfMysql(k.spec, last[i] ?? null)) : null,
  };
}

async function rowsByKeys(c: Conn, plan: TablePlan, keys: string[][]): Promise<TargetRow[]> {
  if (keys.length === 0) return [];
  const values: unknown[] = [];
  const list = keys.map((k) => keyParams(plan, k, values)).join(', ');
  const [res] = await c.query<mysql.RowDataPacket[]>({
    sql: `${select(plan)} WHERE ${keyExpr(plan)} IN (${list})`,
    values,
    rowsAsArray: true,
  });
  return (res as unknown as MysqlValue[][]).map((r) => toTargetRow(plan, r));
}

/** WHERE of a key range at the target (live rows only, for hashing). */
function rangeWhere(plan: TablePlan, range: KeyRange, values: unknown[]): string {
  const conds = [`NOT ${removedSql(plan)}`];
  if (range.lo) conds.push(`${keyExpr(plan)} > ${keyParams(plan, range.lo, values)}`);
  if (range.hi) conds.push(`${keyExpr(plan)} <= ${keyParams(plan, range.hi, values)}`);
  return conds.join(' AND ');
}

/** Rows and hash of a key range in the canonical form of mysql-hash.ts (live rows only). */
async function rangeHash(c: Conn, plan: TablePlan, flavor: MysqlFlavor, range: KeyRange) {
  const values: unknown[] = [];
  const keys = plan.key.map((k, i) => `x.${q(k.target)} AS k${i}`).join(', ');
  const order = plan.key.map((_, i) => `k${i}`).join(', ');
  const [res] = await c.query<mysql.RowDataPacket[]>({
    sql:
      `SELECT COUNT(*) AS n, MD5(GROUP_CONCAT(h ORDER BY ${order} SEPARATOR '')) AS hash FROM ` +
      `(SELECT ${keys}, ${mysqlRowHash(plan, flavor, (name) => `x.${q(name)}`)} AS h ` +
      `FROM ${q(plan.at.table)} AS x WHERE ${rangeWhere(plan, range, values)}) AS r`,
    values,
  });
  const row = res[0] as { n: string | number; hash: string | null };
  return { rows: Number(row.n), hash: row.hash };
}

/** The collations of the target's key columns (information_schema; NULL for a column without one). */
async function keyCollations(c: Conn, plan: TablePlan): Promise<Map<string, string | null>> {
  const [res] = await c.query<mysql.RowDataPacket[]>({
    sql:
      'SELECT COLUMN_NAME AS name, COLLATION_NAME AS collation FROM information_schema.COLUMNS ' +
      'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME IN (?)',
    values: [plan.at.table, plan.key.map((k) => k.target)],
  });
  return new Map(res.map((r) => [String(r.name), r.collation === null ? null : String(r.collation)]));
}

/** The reader of one connection; range hashes where the table's columns allow them (mysql-hash.ts). */
export function mysqlTargetReader(c: Conn, flavor: MysqlFlavor): TargetReader {
  return {
    rangeHash: (plan, range) => rangeHash(c, plan, flavor, range),
    hashable: async (plan) =>
      plan.sqlHashes && unhashable(plan, flavor, await keyCollations(c, plan)) === undefined,
    rows: (plan, range, limit) => rows(c, plan, range, limit),
    rowsByKeys: (plan, keys) => rowsByKeys(c, plan, keys),
  };
}

/** MariaDB or MySQL: MariaDB keeps JSON text as written, MySQL rewrites it (mysql-hash.ts). */
export async function flavorOf(c: Conn): Promise<MysqlFlavor> {
  const [res] = await c.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(String((res[0] as { v: unknown }).v)) ? 'mariadb' : 'mysql';
}

/** A connection to the target in reconcile's settings (UTC, exact numbers, JSON as text), for `fn`. */
export async function withMysqlTarget<T>(
  target: MysqlTargetConfig,
  connectTimeoutMs: number,
  fn: (c: Conn) => Promise<T>,
): Promise<T> {
  let c: Conn;
  try {
    c = await mysql.createConnection({
      uri: target.url,
      connectTimeout: connectTimeoutMs,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      charset: 'utf8mb4_unicode_ci',
      jsonStrings: true,
      // literals that read the same in any sql_mode (a server default may have NO_BACKSLASH_ESCAPES)
      ...MODE_SAFE_LITERALS,
      ...(target.tls
        ? {
            ssl: {
              rejectUnauthorized: target.tls.rejectUnauthorized,
              ...(target.tls.ca ? { ca: target.tls.ca } : {}),
            },
          }
        : {}),
    });
  } catch (err) {
    throw new UnavailableError(`target ${target.name}: cannot connect: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    await c.query(`SET SESSION time_zone = '+00:00'`);
    await c.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    // a chunk's row hashes are concatenated (mysql-hash.ts): 32 characters a row
    await c.query('SET SESSION group_concat_max_len = 1073741824');
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Foreign rows (no source position) of these keys deleted or soft-deleted by the delete policy. */
export async function removeForeignMysql(
  deps: ReconcileDeps,
  target: MysqlTargetConfig,
  plan: TablePlan,
  keys: string[],
): Promise<number> {
  const values: unknown[] = [];
  const list = keys.map((k) => keyParams(plan, keyPartsOf(plan, k), values)).join(', ');
  const where = `${keyExpr(plan)} IN (${list}) AND x.${q(POS_LSN)} IS NULL`;
  const sd = plan.softDelete;
  const sql = sd
    ? `UPDATE ${q(plan.at.table)} AS x SET x.${q(sd.column)} = ${sd.type === 'boolean' ? 'true' : 'UTC_TIMESTAMP(6)'} WHERE ${where}`
    : `DELETE x FROM ${q(plan.at.table)} AS x WHERE ${where}`;
  return withMysqlTarget(target, deps.config.connections.connectTimeoutMs, async (c) => {
    const [r] = await c.query<mysql.ResultSetHeader>({ sql, values });
    return r.affectedRows;
  });
}
