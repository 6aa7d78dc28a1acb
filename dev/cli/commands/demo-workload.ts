// The demo's workload on the source: users seeded in one transaction, groups and memberships
// (several tables in one pipeline, docs/tables.md), then live inserts, updates (TOAST-preserving,
// bulk, an email swap, a membership key change) and deletes (cascading).
import { insertUsers, makeUser, type rng } from '../../verify/seed.ts';
import { say, withClient } from './demo-support.ts';

/** Seeds `n` users in one transaction. */
export async function seedUsers(url: string, r: ReturnType<typeof rng>, n: number): Promise<void> {
  const ids = await withClient(url, async (c) => {
    await c.query('BEGIN');
    const inserted = await insertUsers(
      c,
      Array.from({ length: n }, (_, i) => makeUser(r, i, { tag: 'seed' })),
    );
    await c.query('COMMIT');
    return inserted;
  });
  say(`seeded ${ids.length} users in one transaction`);
  const { groups, memberships } = await withClient(url, async (c) => {
    const g = await c.query(
      "INSERT INTO groups (name, description, tags) SELECT 'group ' || i, CASE WHEN i % 3 = 0 THEN 'team ' || i END, ARRAY['g' || (i % 5)] FROM generate_series(1, greatest($1::int / 50, 5)) i",
      [n],
    );
    const m = await c.query(
      "INSERT INTO memberships (user_id, group_id, role) SELECT u.id, g.id, CASE WHEN (u.id + g.id) % 10 = 0 THEN 'admin' ELSE 'member' END FROM users u JOIN groups g ON (u.id * 7 + g.id) % 13 = 0",
    );
    return { groups: g.rowCount ?? 0, memberships: m.rowCount ?? 0 };
  });
  say(`seeded ${groups} groups and ${memberships} memberships (key user_id, group_id)`);
}

/** Live inserts, updates (TOAST-preserving, bulk, an email swap) and deletes on the source. */
export async function liveChanges(url: string, r: ReturnType<typeof rng>): Promise<void> {
  const counts = { inserts: 0, updates: 0, deletes: 0 };
  await withClient(url, async (c) => {
    const live = Array.from({ length: 200 }, (_, i) => makeUser(r, i, { tag: 'live' }));
    for (const row of live) {
      await insertUsers(c, [row]);
      counts.inserts++;
    }
    const big = await c.query<{ id: string }>(
      'SELECT id::text FROM users WHERE length(bio) > 2000 ORDER BY id LIMIT 20',
    );
    for (const row of big.rows) {
      // Only a non-TOAST column changes: PostgreSQL does not resend the large bio.
      await c.query('UPDATE users SET city = $2, updated_at = now() WHERE id = $1', [row.id, 'Reykjavík']);
      counts.updates++;
    }
    const upd = await c.query(
      'UPDATE users SET balance = balance + 1.50, last_login_at = now(), tags = array_append(tags, $1) WHERE id % 7 = 0',
      ['seen'],
    );
    counts.updates += upd.rowCount ?? 0;
    const swap = await c.query<{ a: string; b: string }>(
      "SELECT min(id)::text AS a, max(id)::text AS b FROM users WHERE email LIKE '%seed%'",
    );
    const { a, b } = swap.rows[0]!;
    // Two users swap emails in one transaction (a unique secondary key across partitions).
    const ea = (await c.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [a])).rows[0]!
      .email;
    const eb = (await c.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [b])).rows[0]!
      .email;
    await c.query('BEGIN');
    await c.query("UPDATE users SET email = 'swapping-' || id WHERE id = $1", [a]);
    await c.query('UPDATE users SET email = $2 WHERE id = $1', [b, ea]);
    await c.query('UPDATE users SET email = $2 WHERE id = $1', [a, eb]);
    await c.query('COMMIT');
    counts.updates += 3;
    const del = await c.query('DELETE FROM users WHERE id % 11 = 0'); // cascades to memberships
    counts.deletes += del.rowCount ?? 0;
    // the tables around users: roles change, a membership moves to another group (its key
    // changes), a group goes (with its memberships), a new group gets members
    const roles = await c.query(
      "UPDATE memberships SET role = 'owner', note = 'promoted' WHERE user_id % 17 = 0",
    );
    counts.updates += roles.rowCount ?? 0;
    const moved = await c.query(
      'UPDATE memberships m SET group_id = (SELECT max(id) FROM groups) WHERE (user_id, group_id) IN (SELECT user_id, group_id FROM memberships WHERE user_id % 19 = 0 ORDER BY 1, 2 LIMIT 1) AND NOT EXISTS (SELECT 1 FROM memberships x WHERE x.user_id = m.user_id AND x.group_id = (SELECT max(id) FROM groups))',
    );
    counts.updates += moved.rowCount ?? 0;
    const gone = await c.query('DELETE FROM groups WHERE id = (SELECT min(id) FROM groups)');
    counts.deletes += gone.rowCount ?? 0;
    await c.query("INSERT INTO groups (name) VALUES ('late joiners')");
    const joined = await c.query(
      "INSERT INTO memberships (user_id, group_id) SELECT id, (SELECT id FROM groups WHERE name = 'late joiners') FROM users WHERE id % 23 = 0",
    );
    counts.inserts += joined.rowCount ?? 0;
  });
  say(`live changes: ${counts.inserts} inserts, ${counts.updates} updates, ${counts.deletes} deletes`);
}
