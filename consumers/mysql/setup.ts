// Opening a MySQL/MariaDB target: the sink's connection (utf8mb4, exact numbers as text, several
// statements per round trip for the set-based path, TLS as configured), and its tables: created
// when missing (createTable), then checked (the target table and its marker tables exist with a
// primary key; the truncate mark has its one row). The session settings are sql.ts sessionSql;
// values become literals that read the same in any sql_mode (literals.ts).
import mysql from 'mysql2/promise';
import type { MysqlTargetConfig } from '../../pipeline/config/mysql.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import { MODE_SAFE_LITERALS, noBackslashEscapes } from './literals.ts';
import { COLLATION_PREFERENCE, createDeletedSql, createTableSql, createTruncatedSql } from './sql.ts';
import { deletedName, truncatedName, type MysqlTable } from './table.ts';

/** The sink's connection; a failure to connect is UnavailableError (retried with the backoff). */
export async function connectMysql(
  cfg: Pick<MysqlTargetConfig, 'name' | 'url' | 'tls'>,
  connectTimeoutMs: number,
): Promise<mysql.Connection> {
  try {
    return await mysql.createConnection({
      uri: cfg.url,
      connectTimeout: connectTimeoutMs,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      charset: 'utf8mb4_unicode_ci',
      enableKeepAlive: true,
      // one round trip for a batch's statements; every value is escaped client-side (sink.ts many)
      multipleStatements: true,
      ...MODE_SAFE_LITERALS,
      ...(cfg.tls
        ? {
            ssl: {
              rejectUnauthorized: cfg.tls.rejectUnauthorized,
              ...(cfg.tls.ca ? { ca: cfg.tls.ca } : {}),
            },
          }
        : {}),
    });
  } catch (err) {
    throw new UnavailableError(`target ${cfg.name}: cannot connect: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The target table and its marker tables, utf8mb4 with the best binary collation the server has. */
export async function createTables(c: mysql.Connection, t: MysqlTable): Promise<void> {
  const [rows] = await c.query<mysql.RowDataPacket[]>(
    `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (?)`,
    [COLLATION_PREFERENCE],
  );
  const have = new Set(rows.map((r) => String(r.name)));
  const collation = COLLATION_PREFERENCE.find((x) => have.has(x)) ?? 'utf8mb4_bin';
  await c.query(createTableSql(t, collation));
  await c.query(createDeletedSql(t, collation));
  for (const s of createTruncatedSql(t, collation)) await c.query(s);
}

/** The target table (with a primary key) and its marker tables must exist. */
export async function checkTables(c: mysql.Connection, t: MysqlTable, target: string): Promise<void> {
  const names = [t.table, deletedName(t), truncatedName(t)];
  const [rows] = await c.query<mysql.RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, SUM(INDEX_NAME = 'PRIMARY') AS pk FROM information_schema.STATISTICS ` +
      `WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) GROUP BY TABLE_NAME`,
    [names],
  );
  const pk = new Map(rows.map((r) => [String(r.t), Number(r.pk) > 0]));
  for (const n of names) {
    if (!pk.get(n)) {
      throw new PgcdcError(`target ${target}: table ${n} is missing or has no primary key`, {
        hint: 'set createTable: true, or create it as `pgcdc check` prints (docs/mysql.md, "Tables")',
      });
    }
  }
  await c.query(createTruncatedSql(t, 'utf8mb4_bin')[1]!); // the mark's one row
}

/**
 * The session must not read backslashes as plain characters (it cannot: sessionSql sets the
 * whole sql_mode, and the literals read the same either way); a server default that does is
 * worth a line, since other clients that escape with backslashes are at risk there.
 */
export function checkSessionModes(modes: Record<string, unknown>, target: string, logger: Logger): void {
  if (noBackslashEscapes(String(modes.session)))
    throw new PgcdcError(`target ${target}: the session's sql_mode still has NO_BACKSLASH_ESCAPES`, {
      hint: 'something on the server (init_connect?) changes the session sql_mode after pgcdc set it; remove that',
    });
  if (noBackslashEscapes(String(modes.global)))
    logger.info(
      { sqlMode: String(modes.global) },
      "the server's sql_mode has NO_BACKSLASH_ESCAPES: the sink's session runs without it, and its literals read the same in both modes",
    );
}
