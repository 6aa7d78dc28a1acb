// Peers under conflicting writes (docs/peers.md): seeded random writes at three nodes at once, on
// a small set of keys (inserts, re-inserts, updates, email changes, blocks, deletes), none waiting
// for replication. After quiescence: every node identical row for row, each node's topic holds
// exactly its local writes, and the rows are those of the winning versions recomputed from the
// topics' events alone; conflicts are in the conflict log. Seed: PGCDC_PEERS_SEED (printed).
// First, a partitioned phase proves "every conflict is in the conflict log" independently: with
// every node stopped, each node writes on its own (so writes of one key at two nodes are concurrent
// by construction), the test notes each write's commit time from PostgreSQL, and after the heal
// derives from its own write log, for every key written at two or more nodes, the node whose write
// wins (partition.ts) and asserts that node's conflict log names the key.
import { describe, expect, it } from 'vitest';
import { compareVersions, versionOrder } from '../../consumers/peer/version.ts';
import { rng } from '../../dev/verify/seed.ts';
import { withClient } from '../support/database.ts';
import { startPeerNode } from '../../pipeline/peers.ts';
import { withDeadline } from '../support/deadline.ts';
import {
  conflictLog,
  linksCaughtUp,
  producersPastWal,
  sql,
  useMesh,
  waitConverged,
  waitSlotsConsistent,
} from '../support/peers.ts';
import { nodeEvents, winners } from './model.ts';
import { expectedConflicts, partitionedWrites, type Written } from './partition.ts';

const KEYS = 25;
const ROUNDS = 8;
const OPS_PER_ROUND = 12;

describe('peers: conflicting writes converge', () => {
  const ctx = useMesh(3);

  it('three nodes end identical, with the winning versions, topics holding the local writes', async () => {
    const { env, mesh } = ctx;
    if (!mesh) throw new Error('the mesh did not start');
    const seed = Number(process.env.PGCDC_PEERS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`peers convergence seed: ${seed} (PGCDC_PEERS_SEED=${seed} repeats this run)`);
    const local: Record<string, number> = { a: 0, b: 0, c: 0 };

    // the partitioned phase: every node stopped, each writes alone; then the heal
    await waitSlotsConsistent(env);
    await mesh.stop();
    const written: Written[] = await partitionedWrites(env, seed, KEYS);
    for (const w of written) local[w.node]!++;
    mesh.running.push(
      ...(await Promise.all(
        env.nodes.map((x) => withDeadline(startPeerNode(mesh.app, x.name), 120_000, `restarting ${x.name}`)),
      )),
    );
    await waitConverged(env, 180_000);
    // every partitioned write published (even those that lost everywhere), then decided everywhere
    await producersPastWal(env, mesh);
    await linksCaughtUp(env, mesh.app);
    const concurrent = expectedConflicts(written, versionOrder(env.config.peers!));
    const healed = await conflictLog(env);
    for (const [id, at] of concurrent)
      expect(
        healed.some((c) => c.node === at && String(c.key.id) === id),
        `key ${id}, written at several nodes while partitioned, in the conflict log of ${at} (the winner)`,
      ).toBe(true);
    console.log(
      `peers partitioned phase: ${written.length} writes, ${concurrent.size} keys written at several nodes, ${healed.length} conflicts logged`,
    );
    expect(concurrent.size).toBeGreaterThan(0);

    await Promise.all(
      env.nodes.map(({ name, db }, i) =>
        withClient(db.url, async (c) => {
          const next = rng(seed + i * 7919);
          let n = 0;
          for (let round = 0; round < ROUNDS; round++) {
            for (let k = 0; k < OPS_PER_ROUND; k++) {
              const id = 1 + Math.floor(next() * KEYS);
              const r = next();
              n++;
              const email = `k${id}-${name}-${n}@x`;
              const res =
                r < 0.3
                  ? await c.query(
                      `INSERT INTO users (id, email, username, city) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, city = EXCLUDED.city`,
                      [id, email, `${name}${n}`, `city-${name}-${n}`],
                    )
                  : r < 0.55
                    ? await c.query(`UPDATE users SET city = $2, username = $3 WHERE id = $1`, [
                        id,
                        `city-${name}-${n}`,
                        `${name}${n}`,
                      ])
                    : r < 0.7
                      ? await c.query(`UPDATE users SET email = $2 WHERE id = $1`, [id, email])
                      : r < 0.8
                        ? await c.query(`UPDATE users SET is_blocked = NOT is_blocked WHERE id = $1`, [id])
                        : await c.query(`DELETE FROM users WHERE id = $1`, [id]);
              local[name]! += res.rowCount ?? 0;
            }
            // a pause between rounds lets part of the mesh catch up, so both fresh and stale states meet
            await new Promise((resolve) => setTimeout(resolve, Math.floor(next() * 150)));
          }
        }),
      ),
    );
    await waitConverged(env, 180_000);
    await producersPastWal(env, mesh);
    await waitConverged(env, 30_000);

    // no echo: each topic holds exactly the node's local writes
    const events = [];
    for (const { name } of env.nodes) {
      const mine = await nodeEvents(mesh.app, env.config, name);
      expect(mine.length, `events in ${name}'s topic`).toBe(local[name]);
      events.push(...mine);
    }

    // the rows are the winning versions, recomputed from the events alone
    const best = winners(env.config, events);
    const rows = await sql<{
      id: string;
      email: string;
      username: string;
      city: string | null;
      is_blocked: boolean;
    }>(env.url('a'), `SELECT id::text, email, username, city, is_blocked FROM users ORDER BY users.id`);
    const expected = [...best.entries()]
      .filter(([, e]) => e.event.op !== 'd')
      .map(([id, e]) => ({
        id,
        email: e.event.after!.email,
        username: e.event.after!.username,
        city: e.event.after!.city,
        is_blocked: e.event.after!.is_blocked,
      }))
      .sort((x, y) => Number(x.id) - Number(y.id));
    expect(rows.rows).toEqual(expected);

    // conflicts were logged, each with both versions, the kept one winning under the policy
    const log = await conflictLog(env);
    const order = versionOrder(env.config.peers!);
    console.log(
      `peers convergence: ${events.length} local writes, ${rows.rowCount} rows, ${log.length} conflicts logged`,
    );
    expect(log.length).toBeGreaterThan(0);
    for (const c of log) {
      expect(c.remote_version).toBeTruthy();
      expect(c.local_version).toBeTruthy();
      const v = (j: Record<string, unknown>) => ({
        tsUs: BigInt(j.commitTimeUs as string),
        node: j.node as string,
        lsn: BigInt(j.lsn as string),
        seq: BigInt(j.seq as string),
      });
      const remoteWins = compareVersions(v(c.remote_version), v(c.local_version!), order) > 0;
      expect(remoteWins, JSON.stringify(c)).toBe(c.resolution === 'applied-remote');
      // the link that met it, by both ends: from the arriving change's node to the logging node
      expect(c.link).toBe(`${c.remote_version.node as string}->${c.node}`);
    }
    // the metric counts the same conflicts, per link by both ends
    const metric = await mesh.app.metrics.registry.getSingleMetric('pgcdc_peer_conflicts_total')?.get();
    const byLink = new Map<string, number>();
    for (const s of metric?.values ?? [])
      byLink.set(String(s.labels.link), (byLink.get(String(s.labels.link)) ?? 0) + s.value);
    const logged = new Map<string, number>();
    for (const c of log) logged.set(c.link, (logged.get(c.link) ?? 0) + 1);
    expect(Object.fromEntries(byLink)).toEqual(Object.fromEntries(logged));
  }, 420_000);
});
