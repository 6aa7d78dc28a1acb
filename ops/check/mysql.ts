// `pgcdc check` for a mysql target: the server answers (MySQL 8 / MariaDB 10.6+), the user has the
// privileges the sink needs, the table and its marker tables have the contract's columns (in a
// type family that holds them), the bookkeeping columns and the key, utf8mb4 text, and what the
// server's global sql_mode means (the sink always runs its own session strict). Each problem
// comes with its fix.
import mysql from 'mysql2/promise';
import { createDeletedSql, createTableSql, createTruncatedSql } from '../../consumers/mysql/sql.ts';
import {
  EVENT_ID,
  POS_LSN,
  POS_SEQ,
  deletedName,
  truncatedName,
  type MysqlTable,
} from '../../consumers/mysql/table.ts';
import { MODE_SAFE_LITERALS, noBackslashEscapes } from '../../consumers/mysql/literals.ts';
import { mysqlColumnType } from '../../consumers/mysql/types.ts';
import type { MysqlTargetConfig } from '../../pipeline/config/schema.ts';
import { redactUrl } from '../../pipeline/observability/logger.ts';
import type { ColumnSpec, PgType, TableContract } from '../../schemas/contract.ts';
import { splitPgType } from '../../schemas/types.ts';
import { error, errMessage, info, ok, warn, type CheckResult } from './types.ts';

/** MySQL DATA_TYPEs that hold each contract type (MariaDB's JSON is a LONGTEXT with a check). */
export function acceptedTypes(pgType: PgType): string[] {
  const { kind, array } = splitPgType(pgType);
  if (array) return ['json', 'longtext'];
  switch (kind) {
    case 'smallint':
      return ['smallint', 'int', 'mediumint', 'bigint', 'decimal'];
    case 'integer':
      return ['int', 'bigint', 'decimal'];
    case 'bigint':
      return ['bigint', 'decimal'];
    case 'real':
      return ['float', 'double'];
    case 'double precision':
      return ['double'];
    case 'numeric':
      return ['decimal'];
    case 'text':
    case 'varchar':
    case 'char':
    case 'citext':
    case 'interval':
    case 'uuid':
    case 'inet':
    case 'cidr':
    case 'enum':
      return ['longtext', 'mediumtext', 'text', 'varchar', 'char', ...(kind === 'enum' ? ['enum'] : [])];
    case 'boolean':
      return ['tinyint', 'bit'];
    case 'json':
    case 'jsonb':
      return ['json', 'longtext'];
    case 'bytea':
      return ['longblob', 'mediumblob', 'blob', 'varbinary', 'binary'];
    case 'date':
      return ['date'];
    case 'time':
      return ['time'];
    case 'timestamp':
    case 'timestamptz':
      return ['datetime'];
    default:
      return kind satisfies never;
  }
}

const REQUIRED_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

interface Col {
  name: string;
  type: string;
  charset: string | null;
  key: string;
}

export async function checkMysqlTarget(
  t: MysqlTargetConfig,
  contract: TableContract,
): Promise<CheckResult[]> {
  const id = (what: string) => `target.${t.name}.${what}`;
  let c: mysql.Connection;
  try {
    c = await mysql.createConnection({
      uri: t.url,
      connectTimeout: 5000,
      supportBigNumbers: true,
      ...MODE_SAFE_LITERALS,
    });
  } catch (err) {
    return [
      error(
        id('connect'),
        `target ${t.name}: cannot connect to ${redactUrl(t.url)}: ${errMessage(err)}`,
        `check targets[${t.name}].url (user, password from the environment, host, port, database) and that the server runs`,
      ),
    ];
  }
  c.on('error', () => undefined);
  const out: CheckResult[] = [];
  const rows = async (sql: string, values: unknown[] = []) =>
    (await c.query<mysql.RowDataPacket[]>(sql, values))[0];
  try {
    const [v] = await rows('SELECT VERSION() AS v, @@GLOBAL.sql_mode AS mode, DATABASE() AS db');
    const version = String(v?.v);
    out.push(ok(id('connect'), `connected to ${redactUrl(t.url)} (${version})`));
    const maria = /mariadb/i.test(version);
    const [major = 0, minor = 0] = version.split('.').map(Number);
    if (maria ? major * 100 + minor < 1006 : major < 8)
      out.push(
        warn(
          id('version'),
          `${version} is older than MariaDB 10.6 / MySQL 8, which pgcdc is tested with`,
          'upgrade the server',
        ),
      );
    const mode = String(v?.mode).split(',');
    if (!mode.includes('STRICT_TRANS_TABLES') && !mode.includes('STRICT_ALL_TABLES'))
      out.push(
        warn(
          id('sql_mode'),
          `the server's global sql_mode is not strict (${String(v?.mode) || 'empty'}): pgcdc's own session is strict, but other writers may store truncated values`,
          "SET GLOBAL sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION' (and in my.cnf)",
        ),
      );
    else
      out.push(ok(id('sql_mode'), `global sql_mode is strict; pgcdc's session sets its own strict mode too`));
    if (noBackslashEscapes(String(v?.mode)))
      out.push(
        warn(
          id('sql_mode.backslashes'),
          "the server's global sql_mode has NO_BACKSLASH_ESCAPES: pgcdc handles it (its sessions run without it, and its literals read the same in both modes), but clients that escape quotes with a backslash (\\') are open to SQL injection here",
          "remove NO_BACKSLASH_ESCAPES: SET GLOBAL sql_mode = REPLACE(@@GLOBAL.sql_mode, 'NO_BACKSLASH_ESCAPES', '') (and in my.cnf), unless every client knows",
        ),
      );
    out.push(...(await checkPrivileges(rows, t, id)));
    out.push(...(await checkTables(rows, t, contract, id)));
  } catch (err) {
    out.push(
      error(
        id('query'),
        `target ${t.name}: ${errMessage(err)}`,
        'grant the user SELECT on information_schema (default) and retry',
      ),
    );
  } finally {
    await c.end().catch(() => undefined);
  }
  return out;
}

type Rows = (sql: string, values?: unknown[]) => Promise<mysql.RowDataPacket[]>;

async function checkPrivileges(rows: Rows, t: MysqlTargetConfig, id: (w: string) => string) {
  const held = new Set<string>();
  const [who] = await rows('SELECT CURRENT_USER() AS u');
  const [user, host] = String(who?.u).split('@');
  const grantee = `'${user}'@'${host}'`;
  for (const sql of [
    'SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?',
    'SELECT PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = DATABASE()',
    'SELECT PRIVILEGE_TYPE AS p FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
  ])
    for (const r of await rows(sql, [grantee, t.table])) held.add(String(r.p));
  const need = [...REQUIRED_PRIVILEGES, ...(t.createTable ? ['CREATE'] : [])];
  const missing = need.filter((p) => !held.has(p));
  if (missing.length === 0) return [ok(id('privileges'), `${grantee} may ${need.join(', ')}`)];
  return [
    error(
      id('privileges'),
      `${grantee} lacks ${missing.join(', ')} on the target database (the sink needs ${need.join(', ')}; roles are not looked at)`,
      `GRANT ${missing.join(', ')} ON \`<database>\`.* TO ${grantee};`,
    ),
  ];
}

async function checkTables(
  rows: Rows,
  t: MysqlTargetConfig,
  contract: TableContract,
  id: (w: string) => string,
) {
  const table: MysqlTable = { table: t.table, columns: contract.columns, keyColumns: contract.keyColumns };
  const out: CheckResult[] = [];
  const colsOf = async (name: string): Promise<Col[]> =>
    (
      await rows(
        'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_SET_NAME AS charset, COLUMN_KEY AS `key` FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
        [name],
      )
    ).map((r) => ({
      name: String(r.name),
      type: String(r.type),
      charset: r.charset === null ? null : String(r.charset),
      key: String(r.key),
    }));
  const cols = await colsOf(t.table);
  const ddl = [
    createTableSql(table, 'utf8mb4_nopad_bin'),
    createDeletedSql(table, 'utf8mb4_nopad_bin'),
    ...createTruncatedSql(table, 'utf8mb4_nopad_bin'),
  ];
  if (cols.length === 0) {
    return [
      t.createTable
        ? warn(
            id('table'),
            `table ${t.table} does not exist; pgcdc consume will create it (createTable: true)`,
          )
        : error(
            id('table'),
            `table ${t.table} does not exist and createTable is false`,
            `${ddl.join(';\n')};`,
          ),
    ];
  }
  const problems: string[] = [];
  const fixes: string[] = [];
  const byName = new Map(cols.map((x) => [x.name, x]));
  const expect = (c: ColumnSpec) => acceptedTypes(c.pgType);
  for (const c of contract.columns) {
    const have = byName.get(c.name);
    if (!have) {
      problems.push(`${c.name} missing`);
      fixes.push(
        `ADD COLUMN \`${c.name}\` ${mysqlColumnType(c, false)}${c.nullable ? ' NULL' : ' NOT NULL'}`,
      );
    } else if (!expect(c).includes(have.type))
      problems.push(
        `${c.name} is ${have.type}, the contract's ${c.sqlType} needs one of ${expect(c).join('/')}`,
      );
  }
  for (const [name, types] of [
    [POS_LSN, ['bigint']],
    [POS_SEQ, ['bigint']],
    [EVENT_ID, ['varchar', 'text', 'char']],
  ] as const) {
    const have = byName.get(name);
    if (!have) {
      problems.push(`${name} missing`);
      fixes.push(
        `ADD COLUMN \`${name}\` ${name === EVENT_ID ? "VARCHAR(255) NOT NULL DEFAULT ''" : 'BIGINT UNSIGNED NOT NULL DEFAULT 0'}`,
      );
    } else if (!(types as readonly string[]).includes(have.type))
      problems.push(`${name} is ${have.type}, must be ${types.join('/')}`);
  }
  const pk = cols.filter((x) => x.key === 'PRI').map((x) => x.name);
  if (pk.join(',') !== contract.keyColumns.join(','))
    problems.push(
      `primary key is (${pk.join(', ') || 'none'}), the contract's key is (${contract.keyColumns.join(', ')})`,
    );
  if (problems.length)
    out.push(
      error(
        id('columns'),
        `table ${t.table} does not fit the events: ${problems.join('; ')}`,
        fixes.length
          ? `ALTER TABLE \`${t.table}\` ${fixes.join(', ')};`
          : `fix ${t.table} (or drop it and let createTable recreate it)`,
      ),
    );
  else
    out.push(
      ok(
        id('columns'),
        `table ${t.table} has the ${contract.columns.length} contract columns, the bookkeeping ones and the key`,
      ),
    );
  const notUtf8mb4 = cols
    .filter((x) => x.charset !== null && x.charset !== 'utf8mb4')
    .map((x) => `${x.name} (${x.charset})`);
  if (notUtf8mb4.length)
    out.push(
      error(
        id('charset'),
        `columns ${notUtf8mb4.join(', ')} are not utf8mb4: 4-byte characters (emoji) would be refused`,
        `ALTER TABLE \`${t.table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;`,
      ),
    );
  else out.push(ok(id('charset'), `text columns of ${t.table} are utf8mb4`));
  for (const [name, sql] of [
    [deletedName(table), ddl[1]!],
    [truncatedName(table), `${ddl[2]!};\n${ddl[3]!}`],
  ] as const) {
    if ((await colsOf(name)).length === 0)
      out.push(
        t.createTable
          ? warn(id('markers'), `table ${name} does not exist; pgcdc consume will create it`)
          : error(id('markers'), `table ${name} (delete markers / truncate mark) does not exist`, `${sql};`),
      );
  }
  if (
    cols.some(
      (x) => x.name.startsWith('_pgcdc') === false && !contract.columns.some((c) => c.name === x.name),
    )
  )
    out.push(
      info(
        id('extra_columns'),
        `table ${t.table} has columns outside the contract; pgcdc leaves them alone (they need a default)`,
      ),
    );
  return out;
}
