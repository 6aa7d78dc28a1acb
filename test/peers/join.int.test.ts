// Peers, joining a node (docs/peers.md, "Joining a node"): a mesh of three nodes takes writes,
// conflicting ones included; then a fourth, empty node is added to the configuration and every
// node restarts with it. The new node's links are new consumer groups and read the other nodes'
// topics from the beginning: its initial feed is every node's history, decided by the same
// version order as everywhere (duplicates between the feeding nodes follow the policy). It ends
// identical to the others, and its own later writes reach them.
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config/load.ts';
import { startPeerNode, type RunningNode } from '../../pipeline/peers.ts';
import { withDeadline } from '../support/deadline.ts';
import { STOP_DEADLINE_MS, testApp } from '../support/pipeline.ts';
import { waitUntil } from '../support/wait.ts';
import { compareNodes, sql, startMesh, useMesh, waitConverged } from '../support/peers.ts';

describe('peers: a new node joins', () => {
  const ctx = useMesh(4, { start: false });
  const three: RunningNode[] = [];

  // registered after useMesh's: runs before it
  afterAll(async () => {
    for (const r of three.splice(0)) await withDeadline(r.stop(), STOP_DEADLINE_MS, `stopping ${r.node}`);
  }, 180_000);

  it('is fed every node history, converges, then streams', async () => {
    const { env } = ctx;
    // the mesh before: a, b, c (the same file without d)
    const raw = structuredClone(env.raw) as { peers: { nodes: unknown[] } };
    raw.peers.nodes = raw.peers.nodes.slice(0, 3);
    const before = parseConfig(raw);
    const app = testApp(before);
    three.push(...(await Promise.all(['a', 'b', 'c'].map((n) => startPeerNode(app, n)))));
    const threeEqual = { ...env, nodes: env.nodes.slice(0, 3) };
    for (let i = 1; i <= 10; i++)
      await sql(
        env.url(['a', 'b', 'c'][i % 3]!),
        `INSERT INTO users (id, email, username) VALUES ($1, $2, $3)`,
        [i, `j${i}@x`, `u${i}`],
      );
    await waitConverged(threeEqual);
    // conflicting and deleting writes, so that the nodes' topics disagree about some keys
    await Promise.all([
      sql(env.url('a'), `UPDATE users SET city = 'Aarau' WHERE id <= 4`),
      sql(env.url('b'), `UPDATE users SET city = 'Bern' WHERE id <= 4`),
      sql(env.url('c'), `DELETE FROM users WHERE id IN (5, 6)`),
      sql(env.url('b'), `UPDATE users SET username = 'from-b' WHERE id = 6`),
    ]);
    await waitConverged(threeEqual);
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (5, 'j5-again@x', 'again')`);
    await waitConverged(threeEqual);
    expect((await sql(env.url('d'), `SELECT 1 FROM users`)).rowCount).toBe(0);

    // d joins: every node restarts with the file that names it
    for (const r of three.splice(0)) await withDeadline(r.stop(), STOP_DEADLINE_MS, `stopping ${r.node}`);
    ctx.mesh = await startMesh(env);
    await waitConverged(env, 180_000);
    expect(await compareNodes(env)).toBeUndefined();
    const rows = (await sql<{ n: string }>(env.url('d'), `SELECT count(*)::text AS n FROM users`)).rows[0]!.n;
    expect(rows).toBe(
      (await sql<{ n: string }>(env.url('a'), `SELECT count(*)::text AS n FROM users`)).rows[0]!.n,
    );

    // and then streams both ways
    await sql(env.url('d'), `INSERT INTO users (id, email, username) VALUES (400, 'd@x', 'from-d')`);
    await sql(env.url('a'), `UPDATE users SET city = 'Zug' WHERE id = 1`);
    await waitUntil(
      async () =>
        (await sql(env.url('b'), `SELECT 1 FROM users WHERE id = 400`)).rowCount === 1 &&
        (await sql(env.url('d'), `SELECT 1 FROM users WHERE id = 1 AND city = 'Zug'`)).rowCount === 1,
      { timeoutMs: 90_000, what: "d's write at b and a's at d" },
    );
    await waitConverged(env);
  }, 600_000);
});
