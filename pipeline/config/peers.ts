// The peers section (docs/peers.md): a mesh of N PostgreSQL databases holding the same table, each
// both a source and a target of all the others. The section names the nodes (name, url, priority)
// and the conflict policy; everything per node (slot, publication, topic, consumer groups, the
// links that apply the other nodes' topics, replication origins) derives from it in
// pipeline/peers.ts, so a mesh is configured in one place and every process reads the same file.
// Also `source.origins`, the producer's no-echo switch the derived node configurations turn on.
import { z } from 'zod';
import path from 'node:path';
import { identifier, positiveInt, url } from './fields.ts';

/** A node or mesh name: part of slot, origin, topic and group names, so short and lower-case. */
const peerName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,19}$/, 'must match [a-z][a-z0-9_]* (max 20): it becomes part of slot names');

export const OriginsSchema = z
  .enum(['all', 'local'])
  .default('all')
  .describe(
    'all: publish every change; local: skip transactions a peer sink applied (replication origin set), the no-echo rule of a peers mesh (docs/peers.md)',
  );

export const PeerNodeSchema = z
  .object({
    name: peerName.describe('node name (slot pgcdc_<mesh>_<node>, topic prefix <kafka.topicPrefix>.<node>)'),
    url: url('PostgreSQL URL of the node database (a role with REPLICATION and replication-origin rights)'),
    priority: z
      .number()
      .int()
      .default(0)
      .describe('higher wins: ties of last-writer-wins, and every conflict under the priority policy'),
    contracts: z
      .string()
      .min(1)
      .optional()
      .describe(
        "directory of this node's own event contracts (<table>-key.avsc, <table>-value.avsc, under its column names), relative to the configuration file; needed when `rename` renames a column; default: source.contracts",
      ),
    rename: z
      .record(z.string().min(1), z.record(identifier, identifier))
      .default({})
      .describe(
        'per table ("schema.table" or "table"): column name in the mesh (source.contracts) -> the column\'s name at this node; the links into and out of this node rename through the target mapping (docs/peers.md, Several tables and differing columns)',
      ),
  })
  .strict();

const PRUNE_DEFAULTS = { intervalMs: 60_000, afterMs: 3_600_000, marginMs: 60_000, batch: 1000 };
const nonNegativeInt = z.number().int().min(0);

export const PruneSchema = z
  .object({
    intervalMs: nonNegativeInt
      .default(PRUNE_DEFAULTS.intervalMs)
      .describe('each link prunes at most this often (0: never)'),
    afterMs: nonNegativeInt
      .default(PRUNE_DEFAULTS.afterMs)
      .describe('a delete applied (or made locally) less than this long ago is kept in any case'),
    marginMs: nonNegativeInt
      .default(PRUNE_DEFAULTS.marginMs)
      .describe(
        "how far a node's commit times may be out of WAL order (concurrent commits, a clock stepped back): a delete is pruned only once every link has decided changes committed this much later",
      ),
    batch: positiveInt.default(PRUNE_DEFAULTS.batch).describe('rows removed per run and table, at most'),
  })
  .strict()
  .default(PRUNE_DEFAULTS)
  .describe(
    "pruning of deleted keys' versions beside the table once no older change can arrive (docs/peers.md, Pruning)",
  );

export const PeersSchema = z
  .object({
    mesh: peerName.default('mesh').describe('mesh name: part of slot, publication and origin names'),
    nodes: z.array(PeerNodeSchema).min(2).describe('the databases of the mesh (two or more)'),
    policy: z
      .enum(['last-writer-wins', 'priority'])
      .default('last-writer-wins')
      .describe(
        'last-writer-wins: the later source commit time wins (ties: priority, then node name); priority: within priorityWindowMs the higher-priority node wins, beyond it the later write',
      ),
    priorityWindowMs: positiveInt
      .default(1000)
      .describe(
        'priority policy: writes whose commit times fall in the same window of this length are decided by priority',
      ),
    onUniqueConflict: z
      .enum(['resolve', 'keep-local'])
      .default('resolve')
      .describe(
        'a row arriving with a unique value (e.g. email) another key holds: resolve: the policy picks the winner, the loser row is removed at every node; keep-local: the arriving row is not applied (nodes may differ until an operator acts). Both log the conflict',
      ),
    batchSize: positiveInt.default(200).describe('events applied in one target transaction per link'),
    prune: PruneSchema,
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.nodes.forEach((n, i) => {
      if (seen.has(n.name))
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: `duplicate node "${n.name}"` });
      seen.add(n.name);
    });
  });

export type PeersConfig = z.output<typeof PeersSchema>;
export type PeerNode = PeersConfig['nodes'][number];

/** The nodes' `contracts` directories made absolute (relative to the configuration file's folder). */
export function resolvePeerPaths<T extends { peers?: PeersConfig | undefined }>(
  config: T,
  baseDir: string,
): T {
  if (!config.peers?.nodes.some((n) => n.contracts !== undefined)) return config;
  const nodes = config.peers.nodes.map((n) =>
    n.contracts === undefined ? n : { ...n, contracts: path.resolve(baseDir, n.contracts) },
  );
  return { ...config, peers: { ...config.peers, nodes } };
}

/** Cross-section rule: a peers configuration derives its targets; it declares none of its own. */
export function checkPeersRoot(
  cfg: { peers?: PeersConfig | undefined; targets: unknown[] },
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  if (cfg.peers && cfg.targets.length > 0)
    addIssue(['targets'], 'a peers configuration derives its links from peers.nodes: leave targets empty');
}
