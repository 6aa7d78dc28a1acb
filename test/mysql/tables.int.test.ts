// A MariaDB target takes several tables and a mapping per table like any other target (issue 17):
// users (chosen columns, filter is_active), groups (a rename, a computed column, columns left out)
// and memberships (composite key) as the exact copy, in one pipeline on the real stack. Rows
// written before the start come by the snapshot; later writes move users in and out of the filter,
// rename groups and delete. Each MariaDB table ends equal to the mapped, filtered source, computed
// by independent SQL at both ends, with nothing dead-lettered.
import { expect, it } from 'vitest';
import { createFixtureTables, fixtureContractDir } from '../../dev/tables/index.ts';
import { sourceTopicsOf } from '../../pipeline/config/schema.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls } from '../support/index.ts';
import { deadLetters, query, runInProcess, testApp } from '../support/pipeline.ts';
import { waitUntil } from '../support/wait.ts';
import { mysqlPipelineEnv, mysqlRows } from './support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(90_000);

const MAPPING = [
  { table: 'public.users', include: ['id', 'email', 'is_active'], filter: 'is_active' },
  {
    table: 'groups',
    rename: { name: 'title' },
    exclude: ['tags', 'created_at'],
    computed: { label: 'name + "!"' },
  },
];
/** the source side, shaped by hand: text, numbers as text, UTC microseconds */
const EXPECTED = {
  users: 'SELECT id::text AS id, email, 1 AS is_active FROM users WHERE is_active ORDER BY id',
  groups: "SELECT id::text AS id, name AS title, description, name || '!' AS label FROM groups ORDER BY id",
  memberships: `SELECT user_id::text AS user_id, group_id::text AS group_id, role, note,
    to_char(joined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS joined_at
    FROM memberships ORDER BY user_id, group_id`,
};
const ACTUAL = {
  users: 'SELECT CAST(id AS CHAR) AS id, email, is_active FROM users ORDER BY id',
  groups: 'SELECT CAST(id AS CHAR) AS id, title, description, label FROM `groups` ORDER BY id',
  memberships: `SELECT CAST(user_id AS CHAR) AS user_id, CAST(group_id AS CHAR) AS group_id, role, note,
    DATE_FORMAT(joined_at, '%Y-%m-%d %H:%i:%s.%f') AS joined_at FROM memberships ORDER BY user_id, group_id`,
};

it('several tables with a mapping per table end equal to the shaped source', async () => {
  const env = await mysqlPipelineEnv(
    urls,
    'mytables',
    { mapping: MAPPING },
    {
      source: {
        tables: ['public.users', 'public.groups', 'public.memberships'],
        contracts: fixtureContractDir(),
      },
    },
  );
  cleanups.push(() => env.drop());
  await createFixtureTables(env.source.url);
  await query(
    env.source.url,
    `INSERT INTO users (email, username, is_active) SELECT 's' || i || '@x.io', 'u' || i, i % 2 = 0 FROM generate_series(1, 60) i;
     INSERT INTO groups (name, description, tags) SELECT 'g' || i, 'd' || i, ARRAY['t'] FROM generate_series(1, 10) i;
     INSERT INTO memberships (user_id, group_id, note) SELECT u.id, g.id, 'n😀' || u.id FROM users u JOIN groups g ON (u.id + g.id) % 5 = 0`,
  );
  const app = testApp(env.config);
  cleanups.push(async () => {
    const admin = app.kafka.admin();
    await admin.connect();
    for (const t of sourceTopicsOf(env.config.kafka, env.config.source))
      await admin.deleteTopic(t).catch(() => 0);
    await admin.disconnect();
  });
  const pipeline = await runInProcess(app);
  cleanups.push(() => pipeline.stop());

  const tables = ['users', 'groups', 'memberships'] as const;
  const differing = async () => {
    const out: string[] = [];
    for (const t of tables) {
      const [a, b] = await Promise.all([
        query(env.source.url, EXPECTED[t]),
        mysqlRows(env.mysql.url, ACTUAL[t]).catch(() => []),
      ]);
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push(t);
    }
    return out;
  };
  const equal = async () => (await differing()).length === 0;
  await waitUntil(equal, {
    what: 'the snapshot of the three tables, shaped, at MariaDB',
    timeoutMs: 120_000,
  });
  await query(
    env.source.url,
    `UPDATE users SET is_active = NOT is_active WHERE id % 3 = 0;
     UPDATE users SET email = 'new' || id || '@x.io' WHERE id % 4 = 0;
     UPDATE groups SET name = name || '-renamed' WHERE id % 2 = 0;
     UPDATE memberships SET role = 'owner' WHERE group_id = 2;
     DELETE FROM users WHERE id % 7 = 0;
     DELETE FROM groups WHERE id = 3;
     INSERT INTO users (email, username, is_active) VALUES ('late@x.io', 'late', true), ('off@x.io', 'off', false)`,
  );
  await waitUntil(equal, {
    what: 'the live changes, shaped per table, at MariaDB',
    timeoutMs: 120_000,
  }).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${(await differing()).join(', ')} differ`);
  });
  const [users] = await mysqlRows(env.mysql.url, 'SELECT COUNT(*) AS n FROM users');
  expect(Number(users!.n)).toBeGreaterThan(10);
  const cols = await mysqlRows(
    env.mysql.url,
    `SELECT TABLE_NAME AS t, GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) AS cols FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('users', 'groups', 'memberships') AND COLUMN_NAME NOT LIKE '\\_pgcdc%'
      GROUP BY TABLE_NAME ORDER BY TABLE_NAME`,
  );
  expect(cols.map((c) => [c.t, c.cols])).toEqual([
    ['groups', 'id,title,description,label'],
    ['memberships', 'user_id,group_id,role,note,joined_at'],
    ['users', 'id,email,is_active'],
  ]);
  const [pk] = await mysqlRows(
    env.mysql.url,
    `SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS k FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'memberships' AND INDEX_NAME = 'PRIMARY'`,
  );
  expect(pk!.k).toBe('user_id,group_id');
  expect(await deadLetters(app.kafka, env)).toEqual([]);
}, 300_000);
