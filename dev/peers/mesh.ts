// A peers mesh on the local stack for the demo (`pgcdc-dev demo --peers N`) and the bench's peers
// phase: N databases of the stack's PostgreSQL as N nodes (`pgcdc_<mesh>_<node>`, each with `users`
// and its own identity range), reset on every run (slots, origins, topics, groups), the mesh
// configuration, and the independent checks both end with: an SQL digest of every node's rows
// (count and md5 over the rows in key order: equal digests, equal tables) and the conflict log.
import pg from 'pg';
import { parseConfig } from '../../pipeline/config/load.ts';
import { groupFor, topicFor, type Config } from '../../pipeline/config/schema.ts';
import type { App } from '../../pipeline/compose.ts';
import { linkName, nodeConfig } from '../../pipeline/peers.ts';
import { statusTopicFor } from '../../pipeline/supervision/status-store.ts';
import { createUsersTable } from '../stack/stack.ts';
import type { StackUrls } from '../stack/settings.ts';

export const NODE_NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const;

export interface DevMesh {
  mesh: string;
  nodes: { name: string; url: string }[];
  config: Config;
  url(node: string): string;
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Node i's ids start at i * IDS_PER_NODE + 1: registrations at two nodes never share an id. */
export const IDS_PER_NODE = 1_000_000;

/**
 * Fresh node databases (dropping what an earlier run left: slots, origins, databases) and the
 * mesh's configuration; `extra` is merged into the peers section.
 */
export async function prepareMesh(
  urls: StackUrls,
  mesh: string,
  n: number,
  extra: Record<string, unknown> = {},
): Promise<DevMesh> {
  const names = NODE_NAMES.slice(0, n);
  const dbUrl = (db: string) => {
    const u = new URL(urls.adminUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const db = (name: string) => `pgcdc_${mesh}_${name}`;
  const nodes = names.map((name) => ({ name, url: dbUrl(db(name)) }));
  await withClient(urls.adminUrl, async (c) => {
    const like = `pgcdc\\_${mesh}\\_%`;
    await c.query(
      `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name LIKE $1 AND active`,
      [like],
    );
    await c.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE $1`,
      [like],
    );
    await c.query(
      `SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname LIKE $1`,
      [like],
    );
    for (const x of names) {
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db(x))} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(db(x))}`);
    }
  });
  for (const [i, x] of nodes.entries()) {
    await createUsersTable(x.url);
    await withClient(x.url, (c) =>
      c.query(`ALTER TABLE users ALTER COLUMN id RESTART WITH ${i * IDS_PER_NODE + 1}`),
    );
  }
  const config = parseConfig({
    source: {
      url: nodes[0]!.url,
      table: 'users',
      heartbeatIntervalMs: 1000,
      statusIntervalMs: 1000,
      ackIntervalMs: 100,
    },
    kafka: { brokers: urls.kafkaBrokers, topicPrefix: `pgcdc.${mesh}`, partitions: 3 },
    registry: { url: urls.registryUrl },
    producer: { lingerMs: 5 },
    metrics: { port: 0 },
    peers: { mesh, nodes: nodes.map((x, i) => ({ name: x.name, url: x.url, priority: n - i })), ...extra },
  });
  return { mesh, nodes, config, url: (node) => nodes.find((x) => x.name === node)!.url };
}

/** Deletes the mesh's topics and consumer groups (an earlier run's offsets would skip events). */
export async function resetMeshKafka(app: App, config: Config): Promise<void> {
  const admin = app.kafka.admin();
  const groups = app.kafka.groupAdmin();
  await Promise.all([admin.connect(), groups.connect()]);
  try {
    for (const node of config.peers!.nodes) {
      const nc = nodeConfig(config, node.name);
      for (const t of [topicFor(nc.kafka, nc.source), statusTopicFor(nc.kafka, nc.operations)])
        await admin.deleteTopic(t).catch(() => undefined);
      for (const other of config.peers!.nodes.filter((o) => o.name !== node.name))
        await groups.deleteGroup(groupFor(nc.kafka, { name: linkName(other.name) })).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
    await groups.disconnect();
  }
}

/** Every node's slot exists and is consistent: a write from now on is captured. */
export async function slotsReady(m: DevMesh): Promise<boolean> {
  for (const x of m.nodes) {
    const r = await withClient(x.url, (c) =>
      c.query(
        `SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND confirmed_flush_lsn IS NOT NULL`,
      ),
    );
    if (r.rowCount !== 1) return false;
  }
  return true;
}

export interface Digest {
  rows: number;
  md5: string;
}

/** The node's users, every column, as one md5 over the rows in key order (independent of pgcdc). */
export async function digest(url: string): Promise<Digest> {
  const r = await withClient(url, (c) =>
    c.query<{ rows: number; md5: string | null }>(
      `SELECT count(*)::int AS rows, md5(string_agg(u::text, E'\\n' ORDER BY u.id)) AS md5 FROM users u`,
    ),
  );
  return { rows: r.rows[0]!.rows, md5: r.rows[0]!.md5 ?? '-' };
}

/** Every node's digest, and whether they are all equal. */
export async function digests(m: DevMesh): Promise<{ equal: boolean; by: Record<string, Digest> }> {
  const by: Record<string, Digest> = {};
  for (const x of m.nodes) by[x.name] = await digest(x.url);
  const all = Object.values(by);
  return { equal: all.every((d) => d.rows === all[0]!.rows && d.md5 === all[0]!.md5), by };
}

/** The conflict log at a node, counted by kind and resolution. */
export async function conflictCounts(
  url: string,
): Promise<{ kind: string; resolution: string; n: number }[]> {
  return withClient(url, async (c) => {
    const t = await c.query<{ t: string | null }>(
      `SELECT to_regclass('public.users_pgcdc_conflicts')::text AS t`,
    );
    if (!t.rows[0]?.t) return [];
    return (
      await c.query<{ kind: string; resolution: string; n: number }>(
        `SELECT kind, resolution, count(*)::int AS n FROM users_pgcdc_conflicts GROUP BY 1, 2 ORDER BY 1, 2`,
      )
    ).rows;
  });
}
