// A peers mesh at run time (docs/peers.md): from the one configuration with a `peers` section,
// derives each node's own pipeline configuration (its producer: slot pgcdc_<mesh>_<node>, topic
// prefix <kafka.topicPrefix>.<node>, only local changes published; its links: one target per
// other node, `to_<other>` (its consumer group), applying this node's topic there through a
// PeerSink per captured table; logs, metrics and the conflict log name a link by both ends,
// `<from>-><to>`; nodes whose columns are named differently are bridged by the ordinary target
// mapping, peers-shape.ts) and starts the processes of one node, or of all of them in one process
// for the demo. The stages themselves are the ordinary ones from the composition root.
import { mappedSink } from '../consumers/group/mapped-sink.ts';
import { targetShape } from '../consumers/mapping/shape.ts';
import { originName } from '../consumers/peer/origin.ts';
import { PeerSession } from '../consumers/peer/session.ts';
import { PeerSink, type PeerLink } from '../consumers/peer/sink.ts';
import {
  peerConflictsCounter,
  peerPruneCounters,
  type ConflictCounter,
  type PruneCounters,
} from '../consumers/peer/metrics.ts';
import { versionOrder } from '../consumers/peer/version.ts';
import type { Sink } from '../consumers/sink.ts';
import { routeByTable } from '../consumers/tables.ts';
import { startConsumer, startProducer, type App } from './compose.ts';
import { mappingFor } from './config/mapping.ts';
import type { Config, PeerNode, PeersConfig, TableRef, TargetConfig } from './config/schema.ts';
import {
  contractOf,
  PostgresTargetSchema,
  sourceTablesOf,
  tableName,
  targetRoutesOf,
} from './config/schema.ts';
import { ConfigError } from './errors.ts';
import { linkMappings, nodeContractProblems } from './peers-shape.ts';
import type { SupervisedConsumer, SupervisedProducer } from './supervision/supervise.ts';

/** The target (and consumer group) name of the link into `to`, in the configuration of its source node. */
export const linkName = (to: string) => `to_${to}`;
/** How logs, metrics, status and the conflict log name a link: both ends (several links lead into one node). */
export const linkLabel = (from: string, to: string) => `${from}->${to}`;
export const peerSlot = (peers: PeersConfig, node: string) => `pgcdc_${peers.mesh}_${node}`;
export const peerPublication = (peers: PeersConfig) => `pgcdc_${peers.mesh}_pub`;
export const peerTopicPrefix = (config: Config, node: string) => `${config.kafka.topicPrefix}.${node}`;

export function peersOf(config: Config): PeersConfig {
  if (!config.peers)
    throw new ConfigError('no peers section in the configuration', { hint: 'docs/peers.md shows one' });
  return config.peers;
}

export function peerNode(config: Config, name: string): PeerNode {
  const peers = peersOf(config);
  const node = peers.nodes.find((n) => n.name === name);
  if (!node)
    throw new ConfigError(`no peer node named "${name}"`, {
      hint: `configured nodes: ${peers.nodes.map((n) => n.name).join(', ')}`,
    });
  return node;
}

/**
 * The pipeline configuration of node `name` as a source: its producer, and as targets the links
 * that apply its topic at every other node. No initial feed: a peer's rows are not new writes.
 */
export function nodeConfig(config: Config, name: string): Config {
  const peers = peersOf(config);
  const node = peerNode(config, name);
  const contracts = node.contracts ?? config.source.contracts;
  const source = {
    ...config.source,
    ...(contracts !== undefined && { contracts }),
  };
  return {
    ...config,
    source: {
      ...source,
      url: node.url,
      slot: peerSlot(peers, name),
      publication: peerPublication(peers),
      origins: 'local',
      snapshot: { ...config.source.snapshot, mode: 'never' },
    },
    kafka: { ...config.kafka, topicPrefix: peerTopicPrefix(config, name) },
    targets: peers.nodes
      .filter((n) => n.name !== name)
      .map((n) =>
        PostgresTargetSchema.parse({
          name: linkName(n.name),
          type: 'postgres',
          url: n.url,
          // one table (the shorthand): the same schema.table at the other node; several: each at its name
          ...(!config.source.tables && { schema: config.source.schema, table: config.source.table }),
          createTable: false,
          batchSize: peers.batchSize,
          ...mappingField(linkMappings(config, source, node, n)),
        }),
      ),
  };
}

const mappingField = (m: ReturnType<typeof linkMappings>) => (m.length > 0 ? { mapping: m } : {});

/** The link applying `from`'s topic of `table` (default: the first captured) at `to`. */
export function peerLink(
  config: Config,
  from: string,
  to: string,
  table: TableRef = sourceTablesOf(config.source)[0]!,
): PeerLink {
  const peers = peersOf(config);
  return {
    name: linkName(to),
    label: linkLabel(from, to),
    mesh: peers.mesh,
    from,
    to,
    url: peerNode(config, to).url,
    schema: table.schema,
    table: table.table,
    order: versionOrder(peers),
    onUniqueConflict: peers.onUniqueConflict,
    links: peers.nodes.filter((n) => n.name !== to).map((n) => linkLabel(n.name, to)),
    partitions: config.kafka.partitions,
    prune: peers.prune,
  };
}

/**
 * The sink of the link from -> to: per table a PeerSink at `to` that sees `to`'s columns, behind
 * the target mapping that renames from's columns to to's (pipeline/peers-shape.ts), if they differ.
 */
function linkSink(
  app: App,
  fromApp: App,
  target: TargetConfig,
  ends: { from: string; to: string; conflicts: ConflictCounter; pruning: PruneCounters },
): Sink {
  const source = fromApp.config.source;
  const peers = peersOf(app.config);
  // one session per link: its replication origin can be used by one session at a time
  const session = new PeerSession({
    url: peerNode(app.config, ends.to).url,
    origin: originName(peers.mesh, ends.from, ends.to),
    label: linkLabel(ends.from, ends.to),
    pg: app.pg,
    logger: fromApp.logger,
  });
  const sinks = targetRoutesOf(source, target).map((r): [string, Sink] => {
    const contract = contractOf(source, r.source);
    const shape = targetShape({ name: target.name, mapping: mappingFor(source, target, r.source) }, contract);
    const link = peerLink(app.config, ends.from, ends.to, r.at);
    const here = shape ? { ...contract, columns: shape.columns, keyColumns: shape.keyColumns } : contract;
    const labels = { link: link.label, table: tableName(r.at) };
    const sink = new PeerSink(link, here, fromApp.logger, session, ends.conflicts, (n) => {
      ends.pruning.runs.inc(labels);
      ends.pruning.rows.inc(labels, n);
    });
    return [tableName(r.source), shape ? mappedSink(sink, shape) : sink];
  });
  return routeByTable(new Map(sinks));
}

export interface RunningNode {
  node: string;
  producer: SupervisedProducer;
  /** the links applying the other nodes' topics at this node */
  links: SupervisedConsumer[];
  stop(): Promise<void>;
}

/**
 * Starts node `name`: its producer, and one consumer per other node applying that node's topic
 * here. `app` is the process's wiring (its config has the peers section); each stage gets the
 * derived configuration of the node it reads from.
 */
export async function startPeerNode(app: App, name: string): Promise<RunningNode> {
  const peers = peersOf(app.config);
  const problems = peers.nodes.flatMap((n) => nodeContractProblems(app.config, n));
  if (problems.length > 0)
    throw new ConfigError(`the nodes' tables do not match the mesh's:\n  ${problems.join('\n  ')}`, {
      hint: 'docs/peers.md, "Several tables and differing columns"',
    });
  const logger = app.logger.child({ node: name });
  const own: App = { ...app, logger, config: nodeConfig(app.config, name) };
  const { producer, done } = startProducer(own);
  const conflicts = peerConflictsCounter(app.metrics.registry);
  const pruning = peerPruneCounters(app.metrics.registry);
  // the links start together: each waits for its source node's topic, created by that producer
  const started = await Promise.allSettled(
    peers.nodes
      .filter((n) => n.name !== name)
      .map((from) => {
        const linkLogger = logger.child({ link: linkLabel(from.name, name) });
        const fromApp: App = { ...app, logger: linkLogger, config: nodeConfig(app.config, from.name) };
        return startConsumer(fromApp, linkName(name), {
          sink: (target) => linkSink(app, fromApp, target, { from: from.name, to: name, conflicts, pruning }),
        });
      }),
  );
  const links = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(links.map((l) => l.stop().catch(() => undefined)));
    await producer.stop();
    await done;
    throw failed.reason;
  }
  return {
    node: name,
    producer,
    links,
    async stop() {
      await producer.stop();
      await done;
      await Promise.all(links.map((l) => l.stop()));
    },
  };
}
