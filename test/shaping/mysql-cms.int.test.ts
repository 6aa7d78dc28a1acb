// A CMS-shaped MariaDB target (issue 16: mapping applies the same way at every sink kind): the
// CMS's own `fe_users` with its AUTO_INCREMENT uid, renamed and computed columns, a constant,
// matched by email case-insensitively (a _ci collation), soft delete, filter
// `is_active && !is_blocked`, with a row the CMS made itself that a source user adopts and one
// that no source row matches. Random concurrent writes (test/shaping/random-writer.ts) move users
// in and out of the filter, change and swap emails, activate users whose TOASTed bio the update
// leaves unchanged, insert and delete; the consumer is killed (SIGKILL) mid-way and started again.
// The live linked rows end equal to the mapped, filtered source computed by an independent SQL
// query on each side; the CMS's own row is never touched; nothing is dead-lettered.
import { expect, it } from 'vitest';
import { cleanupAfterEach, stackUrls, waitUntil } from '../support/index.ts';
import { deadLetters, query, runInProcess, spawnCli, testApp } from '../support/pipeline.ts';
import { mysqlPipelineEnv, mysqlRows, withMysql, type MysqlPipelineEnv } from '../mysql/support.ts';
import { CMS_SEED, randomWritesWithKill } from './random-writer.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(90_000);

const MYSQL_CMS = {
  table: 'fe_users',
  mapping: {
    include: ['email', 'username', 'first_name', 'middle_name', 'last_name', 'is_active', 'bio'],
    rename: { username: 'login' },
    constants: { pid: { value: 7 } },
    computed: {
      name: '[first_name, middle_name, last_name].filter(x, x.hasValue()).map(x, x.value()).join(" ")',
      disable: '!is_active',
    },
    filter: 'is_active && !is_blocked',
    match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
    deletePolicy: 'soft',
    softDelete: { column: 'deleted', type: 'boolean' },
  },
};

/** The CMS's own table in MariaDB: its uid, its columns, a unique case-insensitive email, its own rows. */
const MYSQL_CMS_TABLE = [
  `CREATE TABLE fe_users (uid INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
     email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL, login VARCHAR(255) NULL,
     name VARCHAR(1000) NULL, first_name VARCHAR(255) NULL, middle_name VARCHAR(255) NULL,
     last_name VARCHAR(255) NULL, is_active BOOLEAN NULL, bio LONGTEXT NULL, pid BIGINT NULL,
     disable BOOLEAN NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE, tstamp INT NOT NULL DEFAULT 0,
     UNIQUE KEY fe_users_email (email)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `INSERT INTO fe_users (email, login, name) VALUES ('twin@x.io', 'cms-twin', 'Old'), ('foreign@cms.local', 'cms-only', 'Keep')`,
];

/** What the CMS must hold, straight from the source (not through the code under test). */
const EXPECTED = `SELECT lower(email) AS email, username AS login, concat_ws(' ', first_name, middle_name, last_name) AS name,
  (NOT is_active)::int::text AS disable, '7' AS pid, md5(coalesce(bio, '')) AS bio
  FROM users WHERE is_active AND NOT is_blocked`;
/** What it holds: its live (not soft-deleted) rows that pgcdc created or adopted. */
const ACTUAL = `SELECT lower(email) AS email, login, name, CAST(disable AS CHAR) AS disable, CAST(pid AS CHAR) AS pid,
  md5(coalesce(bio, '')) AS bio FROM fe_users f
  WHERE NOT deleted AND EXISTS (SELECT 1 FROM fe_users_pgcdc_links l WHERE l._pgcdc_target_key = f.uid)`;

const sorted = (rows: object[]) => rows.map((r) => JSON.stringify(r)).sort();

async function equal(env: MysqlPipelineEnv): Promise<number | false> {
  const [want, have] = await Promise.all([
    query(env.source.url, EXPECTED),
    mysqlRows(env.mysql.url, ACTUAL).catch(() => undefined), // the links table appears at the start
  ]);
  return have !== undefined && JSON.stringify(sorted(want)) === JSON.stringify(sorted(have)) && want.length;
}

it('a CMS-shaped MariaDB target (match by email, soft delete, filter) ends equal to the mapped, filtered source', async () => {
  const env = await mysqlPipelineEnv(urls, 'my_cms', MYSQL_CMS);
  cleanups.push(() => env.drop());
  await withMysql(env.mysql.url, async (c) => {
    for (const sql of MYSQL_CMS_TABLE) await c.query(sql);
  });
  await query(env.source.url, CMS_SEED);
  const app = testApp(env.config);
  const producer = await runInProcess(app, { targets: [] });
  cleanups.push(() => producer.stop());
  const cms = spawnCli(['consume', '-c', env.configFile, '--target', 'peer']);
  cleanups.push(() => cms.kill('SIGTERM'));
  await waitUntil(() => equal(env), { what: 'the CMS to hold the seeded active users', timeoutMs: 120_000 });
  const [twin] = await mysqlRows(
    env.mysql.url,
    "SELECT CAST(uid AS CHAR) AS uid, login FROM fe_users WHERE email = 'twin@x.io'",
  );
  expect(twin).toEqual({ uid: '1', login: 'twin' }); // adopted: its own uid kept, its columns now the shop's

  const { txns } = await randomWritesWithKill(
    env.source.url,
    cms,
    () => spawnCli(['consume', '-c', env.configFile, '--target', 'peer']),
    cleanups,
  );

  const rows = await waitUntil(() => equal(env), {
    what: `the CMS to equal the mapped, filtered source (${txns} txns)`,
    timeoutMs: 180_000,
  });
  expect(rows).toBeGreaterThan(5);
  // owned rows only: the CMS's own row is untouched; soft-deleted rows are kept, marked
  expect(
    await mysqlRows(
      env.mysql.url,
      "SELECT login, name, CAST(deleted AS CHAR) AS deleted FROM fe_users WHERE email = 'foreign@cms.local'",
    ),
  ).toEqual([{ login: 'cms-only', name: 'Keep', deleted: '0' }]);
  const [counts] = await mysqlRows(
    env.mysql.url,
    'SELECT CAST(SUM(deleted) AS CHAR) AS soft, CAST(COUNT(DISTINCT pid) AS CHAR) AS pids FROM fe_users WHERE uid <> 2',
  );
  expect(Number(counts!.soft)).toBeGreaterThan(0);
  expect(counts!.pids).toBe('1');
  expect(await deadLetters(app.kafka, env)).toEqual([]);
}, 600_000);
