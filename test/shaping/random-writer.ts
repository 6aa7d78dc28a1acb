// Random single-transaction writes on the source `users` table that a shaped target must follow
// (issue 16): inserts in and out of the filter (some with a 12 kB bio), activations and blocks
// flipped, email changes and email swaps between two users in one transaction, deletes, and
// activations whose large TOASTed bio the update leaves unchanged. User 1 is never touched (the
// twin a test may watch). Shared by the Postgres and MariaDB CMS tests, with their seed
// (CMS_SEED) and their run (randomWritesWithKill: the CMS consumer SIGKILLed mid-way).
import { expect } from 'vitest';
import { waitUntil, type Cleanups } from '../support/index.ts';
import { writerLoop, type CliChild } from '../support/pipeline.ts';

/**
 * The CMS tests' source users: user 1 (Twin@X.io, whose email a CMS row holds in lower case) and
 * 59 more, some inactive, blocked, without a last name or with a large (TOASTed) bio.
 */
export const CMS_SEED = `INSERT INTO users (id, email, username, first_name, last_name, is_active, is_blocked, bio)
     SELECT 1, 'Twin@X.io', 'twin', 'T', 'W', true, false, 'b'
     UNION ALL SELECT i, 'seed' || i || '@x.io', 'u' || i, 'F' || i, CASE WHEN i % 3 = 0 THEN 'L' END, i % 2 = 0, i % 5 = 0,
       CASE WHEN i % 4 = 0 THEN (SELECT string_agg(md5(random()::text || g::text), '') FROM generate_series(1, 400) g) ELSE 'short' END FROM generate_series(2, 60) i;
     SELECT setval(pg_get_serial_sequence('users', 'id'), 100)`;

/**
 * 400 random transactions with the CMS consumer SIGKILLed after 150 and started again by `spawn`
 * (each child goes to `cleanups`); at least one activation left a TOASTed bio unchanged. Returns
 * the transactions written and the consumer running now.
 */
export async function randomWritesWithKill(
  url: string,
  first: CliChild,
  spawn: () => CliChild,
  cleanups: Cleanups,
): Promise<{ txns: number; consumer: CliChild }> {
  const writer = randomWriter(url);
  cleanups.push(() => writer.stop());
  await waitUntil(() => Promise.resolve(writer.counts.txns >= 150), {
    what: '150 random transactions',
    timeoutMs: 120_000,
  });
  await first.kill('SIGKILL');
  const consumer = spawn();
  cleanups.push(() => consumer.kill('SIGTERM'));
  await waitUntil(() => Promise.resolve(writer.counts.txns >= 400), {
    what: '400 random transactions',
    timeoutMs: 240_000,
  });
  const { txns, toastedActivations } = await writer.stop();
  expect(toastedActivations).toBeGreaterThan(0);
  return { txns, consumer };
}

/** Random single-transaction writes: the moves a shaped target must follow. */
export function randomWriter(url: string) {
  const counts = { txns: 0, toastedActivations: 0 };
  let x = 42;
  let n = 1000;
  const rand = (k: number) => ((x = (x * 1103515245 + 12345) % 2147483648), Math.floor((x / 2147483648) * k));
  const someone = 'SELECT id FROM users WHERE id <> 1 ORDER BY random() LIMIT 1';
  return writerLoop({ connectionString: url }, counts, async (c) => {
    n++;
    await c.query('BEGIN');
    switch (rand(8)) {
      case 0:
        await c.query(
          "INSERT INTO users (email, username, first_name, last_name, is_active, is_blocked, bio) VALUES ($1, $2, 'F', 'L', $3, $4, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, $5::int)))",
          [`n${n}@x.io`, `u${n}`, rand(2) === 0, rand(4) === 0, rand(2) === 0 ? 1 : 400],
        );
        break;
      case 1:
        await c.query(`UPDATE users SET is_active = NOT is_active WHERE id = (${someone})`);
        break;
      case 2:
        await c.query(`UPDATE users SET is_blocked = NOT is_blocked WHERE id = (${someone})`);
        break;
      case 3:
        await c.query(`UPDATE users SET email = $1 WHERE id = (${someone})`, [`E${n}@X.io`]);
        break;
      case 4: {
        // swap the emails of two users in one transaction
        const r = await c.query<{ id: string; email: string }>(
          'SELECT id::text, email FROM users WHERE id <> 1 ORDER BY random() LIMIT 2',
        );
        const [a, b] = r.rows;
        if (a && b) {
          await c.query("UPDATE users SET email = 'tmp-' || id WHERE id = $1", [a.id]);
          await c.query('UPDATE users SET email = $2 WHERE id = $1', [b.id, a.email]);
          await c.query('UPDATE users SET email = $2 WHERE id = $1', [a.id, b.email]);
        }
        break;
      }
      case 5:
        await c.query(`DELETE FROM users WHERE id = (${someone})`);
        break;
      case 6:
        // the TOAST trap: activation that leaves a large bio unchanged (pgoutput does not send it)
        counts.toastedActivations +=
          (
            await c.query(
              'UPDATE users SET is_active = true, is_blocked = false WHERE id = (SELECT id FROM users WHERE NOT is_active AND length(bio) > 4000 ORDER BY random() LIMIT 1)',
            )
          ).rowCount ?? 0;
        break;
      default:
        await c.query(
          `UPDATE users SET city = 'c' || $1, middle_name = CASE WHEN $1::int % 2 = 0 THEN 'M' END WHERE id = (${someone})`,
          [n],
        );
    }
    await c.query('COMMIT');
    counts.txns++;
  });
}
