// `pgcdc status` of a peers mesh (docs/peers.md, "Status"), against real servers: three nodes
// running; after conflicting writes every node and all six links show, each link caught up (lag 0)
// with the conflicts it met at its node and the last one, healthy; the CLI prints the same as text
// and --json; with the mesh stopped it is unhealthy and names the nodes.
import { describe, expect, it } from 'vitest';
import { gatherPeersStatus, healthOfPeers, type PeersStatus } from '../../ops/peers-status.ts';
import { createPgConnections } from '../../pipeline/postgres.ts';
import { json } from '../support/ops.ts';
import { runCli } from '../support/pipeline.ts';
import { waitUntil } from '../support/wait.ts';
import { meshConfigFile, sql, startMesh, useMesh, waitConverged } from '../support/peers.ts';

describe('peers: status', () => {
  const ctx = useMesh(3, { start: false });

  it('shows every node and link, lag and conflicts; unhealthy when stopped', async () => {
    const { env } = ctx;
    let mesh = (ctx.mesh = await startMesh(env));
    await sql(env.url('a'), `INSERT INTO users (id, email, username) VALUES (1, 'one@a', 'one')`);
    await waitConverged(env);
    // the same row changed at a and b while no link runs: a conflict at each of them
    await mesh.stop();
    await sql(env.url('a'), `UPDATE users SET city = 'Aarau' WHERE id = 1`);
    await sql(env.url('b'), `UPDATE users SET city = 'Bern' WHERE id = 1`);
    mesh = ctx.mesh = await startMesh(env);
    await waitConverged(env);
    const file = meshConfigFile(env);
    const pgc = createPgConnections();
    let s: PeersStatus | undefined;
    await waitUntil(
      async () => {
        s = await gatherPeersStatus(env.config, mesh.app.kafka, pgc);
        return (
          s.links.every((l) => l.totalLag === 0 && l.lastStatus === 'OK') &&
          s.nodes.every((n) => n.producer.running === true) &&
          s.links.some((l) => l.lastConflict !== null)
        );
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: `every link caught up: ${JSON.stringify(s?.links)}` },
    );
    expect(s!.nodes.map((n) => n.name)).toEqual(['a', 'b', 'c']);
    for (const l of s!.links) expect(l.link).toBe(`${l.from}->${l.to}`);
    expect(s!.links.map((l) => `${l.from}->${l.to}`).sort()).toEqual(
      ['a->b', 'a->c', 'b->a', 'b->c', 'c->a', 'c->b'].sort(),
    );
    expect(healthOfPeers(s!)).toEqual({ healthy: true, problems: [] });
    // b's update lost at a or a's at b (whichever was later wins): one of those links met it
    const met = s!.links.filter((l) => (l.conflicts ?? 0) > 0);
    expect(met.length).toBeGreaterThan(0);
    for (const l of met) {
      expect(['a->b', 'b->a', 'a->c', 'b->c']).toContain(`${l.from}->${l.to}`);
      expect(l.lastConflict?.kind).toBe('update-update');
      expect(String((l.lastConflict?.key as { id: unknown }).id)).toBe('1');
    }
    const total = s!.nodes.reduce((n, x) => n + (x.conflicts ?? 0), 0);
    expect(met.reduce((n, l) => n + l.conflicts!, 0)).toBe(total);

    const text = await runCli(['status', '-c', file]);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^pgcdc status of mesh \S+ \(last-writer-wins\)/);
    expect(text.stdout).toMatch(/^node a +priority 3/m);
    expect(text.stdout).toMatch(/^c -> b +OK +0 /m);
    expect(text.stdout).toMatch(/update-update/);
    expect(text.stdout).toMatch(/health: OK/);
    const j = json<PeersStatus & { healthy: boolean }>(await runCli(['status', '-c', file, '--json']));
    expect(j.healthy).toBe(true);
    expect(j.links).toHaveLength(6);

    await mesh.stop();
    await waitUntil(
      async () => !healthOfPeers(await gatherPeersStatus(env.config, mesh.app.kafka, pgc)).healthy,
      { timeoutMs: 60_000, what: 'the stopped mesh to be unhealthy' },
    );
    const down = await runCli(['status', '-c', file]);
    expect(down.code).toBe(3);
    expect(down.stdout).toMatch(/node a: producer: not running/);
  }, 400_000);
});
