// A peers mesh under test (test/peers/): N fresh databases (with `users`) as N nodes, a unique
// mesh name and topic prefix, the configuration with its peers section, nodes started in this
// process, the set-up and tear-down every peers test file shares (useMesh), and the independent
// checks (row-by-row comparison of the nodes, the events in each node's topic, the conflict logs,
// slots consistent).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect } from 'vitest';
import { resetMeshKafka } from '../../dev/peers/mesh.ts';
import { compareTables, describeComparison } from '../../dev/verify/compare.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { groupFor, topicFor } from '../../pipeline/config/schema.ts';
import type { App } from '../../pipeline/compose.ts';
import { linkName, nodeConfig, peerSlot, startPeerNode, type RunningNode } from '../../pipeline/peers.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshDatabase, withClient, type FreshDatabase } from './database.ts';
import { startAllOrNone, withDeadline } from './deadline.ts';
import { randomName } from './names.ts';
import { readTopic, STOP_DEADLINE_MS, testApp } from './pipeline.ts';
import type { StackUrls } from './provided.ts';
import { stackUrls } from './stack.ts';
import { waitUntil } from './wait.ts';

export const NODE_NAMES = ['a', 'b', 'c', 'd', 'e'];

export interface MeshEnv {
  nodes: { name: string; db: FreshDatabase }[];
  config: Config;
  raw: Record<string, unknown>;
  url(node: string): string;
  drop(app?: App): Promise<void>;
}

export interface MeshOptions {
  /** merged into the configuration's source section (e.g. tables, contracts) */
  source?: Record<string, unknown>;
  /** merged into each node's entry of peers.nodes (e.g. contracts, rename) */
  node?: (name: string) => Record<string, unknown>;
}

export async function meshEnv(
  urls: StackUrls,
  n: number,
  peers: Record<string, unknown> = {},
  more: MeshOptions = {},
): Promise<MeshEnv> {
  const mesh = randomName('m').replace(/_/g, '').slice(0, 18);
  const nodes: MeshEnv['nodes'] = [];
  for (const name of NODE_NAMES.slice(0, n))
    nodes.push({ name, db: await freshDatabase(urls.adminUrl, `peer_${name}`, { usersTable: true }) });
  const raw = {
    source: {
      url: nodes[0]!.db.url,
      heartbeatIntervalMs: 1000,
      statusIntervalMs: 500,
      ackIntervalMs: 100,
      ...more.source,
    },
    kafka: { brokers: urls.kafkaBrokers, topicPrefix: mesh, partitions: 3, sessionTimeoutMs: 6000 },
    registry: { url: urls.registryUrl },
    producer: { lingerMs: 5 },
    metrics: { port: 0, consumePort: 0 },
    log: { level: 'warn' },
    peers: {
      mesh,
      nodes: nodes.map((x, i) => ({ name: x.name, url: x.db.url, priority: n - i, ...more.node?.(x.name) })),
      ...peers,
    },
  };
  const config = parseConfig(raw);
  return {
    nodes,
    config,
    raw,
    url: (node) => nodes.find((x) => x.name === node)!.db.url,
    async drop(app) {
      if (app) await dropKafka(app, config);
      for (const x of nodes) {
        await withClient(x.db.url, (c) =>
          c.query(
            `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
            [peerSlot(config.peers!, x.name)],
          ),
        ).catch(() => undefined);
      }
      await withClient(nodes[0]!.db.url, (c) =>
        c.query(`SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname LIKE $1`, [
          `pgcdc\\_${mesh}\\_%`,
        ]),
      ).catch(() => undefined);
      for (const x of nodes) await x.db.drop();
    },
  };
}

/** The mesh's topics and groups go, as the demo resets them (dev/peers/mesh.ts), within a deadline. */
function dropKafka(app: App, config: Config): Promise<void> {
  return withDeadline(resetMeshKafka(app, config), 60_000, "dropping the mesh's topics and consumer groups");
}

/** The mesh's configuration as a file, for `pgcdc` commands (peers run, check, status). */
export function meshConfigFile(env: MeshEnv): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgcdc-peers-')), 'pgcdc.yaml');
  writeFileSync(file, stringify(env.raw));
  return file;
}

/** Every node of the mesh started in this process (one App); stop() stops them all. */
export async function startMesh(env: MeshEnv, only?: string[]) {
  const app = testApp(env.config);
  // together: a node's links wait for the other nodes' topics, which their producers create
  // a failed start stops the nodes that did start (their links hold server-wide origins)
  const running: RunningNode[] = await startAllOrNone(
    env.nodes
      .filter((x) => !only || only.includes(x.name))
      .map((x) => ({ what: `node ${x.name}`, start: startPeerNode(app, x.name) })),
    120_000,
    STOP_DEADLINE_MS,
  );
  return {
    app,
    running,
    async stop() {
      for (const r of running.splice(0))
        await withDeadline(r.stop(), STOP_DEADLINE_MS, `stopping node ${r.node}`);
    },
  };
}

/** The events (not tombstones) in node `name`'s topic. */
export async function topicEvents(app: App, config: Config, name: string): Promise<number> {
  const nc = nodeConfig(config, name);
  const messages = await readTopic(app.kafka, topicFor(nc.kafka, nc.source));
  return messages.filter((m) => m.value !== null && m.value.length > 0).length;
}

const contract = loadContract();
const ref = (url: string) => ({ url, schema: 'public', table: 'users' });

/** Every node equal to the first, row for row over the contract's columns (dev/verify/compare.ts). */
export async function compareNodes(env: MeshEnv): Promise<string | undefined> {
  const first = env.nodes[0]!;
  for (const x of env.nodes.slice(1)) {
    const r = await compareTables(ref(first.db.url), ref(x.db.url), contract.columns);
    if (!r.equal) return `${first.name} vs ${x.name}: ${describeComparison(r)}`;
  }
  return undefined;
}

export async function waitConverged(env: MeshEnv, timeoutMs = 120_000): Promise<void> {
  let last: string | undefined;
  try {
    await waitUntil(async () => (last = await compareNodes(env)) === undefined, {
      timeoutMs,
      intervalMs: 500,
      what: 'every node to hold the same rows',
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  ${last ?? ''}`, { cause: err });
  }
}

export interface ConflictRow {
  node: string;
  link: string;
  kind: string;
  resolution: string;
  key: Record<string, unknown>;
  other_key: Record<string, unknown> | null;
  local_version: Record<string, unknown> | null;
  remote_version: Record<string, unknown>;
  local_row: Record<string, unknown> | null;
  remote_row: Record<string, unknown> | null;
}

export async function conflictLog(env: MeshEnv): Promise<ConflictRow[]> {
  const all: ConflictRow[] = [];
  for (const x of env.nodes) {
    const rows = await withClient(x.db.url, (c) =>
      c.query<Omit<ConflictRow, 'node'>>(`SELECT * FROM users_pgcdc_conflicts ORDER BY id`),
    );
    all.push(...rows.rows.map((r) => ({ ...r, node: x.name })));
  }
  return all;
}

export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<T>> {
  return withClient(url, (c) => c.query<T>(text, values));
}

/**
 * Waits until every node's producer acknowledged past the node's current WAL end: everything the
 * links applied so far has passed its producer (published or, if origin-marked, skipped).
 */
export async function producersPastWal(env: MeshEnv, mesh: { running: RunningNode[] }): Promise<void> {
  for (const r of mesh.running) {
    const end = (await sql<{ lsn: string }>(env.url(r.node), `SELECT pg_current_wal_lsn()::text AS lsn`))
      .rows[0]!.lsn;
    await waitUntil(
      async () => {
        const confirmed = r.producer.state().confirmedLsn;
        if (!confirmed) return false;
        const q = await sql<{ ok: boolean }>(env.url(r.node), `SELECT $1::pg_lsn >= $2::pg_lsn AS ok`, [
          confirmed,
          end,
        ]);
        return q.rows[0]!.ok;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `the producer of ${r.node} to pass ${end}` },
    );
  }
}

export type Mesh = Awaited<ReturnType<typeof startMesh>>;

/**
 * The no-echo scenario of a running three-node mesh: 20 inserts at a, 5 updates at b, 2 deletes
 * and an insert at c, converged at every node; then each node's topic holds exactly the writes
 * made at that node (an echo, a link's write published again, would add to it), counted only once
 * every producer acknowledged past every applied write, and no conflict was logged.
 */
export async function expectLocalWritesOnly(
  env: MeshEnv,
  mesh: Pick<Mesh, 'app' | 'running'>,
): Promise<void> {
  const local = { a: 0, b: 0, c: 0 };
  const write = async (node: 'a' | 'b' | 'c', text: string, values: unknown[] = []) => {
    local[node] += (await sql(env.url(node), text, values)).rowCount ?? 0;
  };
  for (let i = 1; i <= 20; i++)
    await write('a', `INSERT INTO users (id, email, username) VALUES ($1, $2, $3)`, [
      i,
      `u${i}@a`,
      `user${i}`,
    ]);
  await waitConverged(env);
  await write('b', `UPDATE users SET city = 'Bern' WHERE id <= 5`);
  await write('c', `DELETE FROM users WHERE id IN (19, 20)`);
  await write('c', `INSERT INTO users (id, email, username) VALUES (100, 'c100@c', 'c100')`);
  await waitConverged(env);
  expect(local).toEqual({ a: 20, b: 5, c: 3 });
  await waitUntil(async () => (await topicEvents(mesh.app, env.config, 'c')) === local.c, {
    timeoutMs: 60_000,
    what: 'the local writes of c in its topic',
  });
  // an echo would be published before this: each producer acknowledged past every applied write
  await producersPastWal(env, mesh);
  const rows = (await sql<{ n: string }>(env.url('a'), `SELECT count(*)::text AS n FROM users`)).rows[0]!.n;
  expect(rows).toBe('19');
  for (const node of ['a', 'b', 'c'] as const)
    expect(await topicEvents(mesh.app, env.config, node), `events in ${node}'s topic`).toBe(local[node]);
  expect(await conflictLog(env)).toEqual([]);
}

/**
 * The set-up every peers test file shares: before all tests a fresh mesh of `n` nodes (started in
 * this process unless `start: false`), after them its nodes stopped and everything dropped (slots,
 * origins, topics, groups, databases). Read `ctx.env` / `ctx.mesh` inside the tests; a test that
 * starts the mesh itself assigns `ctx.mesh`, so it is stopped too.
 */
export function useMesh(
  n: number,
  opts: { start?: boolean; peers?: Record<string, unknown>; more?: MeshOptions } = {},
) {
  const ctx = {} as { env: MeshEnv; mesh: Mesh | undefined };
  beforeAll(async () => {
    ctx.env = await meshEnv(stackUrls(), n, opts.peers, opts.more);
    if (opts.start !== false) ctx.mesh = await startMesh(ctx.env);
  }, 180_000);
  afterAll(async () => {
    await ctx.mesh?.stop();
    if (ctx.env) await ctx.env.drop(ctx.mesh?.app ?? testApp(ctx.env.config));
  }, 180_000);
  return ctx;
}

/**
 * Every node's slot is consistent: a write committed from now on is captured. A slot is listed
 * while it is still being created (waiting for the transactions running then to end, long on a
 * loaded server); its confirmed_flush_lsn is null until it is consistent, and a node's writes
 * before that are never decoded, never published.
 */
export async function waitSlotsConsistent(
  env: MeshEnv,
  detail: (node: string) => string = () => '',
): Promise<void> {
  for (const { name } of env.nodes)
    await waitUntil(
      async () =>
        (
          await sql(
            env.url(name),
            `SELECT 1 FROM pg_replication_slots
              WHERE database = current_database() AND confirmed_flush_lsn IS NOT NULL`,
          )
        ).rowCount === 1,
      { timeoutMs: 120_000, what: `the slot of ${name}${detail(name)}` },
    );
}

/**
 * Every link's consumer group committed every offset of its source node's topic: each change (and
 * tombstone) published so far has been decided at every other node.
 */
export async function linksCaughtUp(env: MeshEnv, app: App, timeoutMs = 120_000): Promise<void> {
  const admin = app.kafka.admin();
  await admin.connect();
  try {
    for (const from of env.nodes) {
      const nc = nodeConfig(env.config, from.name);
      const topic = topicFor(nc.kafka, nc.source);
      for (const to of env.nodes.filter((x) => x.name !== from.name)) {
        const group = groupFor(nc.kafka, { name: linkName(to.name) });
        await waitUntil(
          async () => {
            const [ends, done] = await Promise.all([
              admin.topicOffsets(topic),
              admin.groupOffsets(group, topic),
            ]);
            return ends.every((p) => {
              const at = done.find((d) => d.partition === p.partition)?.offset ?? -1n;
              return p.high === p.low || at >= p.high;
            });
          },
          { timeoutMs, intervalMs: 250, what: `link ${from.name}->${to.name} to apply all of ${topic}` },
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
}
