// Peers with several tables and installations that name columns differently (docs/peers.md,
// "Several tables and differing columns"): three nodes hold users and groups; node b calls
// users.email `mail`, users.username `login` and groups.name `title`; node c calls
// groups.description `about`. Each renaming node has its own contracts (its column names); the
// links rename through the target mapping. Seeded concurrent writes at every node on both tables
// (inserts, updates of renamed and plain columns, deletes, re-inserts, some on the same keys at
// once); after quiescence every node holds the same rows, compared row by row by reading each
// node's table under its own column names, independently of pgcdc.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createFixtureTables, fixtureContractDir } from '../../dev/tables/index.ts';
import { rng } from '../../dev/verify/seed.ts';
import { startPeerNode } from '../../pipeline/peers.ts';
import { loadContract } from '../../schemas/contract.ts';
import { withClient } from '../support/database.ts';
import { withDeadline } from '../support/deadline.ts';
import { testApp } from '../support/pipeline.ts';
import { conflictLog, sql, useMesh, waitSlotsConsistent } from '../support/peers.ts';
import { waitUntil } from '../support/wait.ts';

type Renames = Record<string, Record<string, string>>;
const RENAMES: Record<string, Renames> = {
  a: {},
  b: { users: { email: 'mail', username: 'login' }, groups: { name: 'title' } },
  c: { groups: { description: 'about' } },
};
const MESH_CONTRACTS = fixtureContractDir();

/** A node's contracts: the mesh's with its columns renamed (what `pgcdc contract generate` would write there). */
function nodeContracts(renames: Renames): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-peer-contracts-'));
  for (const table of ['users', 'groups']) {
    const rename = renames[table] ?? {};
    for (const part of ['key', 'value']) {
      const file = `${table}-${part}.avsc`;
      const schema = JSON.parse(readFileSync(path.join(MESH_CONTRACTS, file), 'utf8')) as {
        fields: { name: string; type: unknown }[];
      };
      const fields =
        part === 'key'
          ? schema.fields
          : (schema.fields[0]!.type as [string, { fields: { name: string }[] }])[1].fields;
      for (const f of fields) f.name = rename[f.name] ?? f.name;
      writeFileSync(path.join(dir, file), JSON.stringify(schema, null, 2));
    }
  }
  return dir;
}

/** The node's column for a mesh column. */
const col = (node: string, table: string, c: string) => RENAMES[node]![table]?.[c] ?? c;
const q = pg.escapeIdentifier;

/** Every column of the mesh's contracts: the comparison reads whole rows. */
const MESH_COLUMNS = {
  users: loadContract('users', 'public', MESH_CONTRACTS).columns.map((c) => c.name),
  groups: loadContract('groups', 'public', MESH_CONTRACTS).columns.map((c) => c.name),
};

/** A node's rows of a table under the mesh's column names, as text, in key order (plain SQL). */
async function rowsAt(url: string, node: string, table: 'users' | 'groups'): Promise<(string | null)[][]> {
  const cols = MESH_COLUMNS[table].map((c) => `${q(col(node, table, c))}::text`);
  const r = await sql<Record<string, string | null>>(
    url,
    `SELECT ${cols.join(', ')} FROM ${q(table)} ORDER BY id`,
  );
  return r.rows.map((row) => Object.values(row));
}

describe('peers: several tables, columns named differently per node', () => {
  const ctx = useMesh(3, {
    start: false,
    more: {
      source: { tables: ['public.users', 'public.groups'], contracts: MESH_CONTRACTS },
      node: (name) =>
        name === 'a' ? {} : { contracts: nodeContracts(RENAMES[name]!), rename: RENAMES[name]! },
    },
  });

  it('converges table by table, each node under its own column names', async () => {
    const { env } = ctx;
    for (const { name, db } of env.nodes) {
      await createFixtureTables(db.url);
      await withClient(db.url, async (c) => {
        await c.query('DROP TABLE memberships');
        for (const [table, rename] of Object.entries(RENAMES[name]!))
          for (const [from, to] of Object.entries(rename))
            await c.query(`ALTER TABLE ${q(table)} RENAME COLUMN ${q(from)} TO ${q(to)}`);
      });
    }
    const app = testApp(env.config);
    const running = await Promise.all(
      env.nodes.map((x) => withDeadline(startPeerNode(app, x.name), 120_000, `starting node ${x.name}`)),
    );
    ctx.mesh = {
      app,
      running,
      async stop() {
        for (const r of running.splice(0)) await withDeadline(r.stop(), 45_000, `stopping node ${r.node}`);
      },
    };
    await waitSlotsConsistent(env);

    const seed = Number(process.env.PGCDC_PEERS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`peers tables seed: ${seed} (PGCDC_PEERS_SEED=${seed} repeats this run)`);
    const writes: Record<string, number> = {};
    await Promise.all(
      env.nodes.map(({ name, db }, i) =>
        withClient(db.url, async (c) => {
          const next = rng(seed + i * 7919);
          const u = (x: string) => q(col(name, 'users', x));
          const g = (x: string) => q(col(name, 'groups', x));
          writes[name] = 0;
          for (let n = 1; n <= 60; n++) {
            const id = 1 + Math.floor(next() * 12);
            const r = next();
            const tag = `${name}${n}`;
            const res =
              r < 0.25
                ? await c.query(
                    `INSERT INTO users (id, ${u('email')}, ${u('username')}, city, tags, balance, preferences)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (id) DO UPDATE SET ${u('username')} = EXCLUDED.${u('username')}, city = EXCLUDED.city`,
                    [id, `k${id}-${tag}@x`, tag, `city-${tag}`, [tag, null], `${n}.50`, { by: tag }],
                  )
                : r < 0.4
                  ? await c.query(
                      `UPDATE users SET ${u('email')} = $2, ${u('username')} = $3 WHERE id = $1`,
                      [id, `k${id}-${tag}@x`, tag],
                    )
                  : r < 0.5
                    ? await c.query(`UPDATE users SET is_blocked = NOT is_blocked, city = $2 WHERE id = $1`, [
                        id,
                        tag,
                      ])
                    : r < 0.58
                      ? await c.query(`DELETE FROM users WHERE id = $1`, [id])
                      : r < 0.78
                        ? await c.query(
                            `INSERT INTO groups (id, ${g('name')}, ${g('description')}, tags) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (id) DO UPDATE SET ${g('name')} = EXCLUDED.${g('name')}, ${g('description')} = EXCLUDED.${g('description')}`,
                            [id, `g-${tag}`, `about ${tag}`, [tag]],
                          )
                        : r < 0.92
                          ? await c.query(`UPDATE groups SET ${g('description')} = $2 WHERE id = $1`, [
                              id,
                              tag,
                            ])
                          : await c.query(`DELETE FROM groups WHERE id = $1`, [id]);
            writes[name] += res.rowCount ?? 0;
            if (n % 15 === 0) await new Promise((resolve) => setTimeout(resolve, Math.floor(next() * 200)));
          }
        }),
      ),
    );

    let last = '';
    await waitUntil(
      async () => {
        for (const table of ['users', 'groups'] as const) {
          const first = await rowsAt(env.url('a'), 'a', table);
          for (const x of ['b', 'c']) {
            const other = await rowsAt(env.url(x), x, table);
            if (JSON.stringify(other) !== JSON.stringify(first)) {
              last = `${table}: a has ${first.length} rows, ${x} ${other.length}`;
              return false;
            }
          }
        }
        return true;
      },
      { timeoutMs: 180_000, intervalMs: 500, what: 'every node to hold the same rows in both tables' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`, { cause: err });
    });
    const users = await rowsAt(env.url('a'), 'a', 'users');
    const groups = await rowsAt(env.url('a'), 'a', 'groups');
    for (const x of ['b', 'c']) {
      expect(await rowsAt(env.url(x), x, 'users'), `users at ${x}`).toEqual(users);
      expect(await rowsAt(env.url(x), x, 'groups'), `groups at ${x}`).toEqual(groups);
    }
    // b's conflict log keeps both rows under b's names
    const logged = await conflictLog(env);
    const atB = logged.find((c) => c.node === 'b' && c.remote_row);
    if (atB) expect(Object.keys(atB.remote_row!)).toContain('mail');
    console.log(
      `peers tables: ${JSON.stringify(writes)} writes; ${users.length} users, ${groups.length} groups at every node; ${logged.length} users conflicts logged`,
    );
    expect(users.length + groups.length).toBeGreaterThan(0);
  }, 420_000);
});
