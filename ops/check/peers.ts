// `pgcdc check` for a peers configuration (docs/peers.md): every node is checked as the source it
// is (connection, wal_level, REPLICATION, the table against the contract, the mesh publication, the
// node's slot; its topic and registry subjects) and as the target its links write to (the
// peer-specific facts: server version, track_commit_timestamp, the replication-origin functions,
// room for the links' origins, write privileges, the tables and trigger beside the table). Results
// carry the node in their id (`peers.<node>.<check>`). Reads only; nothing is created anywhere.
import type pg from 'pg';
import type { Config } from '../../pipeline/config/schema.ts';
import { contractOf, sourceTablesOf, topicFor } from '../../pipeline/config/schema.ts';
import type { TableRef } from '../../pipeline/config/tables.ts';
import type { KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { nodeConfig, peersOf } from '../../pipeline/peers.ts';
import { registryAccessOf } from '../../pipeline/transport.ts';
import type { PgConnections } from '../../pipeline/postgres.ts';
import { checkKafka } from './kafka.ts';
import { checkRegistry } from './registry.ts';
import { checkSource } from './source.ts';
import { judgeNode, NODE_FACTS_SQL, type NodeFacts } from './peers-node.ts';
import { error, ok, type CheckResult } from './types.ts';

/** `source.wal_level` of node a -> `peers.a.wal_level` */
const atNode = (node: string, r: CheckResult): CheckResult => ({
  ...r,
  id: `peers.${node}.${r.id.replace(/^source\./, '')}`,
});

/** A peer's slot is created by `pgcdc peers run`; there is no snapshot to bring earlier rows over. */
function peerWording(r: CheckResult): CheckResult {
  if (r.id === 'source.slot' && r.level === 'WARN')
    return {
      ...r,
      message: r.message.replace('pgcdc produce', 'pgcdc peers run'),
      fix: 'nothing to do; rows already at this node are not sent to the others (docs/peers.md, "Joining a node")',
    };
  if (r.id === 'source.publication')
    return { ...r, message: r.message.replace('pgcdc produce', 'pgcdc peers run') };
  return r;
}

export async function checkPeers(
  config: Config,
  kafka: KafkaClientFactory,
  connections: PgConnections,
): Promise<CheckResult[]> {
  const peers = peersOf(config);
  const perNode = await Promise.all(
    peers.nodes.map(async (node) => {
      const nc = nodeConfig(config, node.name);
      // every table of the mesh, each against the node's own contract of it (its column names:
      // peers.nodes[].contracts, else the mesh's); the node-wide verdicts come out the same per
      // table and are listed once (runChecks)
      const [perTable, kafkaResults] = await Promise.all([
        Promise.all(sourceTablesOf(nc.source).map((t) => checkNodeTable(config, nc, t, connections))),
        checkKafka(nc, kafka),
      ]);
      return {
        node: node.name,
        facts: perTable[0]?.facts,
        results: [
          ...perTable.flatMap((p) => p.atNode).map((r) => atNode(node.name, r)),
          ...kafkaResults,
          ...perTable.flatMap((p) => p.registry),
        ],
      };
    }),
  );
  return [...perNode.flatMap((n) => n.results), ...checkDistinct(perNode)];
}

/** One table at one node: as a source (against its contract), as a link's target, its subjects. */
async function checkNodeTable(
  config: Config,
  nc: Config,
  t: TableRef,
  connections: PgConnections,
): Promise<{ facts: NodeFacts | undefined; atNode: CheckResult[]; registry: CheckResult[] }> {
  const source = { ...nc.source, schema: t.schema, table: t.table };
  const contract = contractOf(nc.source, t);
  const [sourceResults, facts, registry] = await Promise.all([
    checkSource(source, contract, connections),
    readFacts({ ...nc, source }, connections),
    checkRegistry(registryAccessOf(config.registry), topicFor(nc.kafka, t), contract),
  ]);
  // an unreachable node is reported once, by checkSource
  const judged = facts ? judgeNode(facts, peersOf(config).nodes.length, source) : [];
  return { facts, atNode: [...sourceResults.map(peerWording), ...judged], registry };
}

async function readFacts(nc: Config, connections: PgConnections): Promise<NodeFacts | undefined> {
  const client = connections.client(nc.source.url, 'ops', 'pgcdc-check');
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<NodeFacts>(NODE_FACTS_SQL, [nc.source.schema, nc.source.table]);
    const facts = r.rows[0];
    if (facts) facts.origins_held_elsewhere = await originsHeldElsewhere(client, nc);
    return facts;
  } catch {
    return undefined; // checkSource says why
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Origins outside this mesh that hold one of the server's origin places (undefined when the role
 * may not read pg_replication_origin_status: superuser or pg_read_all_stats can).
 */
async function originsHeldElsewhere(client: pg.Client, nc: Config): Promise<string[] | undefined> {
  const prefix = `pgcdc\\_${peersOf(nc).mesh}\\_%`;
  try {
    const r = await client.query<{ name: string }>(
      `SELECT external_id AS name FROM pg_replication_origin_status WHERE external_id NOT LIKE $1 ORDER BY 1`,
      [prefix],
    );
    return r.rows.map((x) => x.name);
  } catch {
    return undefined;
  }
}

/** Two nodes on one database would apply each other's changes to themselves. */
function checkDistinct(nodes: { node: string; facts: NodeFacts | undefined }[]): CheckResult[] {
  const seen = new Map<string, string>();
  const out: CheckResult[] = [];
  for (const { node, facts } of nodes) {
    if (!facts) continue;
    const id = `${facts.server}/${facts.db}`;
    const other = seen.get(id);
    if (other)
      out.push(
        error(
          'peers.nodes',
          `nodes ${other} and ${node} are the same database (${facts.db})`,
          'give every node its own database (peers.nodes[].url)',
        ),
      );
    seen.set(id, node);
  }
  if (out.length === 0 && seen.size === nodes.length)
    out.push(ok('peers.nodes', `${nodes.length} distinct node databases`));
  return out;
}
