// A peers mesh at run time (docs/peers.md): from the one configuration with a `peers` section,
// derives each node's own pipeline configuration (its producer: slot pgcdc_<mesh>_<node>, topic
// prefix <kafka.topicPrefix>.<node>, only local changes published; its links: one target per
// other node, `to_<other>` (its consumer group), applying this node's topic there through a
// PeerSink; logs, metrics and the conflict log name a link by both ends, `<from>-><to>`) and starts the
// processes of one node, or of all of them in one process for the demo. The stages themselves
// are the ordinary ones from the composition root.
import { PeerSink, type PeerLink } from '../consumers/peer/sink.ts';
import { peerConflictsCounter } from '../consumers/peer/metrics.ts';
import { versionOrder } from '../consumers/peer/version.ts';
import { startConsumer, startProducer, type App } from './compose.ts';
import type { Config, PeerNode, PeersConfig } from './config/schema.ts';
import { contractOf, PostgresTargetSchema } from './config/schema.ts';
import { ConfigError } from './errors.ts';
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
  return {
    ...config,
    source: {
      ...config.source,
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
          schema: config.source.schema,
          table: config.source.table,
          createTable: false,
          batchSize: peers.batchSize,
        }),
      ),
  };
}

/** The link applying `from`'s topic at `to`. */
export function peerLink(config: Config, from: string, to: string): PeerLink {
  const peers = peersOf(config);
  return {
    name: linkName(to),
    label: linkLabel(from, to),
    mesh: peers.mesh,
    from,
    to,
    url: peerNode(config, to).url,
    schema: config.source.schema,
    table: config.source.table,
    order: versionOrder(peers),
    onUniqueConflict: peers.onUniqueConflict,
  };
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
  const logger = app.logger.child({ node: name });
  const own: App = { ...app, logger, config: nodeConfig(app.config, name) };
  const { producer, done } = startProducer(own);
  const conflicts = peerConflictsCounter(app.metrics.registry);
  const contract = contractOf(app.config.source);
  // the links start together: each waits for its source node's topic, created by that producer
  const started = await Promise.allSettled(
    peers.nodes
      .filter((n) => n.name !== name)
      .map((from) => {
        const link = peerLink(app.config, from.name, name);
        const linkLogger = logger.child({ link: link.label });
        const fromApp: App = { ...app, logger: linkLogger, config: nodeConfig(app.config, from.name) };
        return startConsumer(fromApp, link.name, {
          sink: () => new PeerSink(link, contract, linkLogger, app.pg, conflicts),
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
