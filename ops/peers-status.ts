// `pgcdc status` of a peers mesh (docs/peers.md, "Status"): every node (its slot and topic, as
// for any producer) and every link `from -> to` (its consumer group's lag, what it last applied,
// its last error, and the conflicts it met at `to`: count and the last one, from the conflict log
// beside the table). Gathered per node with the ordinary pipeline status of the node's derived
// configuration (ops/status.ts), so a node that cannot be read says why and the others still show.
import type { Config } from '../pipeline/config/schema.ts';
import { sourceTablesOf } from '../pipeline/config/schema.ts';
import { describeError } from '../pipeline/errors.ts';
import type { KafkaClientFactory } from '../pipeline/kafka/port.ts';
import { redactUrl } from '../pipeline/observability/logger.ts';
import { linkLabel, linkName, nodeConfig, peersOf } from '../pipeline/peers.ts';
import type { PgConnections } from '../pipeline/postgres.ts';
import { conflictsTableName } from '../consumers/peer/sql.ts';
import { quoteIdent as q } from '../consumers/postgres/table.ts';
import { producerProblems, targetProblems } from './health.ts';
import { gatherStatus, type PipelineStatus, type ProducerView, type TargetView } from './status.ts';

export interface LastConflict {
  at: string;
  kind: string;
  resolution: string;
  key: unknown;
}

export interface PeerLinkView extends Omit<TargetView, 'name' | 'type'> {
  /** both ends, `<from>-><to>`, as the conflict log and the metric name the link */
  link: string;
  from: string;
  to: string;
  /** conflicts this link met at `to` (rows of the conflict log there); null: unreadable */
  conflicts: number | null;
  lastConflict: LastConflict | null;
}

export interface PeerNodeView {
  name: string;
  priority: number;
  url: string;
  producer: ProducerView;
  topic: PipelineStatus['topic'];
  statusTopic: PipelineStatus['statusTopic'];
  /** conflicts logged at this node (all links into it) */
  conflicts: number | null;
  conflictsError?: string;
}

export interface PeersStatus {
  generatedAt: string;
  mesh: string;
  policy: string;
  nodes: PeerNodeView[];
  links: PeerLinkView[];
}

interface NodeConflicts {
  total: number | null;
  /** per link into this node, by the node it comes from */
  byFrom: Map<string, { count: number; last: LastConflict }>;
  error?: string;
}

export async function gatherPeersStatus(
  config: Config,
  kafka: KafkaClientFactory,
  connections: PgConnections,
): Promise<PeersStatus> {
  const peers = peersOf(config);
  const perNode = await Promise.all(
    peers.nodes.map(async (n) => {
      const nc = nodeConfig(config, n.name);
      const [status, conflicts] = await Promise.all([
        gatherStatus(nc, kafka, connections),
        readConflicts(nc, connections),
      ]);
      return { node: n, status, conflicts };
    }),
  );
  const conflictsAt = new Map(perNode.map((x) => [x.node.name, x.conflicts]));
  const links: PeerLinkView[] = perNode.flatMap(({ node, status }) =>
    peers.nodes
      .filter((to) => to.name !== node.name)
      .flatMap((to) => {
        const t = status.targets.find((x) => x.name === linkName(to.name));
        if (!t) return [];
        const rest: Omit<TargetView, 'name' | 'type'> & Partial<Pick<TargetView, 'name' | 'type'>> = { ...t };
        delete rest.name;
        delete rest.type;
        const c = conflictsAt.get(to.name);
        const mine = c?.byFrom.get(node.name);
        return [
          {
            link: linkLabel(node.name, to.name),
            from: node.name,
            to: to.name,
            ...rest,
            conflicts: c?.total === null || c === undefined ? null : (mine?.count ?? 0),
            lastConflict: mine?.last ?? null,
          },
        ];
      }),
  );
  return {
    generatedAt: new Date().toISOString(),
    mesh: peers.mesh,
    policy: peers.policy,
    nodes: perNode.map(({ node, status, conflicts }) => ({
      name: node.name,
      priority: node.priority,
      url: redactUrl(node.url),
      producer: status.producer,
      topic: status.topic,
      statusTopic: status.statusTopic,
      conflicts: conflicts.total,
      ...(conflicts.error ? { conflictsError: conflicts.error } : {}),
    })),
    links,
  };
}

/**
 * The conflict log at a node, counted per link (the node the arriving change came from: the link's
 * source end, `<from>-><to>`; rows logged before links were named by both ends say `to_<to>`, and
 * their remote version names the node).
 */
async function readConflicts(nc: Config, connections: PgConnections): Promise<NodeConflicts> {
  const client = connections.client(nc.source.url, 'ops', 'pgcdc-status');
  client.on('error', () => undefined);
  // every captured table has its own conflict log: counted together
  const tables = sourceTablesOf(nc.source).map((t) => `${q(t.schema)}.${q(conflictsTableName(t))}`);
  try {
    await client.connect();
    const present: string[] = [];
    for (const t of tables)
      if ((await client.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [t])).rows[0]?.t)
        present.push(t);
    if (present.length === 0) return { total: 0, byFrom: new Map() }; // no link has run here yet
    const cols = 'link, remote_version, id, at, kind, resolution, key';
    const table = `(${present.map((t) => `SELECT ${cols} FROM ${t}`).join(' UNION ALL ')}) AS logged`;
    const rows = await client.query<{
      from: string;
      count: number;
      at: Date;
      kind: string;
      resolution: string;
      key: unknown;
    }>(
      `WITH c AS (SELECT CASE WHEN strpos(link, '->') > 0 THEN split_part(link, '->', 1)
                              ELSE remote_version->>'node' END AS from, id, at, kind, resolution, key
                    FROM ${table})
       SELECT DISTINCT ON (c.from) c.from, count(*) OVER (PARTITION BY c.from)::int AS count,
              at, kind, resolution, key
         FROM c ORDER BY c.from, at DESC, id DESC`,
    );
    const byFrom = new Map(
      rows.rows.map((r) => [
        r.from,
        {
          count: r.count,
          last: { at: r.at.toISOString(), kind: r.kind, resolution: r.resolution, key: r.key },
        },
      ]),
    );
    return { total: rows.rows.reduce((n, r) => n + r.count, 0), byFrom };
  } catch (err) {
    return { total: null, byFrom: new Map(), error: describeError(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Healthy when every node's producer and every link is (the rule of ops/health.ts, per node and
 * per link); problems name the node or the link.
 */
export function healthOfPeers(s: PeersStatus): { healthy: boolean; problems: string[] } {
  const problems: string[] = [];
  for (const n of s.nodes) {
    problems.push(...producerProblems(n.producer).map((p) => `node ${n.name}: ${p}`));
    if (n.topic.error) problems.push(`node ${n.name}: topic ${n.topic.name}: ${n.topic.error}`);
  }
  for (const l of s.links) problems.push(...targetProblems(l).map((p) => `link ${l.from} -> ${l.to}: ${p}`));
  return { healthy: problems.length === 0, problems };
}
