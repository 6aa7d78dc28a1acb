// Peers, a delete whose tombstone is read apart from its delete event (docs/peers.md): the
// producer follows every delete event with a tombstone, and a link that reads the tombstone in
// another chunk than its delete event (a chunk boundary, a restart from an offset between them)
// decides it as the delete itself. Its version must be the delete's: the source commit time, not
// the time Kafka received the tombstone, which is later by the replication delay (seconds after a
// node was down). Here node a is stopped, deletes a row, node b updates it afterwards (b's update
// is the later write and wins under last-writer-wins), and a restarts; with one event per chunk,
// every tombstone is read apart from its delete event. Every node must end with b's row.
import { describe, expect, it } from 'vitest';
import { startPeerNode } from '../../pipeline/peers.ts';
import { withDeadline } from '../support/deadline.ts';
import { waitUntil } from '../support/wait.ts';
import {
  linksCaughtUp,
  producersPastWal,
  sql,
  useMesh,
  waitConverged,
  waitSlotsConsistent,
} from '../support/peers.ts';

describe('peers: a tombstone read apart from its delete event', () => {
  const ctx = useMesh(3, { peers: { batchSize: 1 } });

  it('is decided at the delete commit time, not at the time Kafka received it', async () => {
    const { env, mesh } = ctx;
    if (!mesh) throw new Error('the mesh did not start');
    await waitSlotsConsistent(env);
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1, 'one@a', 'one')`);
    await waitUntil(
      async () => (await sql(env.url('c'), `SELECT 1 FROM users WHERE id = 1`)).rowCount === 1,
      { timeoutMs: 120_000, what: 'the insert at a to reach c' },
    );
    await waitConverged(env);

    // node a down (its producer and links): its delete waits in its slot
    const a = mesh.running.find((r) => r.node === 'a')!;
    mesh.running.splice(mesh.running.indexOf(a), 1);
    await withDeadline(a.stop(), 60_000, 'stopping node a');
    await sql(env.url('a'), `DELETE FROM users WHERE id = 1`);
    await sql(env.url('b'), `UPDATE users SET city = 'b-later' WHERE id = 1`);
    await waitUntil(
      async () =>
        (await sql(env.url('c'), `SELECT 1 FROM users WHERE id = 1 AND city = 'b-later'`)).rowCount === 1,
      { timeoutMs: 120_000, what: "b's update to reach c" },
    );

    // a back: its delete (earlier than b's update) reaches b and c, b's update reaches a
    mesh.running.push(await withDeadline(startPeerNode(mesh.app, 'a'), 120_000, 'restarting node a'));
    await producersPastWal(env, mesh);
    await linksCaughtUp(env, mesh.app);
    await waitConverged(env, 60_000);
    for (const { name } of env.nodes) {
      const rows = await sql<{ city: string | null }>(env.url(name), `SELECT city FROM users WHERE id = 1`);
      expect(rows.rows, `node ${name}`).toEqual([{ city: 'b-later' }]);
    }
  }, 420_000);
});
