// End to end into MariaDB: PostgreSQL -> Kafka -> a `mysql` target. Every contract type (4-byte
// UTF-8, JSON, arrays, DECIMAL, microsecond UTC timestamps), TOAST-unchanged partial updates, a
// primary-key change, deletes and a truncate end equal to the source by an independent comparison
// of every column; emails swapped across partitions converge with nothing dead-lettered; rows the
// target refuses go to the dead-letter topic with the error while the stream goes on.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { metricValue } from '../support/faults.ts';
import { stackUrls } from '../support/index.ts';
import { deadLetters, query, runInProcess, testApp } from '../support/pipeline.ts';
import { waitUntil } from '../support/wait.ts';
import { mysqlPipelineEnv, mysqlRows, waitForMysqlEqual, type MysqlPipelineEnv } from './support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(90_000);

async function started(
  name: string,
  target: Record<string, unknown> = {},
  prepare?: (e: MysqlPipelineEnv) => Promise<void>,
) {
  const env = await mysqlPipelineEnv(urls, name, target);
  cleanups.push(() => env.drop());
  await prepare?.(env);
  const app = testApp(env.config);
  const pipeline = await runInProcess(app);
  cleanups.push(() => pipeline.stop());
  return { env, app, pipeline };
}

const randomSql = (bytes: number) =>
  `(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, ${Math.ceil(bytes / 32)}))`;

describe('mysql target end to end', () => {
  it('every type, TOAST-unchanged updates, a key change, deletes and a truncate end equal to the source', async () => {
    const { env, app, pipeline } = await started('my_e2e');
    // the metrics tell the target's kind (pgcdc_target_info), for dashboards to join on
    expect(await metricValue(app, 'pgcdc_target_info', { target: 'peer', kind: 'mysql' })).toBe(1);
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, first_name, bio, preferences, tags, balance, is_active, created_at, updated_at, last_login_at)
       SELECT i, 'u' || i || '@x.io', 'user ' || i || ' 🐘 Ωmega 𝔘', CASE WHEN i % 3 = 0 THEN NULL ELSE 'F' || i END,
         'it''s a "quoted" \\ backslash ' || i, jsonb_build_object('lang', 'de', 'n', i, 'nested', jsonb_build_array(1, 'x', null)),
         ARRAY['a' || i, NULL, 'ü🐘'], (i * 1234.5 / 7)::numeric(12,2), i % 2 = 0,
         timestamptz '2024-02-29 23:59:59.123456+05' + i * interval '1 hour', now(),
         CASE WHEN i % 4 = 0 THEN NULL ELSE timestamptz '1970-01-01 00:00:00.000001+00' END
       FROM generate_series(1, 200) i`,
    );
    await waitForMysqlEqual(env);
    // TOAST: a large value left unchanged by later updates
    await query(env.source.url, `UPDATE users SET bio = ${randomSql(20_000)} WHERE id IN (1, 2)`);
    await query(env.source.url, "UPDATE users SET city = 'toast' WHERE id IN (1, 2)");
    // a primary-key change, deletes, updates of NULLs
    await query(env.source.url, 'UPDATE users SET id = 1000 WHERE id = 3');
    await query(env.source.url, 'DELETE FROM users WHERE id BETWEEN 100 AND 120');
    await query(
      env.source.url,
      'UPDATE users SET first_name = NULL, tags = NULL, balance = -0.01 WHERE id % 10 = 1',
    );
    const mid = await waitForMysqlEqual(env);
    expect(mid.sourceRows).toBe(179);
    await query(env.source.url, 'TRUNCATE users');
    await query(env.source.url, "INSERT INTO users (id, email, username) VALUES (5, 'after@x.io', 'after')");
    const end = await waitForMysqlEqual(env);
    expect(end.targetRows).toBe(1);
    expect(pipeline.consumers[0]!.status().deadLettered).toBe(0);
  }, 240_000);

  it('emails swapped in one transaction across partitions, and an email released and taken, converge with no dead letters', async () => {
    const { env, pipeline } = await started('my_unique', {}, async (e) => {
      // The peer keeps the source's unique email: an indexed column needs a VARCHAR.
      await mysqlRows(
        e.mysql.url,
        `CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(320) NOT NULL, username LONGTEXT NOT NULL,
          first_name LONGTEXT, middle_name LONGTEXT, last_name LONGTEXT, password_hash LONGTEXT, phone LONGTEXT,
          company LONGTEXT, address LONGTEXT, zip LONGTEXT, city LONGTEXT, country LONGTEXT,
          is_active BOOLEAN NOT NULL, is_blocked BOOLEAN NOT NULL, bio LONGTEXT, preferences JSON, tags JSON,
          balance DECIMAL(12,2), created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL, last_login_at DATETIME(6),
          _pgcdc_lsn BIGINT UNSIGNED NOT NULL, _pgcdc_seq BIGINT UNSIGNED NOT NULL, _pgcdc_event_id VARCHAR(255) NOT NULL,
          _pgcdc_synced_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), UNIQUE KEY users_email (email)
        ) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin`,
      );
    });
    await query(
      env.source.url,
      "INSERT INTO users (id, email, username) SELECT i, 'user' || i || '@x.io', 'u' || i FROM generate_series(1, 30) i",
    );
    await waitForMysqlEqual(env);
    for (let round = 0; round < 3; round++) {
      await query(
        env.source.url,
        `DO $$
         DECLARE i int; a text; b text;
         BEGIN
           FOR i IN 1..29 BY 2 LOOP
             SELECT email INTO a FROM users WHERE id = i;
             SELECT email INTO b FROM users WHERE id = i + 1;
             UPDATE users SET email = 'tmp-' || i WHERE id = i;
             UPDATE users SET email = a WHERE id = i + 1;
             UPDATE users SET email = b WHERE id = i;
           END LOOP;
         END $$`,
      );
    }
    const [released] = await query<{ email: string }>(
      env.source.url,
      'SELECT email FROM users WHERE id = 30',
    );
    await query(env.source.url, "UPDATE users SET email = 'moved@x.io' WHERE id = 30");
    await query(env.source.url, 'UPDATE users SET email = $1 WHERE id = 29', [released!.email]);
    const result = await waitForMysqlEqual(env, 120_000);
    expect(result.sourceRows).toBe(30);
    const [one] = await mysqlRows(env.mysql.url, 'SELECT email FROM users WHERE id = 1');
    expect(one?.email).toBe('user2@x.io');
    expect(pipeline.consumers[0]!.status().deadLettered).toBe(0);
  }, 240_000);

  it('rows the target refuses go to the dead-letter topic with the error, and the stream goes on', async () => {
    const { env, app, pipeline } = await started('my_reject', {}, async (e) => {
      await query(e.source.url, "INSERT INTO users (id, email, username) VALUES (1, 'first@x.io', 'first')");
    });
    await waitUntil(async () => (await mysqlRows(env.mysql.url, 'SELECT id FROM users')).length === 1, {
      what: 'the first row at the MariaDB peer',
    });
    await mysqlRows(
      env.mysql.url,
      "ALTER TABLE users ADD CONSTRAINT no_bad CHECK (city IS NULL OR city <> 'bad')",
    );
    await query(
      env.source.url,
      "INSERT INTO users (id, email, username, city) VALUES (2, 'bad@x.io', 'b', 'bad')",
    );
    await query(
      env.source.url,
      "INSERT INTO users (id, email, username, last_login_at) VALUES (3, 'inf@x.io', 'i', 'infinity'), (4, 'old@x.io', 'o', '0900-01-01 00:00:00+00')",
    );
    await query(env.source.url, "INSERT INTO users (id, email, username) VALUES (5, 'fine@x.io', 'fine')");
    await waitUntil(() => pipeline.consumers[0]!.status().deadLettered === 3, {
      what: 'three dead letters',
      timeoutMs: 60_000,
    });
    await waitUntil(
      async () => (await mysqlRows(env.mysql.url, 'SELECT id FROM users WHERE id = 5')).length === 1,
      {
        what: 'the row after the refused ones',
      },
    );
    const dlq = await deadLetters(app.kafka, env);
    const errors = dlq.map((m) => m.headers['pgcdc-dlq-error'] ?? '').sort();
    expect(errors).toHaveLength(3);
    expect(errors.join('\n')).toMatch(/CONSTRAINT `no_bad` failed/);
    expect(errors.join('\n')).toMatch(/timestamptz infinity has no DATETIME value/);
    expect(errors.join('\n')).toMatch(/0900-01-01 .* is outside DATETIME's range/);
    expect((await mysqlRows(env.mysql.url, 'SELECT id FROM users ORDER BY id')).map((r) => r.id)).toEqual([
      '1',
      '5',
    ]);
  }, 180_000);
});
