// ALTER TABLE ... ADD COLUMN at a MySQL/MariaDB target (source.schemaChanges: automatic; called by
// the sink decorator consumers/evolving-sink.ts when events of an evolved contract arrive). The new
// columns are NULL with no default (rows written before hold NULL, as the events written before
// the change say), typed as a created table types them (types.ts). A column the table already has
// is left alone (looked up in information_schema first: MySQL 8 has no ADD COLUMN IF NOT EXISTS),
// so a redelivered batch or a restarted consumer changes nothing. Names quoted with backticks.
import mysql from 'mysql2/promise';
import type { MysqlTargetConfig } from '../../pipeline/config/mysql.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import type { ColumnSpec } from '../../schemas/contract.ts';
import { assertAddable } from '../../schemas/evolution.ts';
import { classifyMysqlError } from './errors.ts';
import { MODE_SAFE_LITERALS } from './literals.ts';
import { q } from './table.ts';
import { mysqlColumnType } from './types.ts';

/** The statement adding one column to `table`. Pure. */
export function addColumnSql(table: string, c: ColumnSpec): string {
  assertAddable(c);
  return `ALTER TABLE ${q(table)} ADD COLUMN ${q(c.name)} ${mysqlColumnType(c, false)} NULL`;
}

/** Adds the columns `cfg.table` lacks, on its own short connection. */
export async function addMysqlColumns(
  cfg: Pick<MysqlTargetConfig, 'name' | 'url' | 'tls'> & { table: string },
  columns: ColumnSpec[],
  connectTimeoutMs: number,
): Promise<void> {
  let c: mysql.Connection | undefined;
  try {
    c = await mysql.createConnection({
      uri: cfg.url,
      connectTimeout: connectTimeoutMs,
      charset: 'utf8mb4_unicode_ci',
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
    c.on('error', () => undefined);
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [cfg.table],
    );
    const have = new Set(rows.map((r) => String(r.name).toLowerCase()));
    for (const col of columns)
      if (!have.has(col.name.toLowerCase())) await c.query(addColumnSql(cfg.table, col));
  } catch (err) {
    const msg = `target ${cfg.name}: adding columns ${columns.map((x) => x.name).join(', ')} to ${cfg.table} failed: ${(err as Error).message}`;
    if (classifyMysqlError(err) === 'transient') throw new UnavailableError(msg, { cause: err });
    throw new PgcdcError(msg, {
      cause: err,
      hint: 'the target user needs the ALTER privilege on the table; or add the columns by hand',
    });
  } finally {
    await c?.end().catch(() => undefined);
  }
}
