// `pgcdc check` on a peers configuration (docs/peers.md, "Checking a mesh"), against real servers:
// a sound mesh passes with every node checked (the slot and the tables beside the table reported as
// created on the first run, then as present), and each peer-specific misconfiguration is an ERROR
// naming the node, the problem and its fix, which, applied, clears it: a role without the
// replication-origin functions or the table's privileges, a node with track_commit_timestamp off,
// an unreachable node, two nodes on one database.
import { describe, expect, it } from 'vitest';
import { createUsersTable } from '../../dev/stack/stack.ts';
import { runChecks, type CheckResult } from '../../ops/check/index.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { createPgConnections } from '../../pipeline/postgres.ts';
import { randomName, withClient } from '../support/index.ts';
import { freePort, startTinyCluster } from '../support/ops.ts';
import { testApp } from '../support/pipeline.ts';
import { startMesh, useMesh } from '../support/peers.ts';

const ctx = useMesh(3, { start: false });

/** The checks of the mesh with node `name`'s URL (or other peers keys) changed. */
async function check(
  change: (raw: { peers: { nodes: { name: string; url: string }[] } }) => void = () => {},
) {
  const raw = structuredClone(ctx.env.raw) as { peers: { nodes: { name: string; url: string }[] } };
  change(raw);
  const config = parseConfig(raw);
  return runChecks(config, testApp(config).kafka, createPgConnections());
}
const find = (results: CheckResult[], id: string) => results.find((r) => r.id === id);
const errors = (results: CheckResult[]) => results.filter((r) => r.level === 'ERROR');
const setUrl =
  (node: string, url: string) => (raw: { peers: { nodes: { name: string; url: string }[] } }) => {
    raw.peers.nodes.find((n) => n.name === node)!.url = url;
  };

describe('pgcdc check, peers', () => {
  it('passes a sound mesh; what the first run creates is a warning, then present', async () => {
    const before = await check();
    expect(errors(before), JSON.stringify(before, null, 1)).toEqual([]);
    for (const n of ['a', 'b', 'c']) {
      expect(find(before, `peers.${n}.connect`)?.level).toBe('OK');
      expect(find(before, `peers.${n}.wal_level`)?.level).toBe('OK');
      expect(find(before, `peers.${n}.track_commit_timestamp`)?.level).toBe('OK');
      expect(find(before, `peers.${n}.origins`)?.level).toBe('OK');
      expect(find(before, `peers.${n}.write`)?.level).toBe('OK');
      expect(find(before, `peers.${n}.slot`)).toMatchObject({ level: 'WARN' });
      expect(find(before, `peers.${n}.slot`)?.message).toMatch(/pgcdc peers run will create it/);
      expect(find(before, `peers.${n}.beside`)?.level).toBe('WARN');
    }
    expect(find(before, 'peers.nodes')).toMatchObject({ level: 'OK', message: '3 distinct node databases' });
    const mesh = (ctx.mesh = await startMesh(ctx.env));
    await mesh.stop();
    const after = await check();
    expect(errors(after)).toEqual([]);
    for (const n of ['a', 'b', 'c']) {
      expect(find(after, `peers.${n}.beside`)?.level).toBe('OK');
      expect(find(after, `peers.${n}.slot`)?.level).toBe('OK');
      expect(find(after, `peers.${n}.publication`)?.level).toBe('OK');
    }
  }, 300_000);

  it('a role without the origin functions or the table rights: errors with the grants, which clear them', async () => {
    const role = randomName('peerrole');
    const admin = ctx.env.url('b');
    await withClient(admin, (c) => c.query(`CREATE ROLE ${role} LOGIN REPLICATION PASSWORD 'pw'`));
    try {
      const u = new URL(ctx.env.url('b'));
      u.username = role;
      u.password = 'pw';
      const results = await check(setUrl('b', u.toString()));
      const origins = find(results, 'peers.b.origins');
      expect(origins?.level).toBe('ERROR');
      expect(origins?.message).toMatch(/echo/);
      const write = find(results, 'peers.b.write');
      expect(write?.level).toBe('ERROR');
      // the fixes as given, run by a superuser, clear both
      await withClient(admin, async (c) => {
        for (const stmt of `${origins!.fix} ${write!.fix}`.split(/;\s*/).filter(Boolean)) await c.query(stmt);
      });
      const fixed = await check(setUrl('b', u.toString()));
      expect(find(fixed, 'peers.b.origins')?.level).toBe('OK');
      expect(find(fixed, 'peers.b.write')?.level).toBe('OK');
      expect(find(fixed, 'peers.a.origins')?.level).toBe('OK');
    } finally {
      await withClient(admin, async (c) => {
        await c.query(`REASSIGN OWNED BY ${role} TO CURRENT_USER`);
        await c.query(`DROP OWNED BY ${role}`);
      }).catch(() => undefined);
      for (const { name } of ctx.env.nodes)
        await withClient(ctx.env.url(name), (c) => c.query(`DROP OWNED BY ${role}`)).catch(() => undefined);
      await withClient(admin, (c) => c.query(`DROP ROLE ${role}`));
    }
  }, 120_000);

  it('track_commit_timestamp off at one node: an error naming that node', async () => {
    const cluster = await startTinyCluster({ wal_level: 'logical', track_commit_timestamp: 'off' });
    try {
      await withClient(cluster.url(), (c) => c.query(`CREATE DATABASE peer_c`));
      await createUsersTable(cluster.url('peer_c'));
      const results = await check(setUrl('c', cluster.url('peer_c')));
      expect(find(results, 'peers.c.track_commit_timestamp')).toMatchObject({
        level: 'ERROR',
        fix: expect.stringMatching(/track_commit_timestamp = on/) as unknown,
      });
      expect(find(results, 'peers.a.track_commit_timestamp')?.level).toBe('OK');
    } finally {
      await cluster.stop();
    }
  }, 180_000);

  it('origins of another mesh holding the places the links need: an error naming them', async () => {
    // an origin keeps one of the server's max_replication_slots places from its first use until it
    // is dropped: 3 left over of 4 leave 1 for the 2 links into c
    const cluster = await startTinyCluster({
      wal_level: 'logical',
      track_commit_timestamp: 'on',
      max_replication_slots: '4',
    });
    try {
      await withClient(cluster.url(), (c) => c.query(`CREATE DATABASE peer_c`));
      await createUsersTable(cluster.url('peer_c'));
      const leftovers = ['pgcdc_old_a_c', 'pgcdc_old_b_c', 'pgcdc_old_d_c'];
      await withClient(cluster.url(), async (c) => {
        for (const o of leftovers) {
          await c.query(`SELECT pg_replication_origin_create($1)`, [o]);
          await c.query(`SELECT pg_replication_origin_session_setup($1)`, [o]);
          await c.query(`SELECT pg_replication_origin_session_reset()`);
        }
      });
      const full = await check(setUrl('c', cluster.url('peer_c')));
      expect(find(full, 'peers.c.origin_capacity')).toMatchObject({
        level: 'ERROR',
        fix: expect.stringMatching(/pg_replication_origin_drop/) as unknown,
      });
      expect(find(full, 'peers.c.origin_capacity')?.message).toMatch(/3 other origins hold a place/);
      expect(find(full, 'peers.a.origin_capacity')).toBeUndefined();
      // the printed fix clears it
      await withClient(cluster.url(), async (c) => {
        for (const o of leftovers) await c.query(`SELECT pg_replication_origin_drop($1)`, [o]);
      });
      expect(
        find(await check(setUrl('c', cluster.url('peer_c'))), 'peers.c.origin_capacity'),
      ).toBeUndefined();
    } finally {
      await cluster.stop();
    }
  }, 180_000);

  it('an unreachable node and two nodes on one database are errors', async () => {
    const port = await freePort();
    const down = new URL(ctx.env.url('c'));
    down.port = String(port);
    const unreachable = await check(setUrl('c', down.toString()));
    expect(find(unreachable, 'peers.c.connect')?.level).toBe('ERROR');
    expect(find(unreachable, 'peers.a.connect')?.level).toBe('OK');
    const same = await check(setUrl('c', ctx.env.url('a')));
    expect(find(same, 'peers.nodes')).toMatchObject({ level: 'ERROR' });
    expect(find(same, 'peers.nodes')?.message).toMatch(/nodes a and c are the same database/);
  }, 120_000);
});
