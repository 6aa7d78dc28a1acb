// Pruning deleted keys' versions (docs/peers.md, "Pruning"; consumers/peer/prune.ts) must never
// let an older change that is still on its way resurrect a deleted row. Node c is stopped and
// updates user 1 (its producer is down: the change waits in c's slot); node a then deletes user 1
// (later). b holds a's delete as a version row, a its local delete. a and b keep writing, so
// their links progress and prune often (every 300 ms, no age or margin allowance): the delete
// must stay at both, because the link from c has not decided anything after it. c restarts, its
// older update reaches a and b and loses there; the three nodes agree that user 1 is gone. Only
// when c's link has decided later changes of c's are both rows pruned, and the mesh still agrees.
// A rule that pruned on age or on the other links' progress alone would resurrect user 1 at a and b.
import { describe, expect, it } from 'vitest';
import type { App } from '../../pipeline/compose.ts';
import { startPeerNode } from '../../pipeline/peers.ts';
import { withDeadline } from '../support/deadline.ts';
import {
  compareNodes,
  linksCaughtUp,
  sql,
  useMesh,
  waitConverged,
  waitSlotsConsistent,
} from '../support/peers.ts';
import { waitUntil } from '../support/wait.ts';

async function metric(app: App, name: string, link?: string): Promise<number> {
  const m = await app.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => link === undefined || v.labels.link === link)
    .reduce((a, v) => a + v.value, 0);
}

const tombstoneAt = async (url: string) =>
  (await sql(url, `SELECT 1 FROM users_pgcdc_peer WHERE id = 1 AND deleted`)).rowCount === 1;
const localDeleteAt = async (url: string) =>
  (await sql(url, `SELECT 1 FROM users_pgcdc_local_deleted WHERE id = 1`)).rowCount! > 0;

describe('peers: pruning deleted versions', () => {
  const ctx = useMesh(3, { peers: { prune: { intervalMs: 300, afterMs: 0, marginMs: 0, batch: 1000 } } });

  it('keeps a delete while an older change may still arrive, prunes it after', async () => {
    const { env, mesh } = ctx;
    if (!mesh) throw new Error('the mesh did not start');
    await waitSlotsConsistent(env);
    const base = { a: 100, b: 200, c: 300 } as const;
    // 30 keys per node: every partition of every topic carries changes, so every link has progress
    for (const [node, from] of Object.entries(base))
      await sql(
        env.url(node),
        `INSERT INTO users (id, email, username) SELECT i, 'u' || i || '@x', 'u' || i FROM generate_series($1::int, $1::int + 29) i`,
        [from + 1],
      );
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1, 'one@a', 'one')`);
    await waitConverged(env);
    await linksCaughtUp(env, mesh.app);

    const c = mesh.running.findIndex((r) => r.node === 'c');
    await withDeadline(mesh.running[c]!.stop(), 45_000, 'stopping node c');
    mesh.running.splice(c, 1);
    await sql(env.url('c'), `UPDATE users SET city = 'late-c' WHERE id = 1`);
    await sql(env.url('a'), `DELETE FROM users WHERE id = 1`);
    await waitUntil(() => tombstoneAt(env.url('b')), { timeoutMs: 60_000, what: "a's delete at b" });
    expect(await localDeleteAt(env.url('a'))).toBe(true);

    // a and b write on: their links progress on every partition and prune again and again
    let n = 0;
    const writeOn = async () => {
      n++;
      for (const node of ['a', 'b'] as const)
        await sql(env.url(node), `UPDATE users SET city = $2 WHERE id BETWEEN $1 AND $1 + 29`, [
          base[node] + 1,
          `w${n}`,
        ]);
    };
    const runs = async () =>
      Math.min(
        await metric(mesh.app, 'pgcdc_peer_prune_runs_total', 'a->b'),
        await metric(mesh.app, 'pgcdc_peer_prune_runs_total', 'b->a'),
      );
    const before = await runs();
    await waitUntil(async () => (await writeOn(), (await runs()) >= before + 5), {
      timeoutMs: 120_000,
      intervalMs: 200,
      what: 'five pruning runs at a and at b while c is down',
    });
    expect(await tombstoneAt(env.url('b')), "a's delete at b while c's older update may arrive").toBe(true);
    expect(await localDeleteAt(env.url('a')), "a's local delete while c's older update may arrive").toBe(
      true,
    );

    // c comes back: its older update loses everywhere
    mesh.running.push(await withDeadline(startPeerNode(mesh.app, 'c'), 120_000, 'restarting node c'));
    await linksCaughtUp(env, mesh.app);
    await waitConverged(env);
    for (const node of ['a', 'b', 'c'])
      expect(
        (await sql(env.url(node), `SELECT 1 FROM users WHERE id = 1`)).rowCount,
        `user 1 at ${node}`,
      ).toBe(0);

    // once c's link decided later changes of c's, both go
    await waitUntil(
      async () => {
        n++;
        for (const node of ['a', 'b', 'c'] as const)
          await sql(env.url(node), `UPDATE users SET city = $2 WHERE id BETWEEN $1 AND $1 + 29`, [
            base[node] + 1,
            `p${n}`,
          ]);
        return !(await tombstoneAt(env.url('b'))) && !(await localDeleteAt(env.url('a')));
      },
      { timeoutMs: 120_000, intervalMs: 300, what: "a's delete pruned at b and at a" },
    );
    const pruned = await metric(mesh.app, 'pgcdc_peer_pruned_total');
    expect(pruned).toBeGreaterThan(0);
    await linksCaughtUp(env, mesh.app);
    await waitConverged(env);
    expect(await compareNodes(env)).toBeUndefined();
    for (const node of ['a', 'b', 'c'])
      expect(
        (await sql(env.url(node), `SELECT 1 FROM users WHERE id = 1`)).rowCount,
        `user 1 at ${node}`,
      ).toBe(0);
    console.log(
      `peers prune: ${pruned} rows pruned, ${await metric(mesh.app, 'pgcdc_peer_prune_runs_total')} runs`,
    );
  }, 420_000);
});
