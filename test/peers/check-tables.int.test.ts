// `pgcdc check` on a mesh of several tables (docs/peers.md, "Several tables and differing
// columns"), against real servers: every table of every node is checked against that node's
// contract of it and as the links' target, not only the first table. A sound two-table mesh
// reports each table; a node whose second table differs from the contract, or lacks the write
// privileges on it, is an ERROR naming that node and that table.
import { describe, expect, it } from 'vitest';
import { createFixtureTables, fixtureContractDir } from '../../dev/tables/index.ts';
import { runChecks, type CheckResult } from '../../ops/check/index.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { createPgConnections } from '../../pipeline/postgres.ts';
import { randomName, withClient } from '../support/index.ts';
import { testApp } from '../support/pipeline.ts';
import { useMesh } from '../support/peers.ts';

const ctx = useMesh(2, {
  start: false,
  more: { source: { tables: ['public.users', 'public.groups'], contracts: fixtureContractDir() } },
});

async function check(url?: (node: string) => string): Promise<CheckResult[]> {
  const raw = structuredClone(ctx.env.raw) as { peers: { nodes: { name: string; url: string }[] } };
  if (url) for (const n of raw.peers.nodes) n.url = url(n.name);
  const config = parseConfig(raw);
  return runChecks(config, testApp(config).kafka, createPgConnections());
}
const all = (results: CheckResult[], id: string) => results.filter((r) => r.id === id);
const errors = (results: CheckResult[]) => results.filter((r) => r.level === 'ERROR');

describe('pgcdc check, peers with several tables', () => {
  it('checks every table at every node: a second table that differs is an error naming it', async () => {
    for (const { db } of ctx.env.nodes)
      await withClient(db.url, async (c) => {
        await createFixtureTables(db.url);
        await c.query('DROP TABLE memberships');
      });
    const sound = await check();
    expect(errors(sound), JSON.stringify(errors(sound), null, 1)).toEqual([]);
    for (const n of ['a', 'b']) {
      const columns = all(sound, `peers.${n}.columns`);
      expect(columns.map((r) => r.level)).toEqual(['OK', 'OK']); // users and groups, each its own verdict
      expect(all(sound, `peers.${n}.write`).map((r) => r.message)).toEqual([
        expect.stringMatching(/public\.users/),
        expect.stringMatching(/public\.groups/),
      ]);
    }

    // node b's groups no longer matches the contract: named at b, for groups only
    await withClient(ctx.env.url('b'), (c) => c.query('ALTER TABLE groups RENAME COLUMN name TO title'));
    const drifted = await check();
    const bad = errors(drifted);
    expect(bad.map((r) => r.id)).toEqual(['peers.b.columns']);
    expect(bad[0]!.message).toMatch(/table public\.groups does not match the contract/);
    expect(bad[0]!.message).toMatch(/name missing/);
    await withClient(ctx.env.url('b'), (c) => c.query('ALTER TABLE groups RENAME COLUMN title TO name'));

    // a role that may write users but not groups at a: the grant for groups, which clears it
    const role = randomName('peerrole');
    const admin = ctx.env.url('a');
    await withClient(admin, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN REPLICATION PASSWORD 'pw'`);
      await c.query(`GRANT ALL ON users TO ${role}`);
      await c.query(`GRANT SELECT ON groups TO ${role}`);
    });
    try {
      const asRole = (node: string) => {
        if (node !== 'a') return ctx.env.url(node);
        const u = new URL(ctx.env.url('a'));
        u.username = role;
        u.password = 'pw';
        return u.toString();
      };
      const denied = await check(asRole);
      const write = all(denied, 'peers.a.write');
      expect(write.map((r) => r.level).sort()).toEqual(['ERROR', 'OK']);
      const err = write.find((r) => r.level === 'ERROR')!;
      expect(err.message).toMatch(/public\.groups/);
      expect(err.fix).toMatch(/ON public\.groups TO/);
    } finally {
      await withClient(admin, async (c) => {
        await c.query(`REASSIGN OWNED BY ${role} TO CURRENT_USER`);
        await c.query(`DROP OWNED BY ${role}`);
        await c.query(`DROP ROLE ${role}`);
      });
    }
  }, 180_000);
});
