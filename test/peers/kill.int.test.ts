// Peers, processes killed mid-stream (docs/peers.md): three nodes, each its own `pgcdc peers run
// --node` process. While every node takes writes, node b's process (its producer and its two
// links) is SIGKILLed and started again. After quiescence the nodes are identical row for row and
// each topic holds each local write (a killed producer may publish some twice: distinct events).
import { afterAll, describe, expect, it } from 'vitest';
import { withClient } from '../support/database.ts';
import { spawnCli, testApp, type CliChild } from '../support/pipeline.ts';
import { waitUntil } from '../support/wait.ts';
import { meshConfigFile, sql, useMesh, waitConverged, waitSlotsConsistent } from '../support/peers.ts';
import { nodeEvents } from './model.ts';

describe('peers: a node process SIGKILLed mid-stream', () => {
  const ctx = useMesh(3, { start: false });
  const children = new Map<string, CliChild>();

  // registered after useMesh's: runs before it drops the mesh
  afterAll(async () => {
    for (const c of children.values()) await c.kill('SIGTERM');
  }, 180_000);

  it('converges after the kill and restart', async () => {
    const { env } = ctx;
    const app = () => testApp(env.config);
    const file = meshConfigFile(env);
    const start = (node: string) =>
      children.set(node, spawnCli(['peers', 'run', '--node', node, '-c', file]));
    for (const { name } of env.nodes) start(name);
    // the slots are consistent (a write committed before would not be captured), then a first
    // write makes the round
    await waitSlotsConsistent(env, (name) => `: ${children.get(name)?.output().slice(-2000)}`);
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1, 'k1@a', 'one')`);
    await waitUntil(
      async () => (await sql(env.url('c'), `SELECT 1 FROM users WHERE id = 1`)).rowCount === 1,
      {
        timeoutMs: 120_000,
        what: 'the first write to reach c',
      },
    );
    const local: Record<string, number> = { a: 1, b: 0, c: 0 };
    let stop = false;
    const writers = env.nodes.map(({ name, db }, i) =>
      withClient(db.url, async (c) => {
        for (let n = 0; !stop; n++) {
          const id = 2 + ((n * 7 + i * 3) % 40);
          const res =
            n % 5 === 4
              ? await c.query(`DELETE FROM users WHERE id = $1`, [id])
              : await c.query(
                  `INSERT INTO users (id, email, username) VALUES ($1, $2, $3)
                   ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, email = EXCLUDED.email`,
                  [id, `k${id}-${name}-${n}@x`, `${name}${n}`],
                );
          local[name]! += res.rowCount ?? 0;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }),
    );
    await waitUntil(() => local.b! > 60, { timeoutMs: 60_000, what: '60 writes at b' });
    await children.get('b')!.kill('SIGKILL');
    await waitUntil(() => local.a! > 150, { timeoutMs: 60_000, what: 'writes while b is down' });
    start('b');
    await waitUntil(() => local.c! > 250, { timeoutMs: 120_000, what: 'writes after b restarted' });
    stop = true;
    await Promise.all(writers);
    await waitConverged(env, 180_000);
    const a = app();
    for (const { name } of env.nodes) {
      const events = await nodeEvents(a, env.config, name);
      expect(events.length, `distinct events in ${name}'s topic`).toBe(local[name]);
    }
  }, 600_000);
});
