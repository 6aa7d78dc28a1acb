// Peers, the policies other than the defaults (docs/peers.md, "Conflicts"), against real servers:
// - `policy: priority`: within a window the higher-priority node wins even with the earlier write
//   (under last-writer-wins the later one would); every node ends with it, as the independent
//   model recomputed from the topics says.
// - `onUniqueConflict: keep-local`: the same email registered at two nodes is not resolved: each
//   node keeps the registration it had, the arriving one is logged `left-for-operator` with both
//   rows, and nothing blocks (a later write still reaches every node).
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/wait.ts';
import {
  conflictLog,
  linksCaughtUp,
  producersPastWal,
  sql,
  startMesh,
  useMesh,
  waitConverged,
} from '../support/peers.ts';
import { nodeEvents, winners } from './model.ts';

const DAY_MS = 86_400_000;

describe('peers: policy priority', () => {
  const ctx = useMesh(3, { peers: { policy: 'priority', priorityWindowMs: DAY_MS } });

  it("the higher node's earlier write wins within the window, at every node", async () => {
    const { env, mesh } = ctx;
    if (!mesh) throw new Error('the mesh did not start');
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1, 'one@a', 'one')`);
    await waitConverged(env);
    // a (priority 3) writes first, c (priority 1) later, neither seeing the other's write
    await mesh.stop();
    await sql(env.url('a'), `UPDATE users SET city = 'a-first' WHERE id = 1`);
    await sql(env.url('c'), `UPDATE users SET city = 'c-later' WHERE id = 1`);
    const m = (ctx.mesh = await startMesh(env));
    await producersPastWal(env, m);
    await linksCaughtUp(env, m.app);
    await waitConverged(env);

    const events = (await Promise.all(env.nodes.map((x) => nodeEvents(m.app, env.config, x.name)))).flat();
    const updates = events.filter((e) => e.id === '1' && e.event.op === 'u');
    const [a, c] = ['a', 'c'].map((n) => updates.find((e) => e.node === n)!);
    const window = (ts: bigint | null) => (ts ?? 0n) / BigInt(DAY_MS * 1000);
    // the two writes fall in one window unless a day boundary passed between them
    const expected = window(a!.version.tsUs) === window(c!.version.tsUs) ? 'a-first' : 'c-later';
    expect(c!.version.tsUs! > a!.version.tsUs!).toBe(true);
    expect(winners(env.config, events).get('1')?.event.after?.city).toBe(expected);
    for (const { name } of env.nodes) {
      const rows = await sql<{ city: string }>(env.url(name), `SELECT city FROM users WHERE id = 1`);
      expect(rows.rows, `node ${name}`).toEqual([{ city: expected }]);
    }
    if (expected === 'a-first') {
      // a kept its own write against c's later one: logged there, by both ends of the link
      const atA = (await conflictLog(env)).filter((x) => x.node === 'a');
      expect(atA.map((x) => [x.link, x.kind, x.resolution])).toContainEqual([
        'c->a',
        'update-update',
        'kept-local',
      ]);
    }
  }, 300_000);
});

describe('peers: onUniqueConflict keep-local', () => {
  const ctx = useMesh(3, { peers: { onUniqueConflict: 'keep-local' } });

  it('leaves the same email at two nodes for an operator, logged, and blocks nothing', async () => {
    const { env, mesh } = ctx;
    if (!mesh) throw new Error('the mesh did not start');
    await mesh.stop();
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1001, 'same@x', 'alice-a')`);
    await sql(env.url('b'), `INSERT INTO users (id, email, username) VALUES (2001, 'same@x', 'alice-b')`);
    const m = (ctx.mesh = await startMesh(env));
    await producersPastWal(env, m);
    await linksCaughtUp(env, m.app);
    const holder = async (node: string) =>
      (await sql<{ id: string }>(env.url(node), `SELECT id::text FROM users WHERE email = 'same@x'`)).rows;
    // each node keeps the registration it had; c the one that reached it first
    expect(await holder('a')).toEqual([{ id: '1001' }]);
    expect(await holder('b')).toEqual([{ id: '2001' }]);
    const atC = await holder('c');
    expect(atC).toHaveLength(1);
    const unique = (await conflictLog(env)).filter((x) => x.kind === 'unique');
    for (const x of unique) {
      expect(x.resolution).toBe('left-for-operator');
      expect(x.link).toBe(`${x.remote_version.node as string}->${x.node}`);
      expect([x.key, x.other_key].map((k) => String(k?.id)).sort()).toEqual(['1001', '2001']);
      expect(x.local_row).toBeTruthy();
      expect(x.remote_row).toBeTruthy();
    }
    expect(unique.map((x) => x.link).sort()).toEqual(
      ['a->b', 'b->a', atC[0]!.id === '1001' ? 'b->c' : 'a->c'].sort(),
    );
    // nothing blocked: a later write at a reaches every node
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1002, 'later@x', 'later')`);
    for (const { name } of env.nodes)
      await waitUntil(
        async () => (await sql(env.url(name), `SELECT 1 FROM users WHERE id = 1002`)).rowCount === 1,
        { timeoutMs: 60_000, what: `a later write to reach ${name}` },
      );
  }, 300_000);
});
