// `pgcdc check` for a MySQL/MariaDB target matched by its own key (`mapping.match`,
// consumers/mysql/match-sink.ts): the table has the shape's columns, its own AUTO_INCREMENT
// primary key, a unique index whose only column is the match column, and a collation of that
// column that fits `caseInsensitive` (MariaDB compares by the column's collation); the links table
// exists (or will be created). Reads information_schema only; changes nothing.
import mysql from 'mysql2/promise';
import type { TargetShape } from '../../consumers/mapping/shape.ts';
import {
  createLinksTableSql,
  createMatchedTableSql,
  linksName,
  matchedMysqlTableOf,
  matchTableProblem,
  tableFactsSql,
} from '../../consumers/mysql/match.ts';
import type { MysqlTargetConfig } from '../../pipeline/config/schema.ts';
import { q } from '../../consumers/mysql/table.ts';
import { matchColumnNotNull } from './columns.ts';
import { acceptedTypes } from './mysql.ts';
import { error, errMessage, ok, warn, type CheckResult } from './types.ts';

type Rows = mysql.RowDataPacket[];

export async function checkMysqlMatchedTable(
  t: MysqlTargetConfig,
  shape: TargetShape,
): Promise<CheckResult[]> {
  const id = `target.${t.name}.match`;
  const table = matchedMysqlTableOf(t, shape);
  const match = table.match.column;
  let c: mysql.Connection;
  try {
    c = await mysql.createConnection({ uri: t.url, connectTimeout: 5000, supportBigNumbers: true });
  } catch (err) {
    return [error(id, `cannot connect to the target: ${errMessage(err)}`, `check targets[${t.name}].url`)];
  }
  c.on('error', () => undefined);
  const rows = async (sql: string, values: unknown[]) => (await c.query<Rows>(sql, values))[0];
  try {
    const cols = await rows(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable,
         COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
      [t.table],
    );
    if (cols.length === 0)
      return [
        t.createTable
          ? ok(id, `table ${t.table} will be created with ${table.targetKey} and a unique match key ${match}`)
          : error(
              id,
              `table ${t.table} does not exist and createTable is false`,
              `${createMatchedTableSql(table, 'utf8mb4_bin')};\n${createLinksTableSql(table, 'utf8mb4_bin')};`,
            ),
      ];
    const out: CheckResult[] = [];
    const types = new Map(cols.map((r) => [String(r.name), String(r.type)]));
    const bad = shape.columns.flatMap((col) => {
      const have = types.get(col.name);
      if (!have) return [`${col.name} missing`];
      const accepted = acceptedTypes(col.pgType);
      return accepted.includes(have)
        ? []
        : [`${col.name} is ${have}, the shape gives ${col.sqlType} (type mismatch)`];
    });
    if (bad.length > 0)
      out.push(
        error(
          id,
          `table ${t.table} does not fit the shape: ${bad.join('; ')}`,
          'fix the table or the mapping',
        ),
      );
    const matchCol = cols.find((r) => String(r.name) === match);
    if (matchCol && matchCol.nullable === 'NO') {
      // MODIFY restates the whole column: its type and collation are kept, only NULL changes
      const coll = matchCol.collation === null ? '' : ` COLLATE ${String(matchCol.collation)}`;
      out.push(
        error(
          id,
          matchColumnNotNull(t.table, match),
          `ALTER TABLE ${q(t.table)} MODIFY ${q(match)} ${String(matchCol.columnType)}${coll} NULL;`,
        ),
      );
    }
    const facts = (await rows(tableFactsSql(table).sql, tableFactsSql(table).values)).map((r) => ({
      name: String(r.name),
      collation: r.collation === null ? null : String(r.collation),
      extra: String(r.extra),
      key: String(r.key),
    }));
    const problem = matchTableProblem(table, facts);
    if (problem) out.push(error(id, `table ${t.table}: ${problem}`, 'fix the table (docs/shaping.md)'));
    const unique = await rows(
      `SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
         AND NON_UNIQUE = 0 GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = ? AND MAX(SUB_PART) IS NULL`,
      [t.table, match],
    );
    out.push(
      unique.length > 0
        ? ok(
            id,
            `${match} is unique at ${t.table}${table.match.caseInsensitive ? ' (case-insensitive collation)' : ''}`,
          )
        : error(
            id,
            `the match key ${match} is not unique at ${t.table}: two rows could claim one source row`,
            `ALTER TABLE \`${t.table}\` ADD UNIQUE KEY (\`${match}\`);`,
          ),
    );
    const links = await rows(
      'SELECT 1 AS ok FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [linksName(table)],
    );
    if (links.length === 0)
      out.push(
        t.createTable
          ? warn(id, `table ${linksName(table)} does not exist; pgcdc consume will create it`)
          : error(
              id,
              `table ${linksName(table)} (the links) does not exist`,
              `${createLinksTableSql(table, 'utf8mb4_bin')};`,
            ),
      );
    return out;
  } catch (err) {
    return [error(id, `reading the target catalog failed: ${errMessage(err)}`, 'see the message')];
  } finally {
    await c.end().catch(() => undefined);
  }
}
