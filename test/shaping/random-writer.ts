// Random single-transaction writes on the source `users` table that a shaped target must follow
// (issue 16): inserts in and out of the filter (some with a 12 kB bio), activations and blocks
// flipped, email changes and email swaps between two users in one transaction, deletes, and
// activations whose large TOASTed bio the update leaves unchanged. User 1 is never touched (the
// twin a test may watch). Shared by the Postgres and MariaDB CMS tests.
import { writerLoop } from '../support/pipeline.ts';

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
