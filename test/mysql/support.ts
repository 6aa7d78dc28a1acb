// Test support for mysql targets: a fresh MariaDB database per test (dropped after), a pipeline
// whose `peer` target is that database, and an independent comparison of the source table with
// the MariaDB table: every column of every row, each side normalised the way the documented type
// mapping says (boolean 1/0, DECIMAL text, DATETIME(6) in UTC, JSON parsed, arrays as JSON).
import mysql from 'mysql2/promise';
import {
  compareWithMysql as compareMysqlTables,
  type MysqlCompareResult,
} from '../../dev/verify/mysql-compare.ts';
import { loadContract } from '../../schemas/contract.ts';
import { randomName } from '../support/names.ts';
import { pipelineEnv, type PipelineEnv } from '../support/pipeline.ts';
import type { StackUrls } from '../support/provided.ts';
import { waitUntil } from '../support/wait.ts';

export interface MysqlDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function withMysql<T>(url: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({
    uri: url,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Rows as plain records (BIGINT, DECIMAL and DATETIME as text: supportBigNumbers, dateStrings). */
export type MysqlRow = Record<string, string | number | null | object>;

export async function mysqlRows(url: string, sql: string, values: unknown[] = []): Promise<MysqlRow[]> {
  return withMysql(url, async (c) => (await c.query<mysql.RowDataPacket[]>(sql, values))[0] as MysqlRow[]);
}

export async function freshMysqlDatabase(urls: StackUrls, prefix: string): Promise<MysqlDatabase> {
  const name = randomName(prefix)
    .replace(/[^A-Za-z0-9_]/g, '_')
    .slice(0, 60);
  await withMysql(urls.mariadbAdminUrl, (c) =>
    c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`),
  );
  const url = urls.mysqlPeerUrl.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    name,
    drop: () =>
      withMysql(urls.mariadbAdminUrl, (c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``)).then(
        () => undefined,
      ),
  };
}

export interface MysqlPipelineEnv extends PipelineEnv {
  mysql: MysqlDatabase;
}

/** A pipeline (pipelineEnv) whose `peer` target is a fresh MariaDB database. */
export async function mysqlPipelineEnv(
  urls: StackUrls,
  name: string,
  target: Record<string, unknown> = {},
  overrides: Record<string, unknown> = {},
): Promise<MysqlPipelineEnv> {
  const db = await freshMysqlDatabase(urls, name);
  const env = await pipelineEnv(urls, name, {
    targets: [{ name: 'peer', type: 'mysql', url: db.url, batchSize: 500, ...target }],
    ...overrides,
  });
  return {
    ...env,
    mysql: db,
    async drop() {
      await env.drop();
      await db.drop();
    },
  };
}

export type MysqlCompare = MysqlCompareResult;

/** Every column of every row of the source `users` against the MariaDB table (dev/verify). */
export function compareWithMysql(env: MysqlPipelineEnv, table = 'users'): Promise<MysqlCompare> {
  const contract = loadContract();
  return compareMysqlTables(
    { url: env.source.url, schema: 'public', table: 'users' },
    { url: env.mysql.url, table },
    contract.columns,
    contract.keyColumns[0]!,
  );
}

export async function waitForMysqlEqual(env: MysqlPipelineEnv, timeoutMs = 90_000): Promise<MysqlCompare> {
  let last: MysqlCompare | undefined;
  try {
    return await waitUntil(
      async () => {
        last = await compareWithMysql(env).catch((err: unknown) => ({
          equal: false,
          sourceRows: -1,
          targetRows: -1,
          differences: [String(err)],
        }));
        return last.equal && last;
      },
      { timeoutMs, intervalMs: 300, what: 'the MariaDB peer to equal the source' },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}: ${JSON.stringify({ ...last, differences: last?.differences.slice(0, 8) })}`,
    );
  }
}
