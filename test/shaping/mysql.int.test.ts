// A mapping at a MariaDB target (issue 16: mapping applies the same way to every sink kind; it sits
// between decoding and the sink): chosen columns, a rename, computed fields and the filter
// `is_active && !is_blocked` through the real pipeline into the stack's MariaDB. Rows enter the
// filter (an insert, an activation whose large TOASTed bio the update leaves unchanged), leave it
// (deactivated, blocked: removed), change inside it, are deleted; the MariaDB table ends equal to
// the mapped, filtered source computed by an independent SQL query on each side, with only the
// mapped columns and nothing dead-lettered.
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls } from '../support/index.ts';
import { deadLetters, query, runInProcess, testApp } from '../support/pipeline.ts';
import { waitUntil } from '../support/wait.ts';
import { mysqlPipelineEnv, mysqlRows, type MysqlPipelineEnv } from '../mysql/support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(90_000);

const MAPPING = {
  include: ['id', 'email', 'username', 'first_name', 'middle_name', 'last_name', 'city', 'is_active', 'bio'],
  rename: { username: 'login' },
  computed: {
    full_name: '[first_name, middle_name, last_name].filter(x, x.hasValue()).map(x, x.value()).join(" ")',
    disabled: '!is_active',
  },
  filter: 'is_active && !is_blocked',
};

/** What MariaDB must hold, straight from the source (not through the code under test). */
const EXPECTED = `SELECT id::text AS id, email, username AS login, concat_ws(' ', first_name, middle_name, last_name) AS full_name,
    (NOT is_active)::int::text AS disabled, coalesce(city, '-') AS city, md5(coalesce(bio, '')) AS bio
  FROM users WHERE is_active AND NOT is_blocked ORDER BY id`;
const ACTUAL = `SELECT CAST(id AS CHAR) AS id, email, login, full_name, CAST(disabled + 0 AS CHAR) AS disabled,
    coalesce(city, '-') AS city, md5(coalesce(bio, '')) AS bio
  FROM users ORDER BY id`;

async function equal(env: MysqlPipelineEnv): Promise<number | false> {
  const [want, have] = await Promise.all([
    query<Record<string, string>>(env.source.url, EXPECTED),
    mysqlRows(env.mysql.url, ACTUAL).catch(() => undefined), // the table appears with the first row
  ]);
  return have !== undefined && JSON.stringify(want) === JSON.stringify(have) && want.length;
}

const largeBio = "(SELECT string_agg(md5(random()::text || g::text), '') FROM generate_series(1, 400) g)";

it('a mapped MariaDB target holds the mapped, filtered source: rows enter, leave and change', async () => {
  const env = await mysqlPipelineEnv(urls, 'my_shape', { mapping: MAPPING });
  cleanups.push(() => env.drop());
  await query(
    env.source.url,
    `INSERT INTO users (id, email, username, first_name, middle_name, last_name, city, is_active, is_blocked, bio)
     SELECT i, 'u' || i || '@x.io', 'user' || i, 'F' || i, CASE WHEN i % 2 = 0 THEN 'M' END,
       CASE WHEN i % 3 = 0 THEN 'L' || i END, CASE WHEN i % 4 = 0 THEN 'c' || i END, i % 3 <> 1, i % 7 = 0,
       CASE WHEN i % 5 = 0 THEN ${largeBio} ELSE 'short ' || i END
     FROM generate_series(1, 80) i`,
  );
  const app = testApp(env.config);
  const pipeline = await runInProcess(app);
  cleanups.push(() => pipeline.stop());
  const seeded = await waitUntil(() => equal(env), {
    what: 'the seeded rows at MariaDB',
    timeoutMs: 120_000,
  });
  expect(seeded).toBeGreaterThan(30);
  expect(seeded).toBeLessThan(80);

  // enter: activations whose large bio the update leaves unchanged (the producer completes them)
  const entered = await query(
    env.source.url,
    'UPDATE users SET is_active = true, is_blocked = false WHERE NOT is_active AND length(bio) > 4000 RETURNING id',
  );
  expect(entered.length).toBeGreaterThan(0);
  await query(env.source.url, 'UPDATE users SET is_blocked = false WHERE id IN (7, 14)');
  // leave: deactivated or blocked
  await query(env.source.url, 'UPDATE users SET is_active = false WHERE id IN (2, 3, 5)');
  await query(env.source.url, 'UPDATE users SET is_blocked = true WHERE id IN (6, 8)');
  // change inside: names (the computed field), the renamed column, the city
  await query(
    env.source.url,
    "UPDATE users SET middle_name = 'Q', username = 'renamed' || id, city = NULL WHERE id IN (9, 11, 12)",
  );
  // insert in and out of the filter; delete in and out of it
  await query(
    env.source.url,
    `INSERT INTO users (id, email, username, is_active, is_blocked) VALUES
       (100, 'in@x.io', 'in', true, false), (101, 'out@x.io', 'out', false, false), (102, 'blk@x.io', 'blk', true, true)`,
  );
  await query(env.source.url, 'DELETE FROM users WHERE id IN (4, 10, 13, 101)');
  // leave and enter again in one transaction each
  await query(env.source.url, 'BEGIN; UPDATE users SET is_active = false WHERE id = 15; COMMIT');
  await query(env.source.url, 'UPDATE users SET is_active = true WHERE id = 15');

  const rows = await waitUntil(() => equal(env), {
    what: 'MariaDB to equal the mapped, filtered source',
    timeoutMs: 120_000,
  });
  expect(rows).toBeGreaterThan(30);
  const cols = await mysqlRows(
    env.mysql.url,
    "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name NOT LIKE '\\_pgcdc%' ORDER BY ordinal_position",
  );
  expect(cols.map((r) => r.c)).toEqual([
    'id',
    'email',
    'login',
    'first_name',
    'middle_name',
    'last_name',
    'city',
    'is_active',
    'bio',
    'full_name',
    'disabled',
  ]);
  expect(await deadLetters(app.kafka, env)).toEqual([]);
}, 300_000);
