// Peers, unique conflicts across nodes (docs/peers.md): the same email registered at two nodes
// under two ids before either registration arrived at the other. Resolved by the policy
// (last-writer-wins: the later registration keeps the email; the other row is removed at every
// node), recorded in the conflict log with both rows, and nothing blocks: a later write flows.
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/wait.ts';
import { conflictLog, sql, startMesh, useMesh, waitConverged } from '../support/peers.ts';

describe('peers: the same email at two nodes', () => {
  const ctx = useMesh(3);

  it('is recorded, resolved by last-writer-wins, and blocks nothing', async () => {
    const { env, mesh } = ctx;
    if (!mesh) throw new Error('the mesh did not start');
    // slots and topics exist; then both registrations happen while no link runs
    await mesh.stop();
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1001, 'same@x', 'alice-a')`);
    await sql(env.url('b'), `INSERT INTO users (id, email, username) VALUES (2001, 'same@x', 'alice-b')`);
    ctx.mesh = await startMesh(env);
    await waitConverged(env);
    for (const { name } of env.nodes) {
      const rows = await sql<{ id: string }>(
        env.url(name),
        `SELECT id::text FROM users WHERE email = 'same@x'`,
      );
      expect(rows.rows, `node ${name}`).toEqual([{ id: '2001' }]);
      expect((await sql(env.url(name), `SELECT 1 FROM users WHERE id = 1001`)).rowCount, `node ${name}`).toBe(
        0,
      );
    }
    const log = (await conflictLog(env)).filter((c) => c.kind === 'unique');
    expect(log.length).toBeGreaterThan(0);
    for (const c of log) {
      expect([c.key, c.other_key].map((k) => String(k?.id)).sort()).toEqual(['1001', '2001']);
      expect(c.local_row).toBeTruthy();
      expect(c.remote_row).toBeTruthy();
    }
    // nothing blocked: a later write at a reaches every node
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1002, 'later@x', 'later')`);
    await waitUntil(
      async () => (await sql(env.url('c'), `SELECT 1 FROM users WHERE id = 1002`)).rowCount === 1,
      { timeoutMs: 60_000, what: 'a later write to reach c' },
    );
    await waitConverged(env);
  }, 300_000);
});
