// Versions of a row in a peers mesh and the order that decides conflicts (docs/peers.md). Every
// write of a key, at whichever node, has a version: its source commit time (track_commit_timestamp;
// the same value the event carries as source.ts_us and the node reads back with
// pg_xact_commit_timestamp), the node that committed it, and that node's WAL position. Both
// policies are total orders over versions, computed from the versions alone, so every node picks
// the same winner whatever order the events arrive in. Pure.
import type { PeersConfig } from '../../pipeline/config/peers.ts';

export interface Version {
  /** source commit time, microseconds since the epoch; null: unknown (older than commit timestamps) */
  tsUs: bigint | null;
  node: string;
  /** the writing node's commit LSN and the change's sequence in it (0 for local versions) */
  lsn: bigint;
  seq: bigint;
}

export interface VersionOrder {
  policy: PeersConfig['policy'];
  priorityWindowMs: number;
  /** node name -> priority (higher wins) */
  priorities: ReadonlyMap<string, number>;
}

export function versionOrder(peers: PeersConfig): VersionOrder {
  return {
    policy: peers.policy,
    priorityWindowMs: peers.priorityWindowMs,
    priorities: new Map(peers.nodes.map((n) => [n.name, n.priority])),
  };
}

const cmp = (a: bigint | number | string, b: bigint | number | string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Negative when a loses to b, positive when a wins, 0 for the same version.
 * last-writer-wins: commit time, then priority, then node name, then position.
 * priority: the commit-time window (priorityWindowMs), then priority, then as last-writer-wins.
 * An unknown commit time is older than any known one.
 */
export function compareVersions(a: Version, b: Version, order: VersionOrder): number {
  const ta = a.tsUs ?? -1n;
  const tb = b.tsUs ?? -1n;
  const pa = order.priorities.get(a.node) ?? 0;
  const pb = order.priorities.get(b.node) ?? 0;
  const keys: [bigint | number | string, bigint | number | string][] = [];
  switch (order.policy) {
    case 'last-writer-wins':
      break;
    case 'priority': {
      const w = BigInt(order.priorityWindowMs) * 1000n;
      keys.push([ta < 0n ? -1n : ta / w, tb < 0n ? -1n : tb / w], [pa, pb]);
      break;
    }
    default:
      return order.policy satisfies never;
  }
  keys.push([ta, tb], [pa, pb], [a.node, b.node], [a.lsn, b.lsn], [a.seq, b.seq]);
  for (const [x, y] of keys) {
    const c = cmp(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

/** What the node holds for a key: a live row or a tombstone, with its version; or nothing. */
export type Current =
  | { state: 'live'; version: Version; row: unknown }
  | { state: 'deleted'; version: Version }
  | { state: 'none' };

/** The raw facts the node's SQL returns about a key (sql.ts). */
export interface KeyFacts {
  /** the live row (to_jsonb), if any, and its xmin's commit time and replication origin id */
  row?: { json: unknown; tsUs: bigint | null; roident: number | null } | undefined;
  /** the key's version row beside the table, as a peer sink last wrote it */
  meta?: { node: string; tsUs: bigint | null; lsn: bigint; seq: bigint; deleted: boolean } | undefined;
  /** commit time of the key's latest local delete (recorded by the trigger), if any */
  localDeleteTsUs?: bigint | null | undefined;
}

/**
 * The current version of a key at node `self`. A live row last written locally (its xmin carries
 * no replication origin) is a local version at its commit time; a row a peer sink wrote (origin
 * set) has the version the sink stored beside it. Without a live row, the later of the applied
 * tombstone and the latest local delete is the version.
 */
export function currentVersion(self: string, facts: KeyFacts, order: VersionOrder): Current {
  const { row, meta } = facts;
  if (row) {
    const applied = row.roident !== null && row.roident !== 0;
    if (applied && meta && !meta.deleted)
      return {
        state: 'live',
        row: row.json,
        version: { tsUs: meta.tsUs, node: meta.node, lsn: meta.lsn, seq: meta.seq },
      };
    return { state: 'live', row: row.json, version: { tsUs: row.tsUs, node: self, lsn: 0n, seq: 0n } };
  }
  const applied: Version | undefined = meta?.deleted
    ? { tsUs: meta.tsUs, node: meta.node, lsn: meta.lsn, seq: meta.seq }
    : undefined;
  const local: Version | undefined =
    facts.localDeleteTsUs != null ? { tsUs: facts.localDeleteTsUs, node: self, lsn: 0n, seq: 0n } : undefined;
  const version =
    applied && local ? (compareVersions(applied, local, order) >= 0 ? applied : local) : (applied ?? local);
  return version ? { state: 'deleted', version } : { state: 'none' };
}

export type ConflictKind = 'insert-insert' | 'update-update' | 'update-delete' | 'delete-update' | 'unique';
export type Resolution = 'applied-remote' | 'kept-local' | 'left-for-operator';

/**
 * Decision for an incoming change (upsert or delete) with version `incoming` from node `from`
 * against what the node holds: apply or skip, and the conflict to log, if it is one. A conflict is
 * a write of another node meeting this one: an arriving insert that finds a live row another node
 * wrote, or any arriving write that loses to another node's version.
 */
export function decide(
  op: 'upsert' | 'insert' | 'delete',
  incoming: Version,
  current: Current,
  order: VersionOrder,
): { apply: boolean; conflict?: { kind: ConflictKind; resolution: Resolution } } {
  if (current.state === 'none') return { apply: true };
  const wins = compareVersions(incoming, current.version, order) > 0;
  const foreign = current.version.node !== incoming.node;
  const kind: ConflictKind =
    op === 'delete'
      ? 'delete-update'
      : current.state === 'deleted'
        ? 'update-delete'
        : op === 'insert'
          ? 'insert-insert'
          : 'update-update';
  if (wins) {
    const conflict = foreign && op === 'insert' && current.state === 'live';
    return conflict ? { apply: true, conflict: { kind, resolution: 'applied-remote' } } : { apply: true };
  }
  // a delete meeting a tombstone changes nothing: both sides wanted the row gone
  if (!foreign || (op === 'delete' && current.state === 'deleted')) return { apply: false };
  return { apply: false, conflict: { kind, resolution: 'kept-local' } };
}
