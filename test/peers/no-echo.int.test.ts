// Peers, no echo and basic convergence (docs/peers.md): three databases as three nodes, each with
// its producer and two links. Writes at every node reach every other node, and each node's topic
// holds exactly the writes made at that node: what a link applied (marked with its replication
// origin) is never published again.
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/wait.ts';
import { conflictLog, producersPastWal, sql, topicEvents, useMesh, waitConverged } from '../support/peers.ts';

describe('peers: no echo', () => {
  const ctx = useMesh(3);

  it('publishes only local writes and converges', async () => {
    const { env, mesh } = ctx;
    if (!mesh) throw new Error('the mesh did not start');
    const local = { a: 0, b: 0, c: 0 };
    const write = async (node: 'a' | 'b' | 'c', text: string, values: unknown[] = []) => {
      local[node] += (await sql(env.url(node), text, values)).rowCount ?? 0;
    };
    for (let i = 1; i <= 20; i++)
      await write('a', `INSERT INTO users (id, email, username) VALUES ($1, $2, $3)`, [
        i,
        `u${i}@a`,
        `user${i}`,
      ]);
    await waitConverged(env);
    await write('b', `UPDATE users SET city = 'Bern' WHERE id <= 5`);
    await write('c', `DELETE FROM users WHERE id IN (19, 20)`);
    await write('c', `INSERT INTO users (id, email, username) VALUES (100, 'c100@c', 'c100')`);
    await waitConverged(env);
    expect(local).toEqual({ a: 20, b: 5, c: 3 });
    // every event reached its topic (and nothing else does: the links' writes are not published)
    await waitUntil(async () => (await topicEvents(mesh.app, env.config, 'c')) === local.c, {
      timeoutMs: 60_000,
      what: 'the local writes of c in its topic',
    });
    // an echo would be published before this: each producer acknowledged past every applied write
    await producersPastWal(env, mesh);
    const rows = (await sql<{ n: string }>(env.url('a'), `SELECT count(*)::text AS n FROM users`)).rows[0]!.n;
    expect(rows).toBe('19');
    for (const node of ['a', 'b', 'c'] as const)
      expect(await topicEvents(mesh.app, env.config, node)).toBe(local[node]);
    expect(await conflictLog(env)).toEqual([]);
  }, 240_000);
});
