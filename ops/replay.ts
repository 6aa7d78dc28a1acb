// `pgcdc replay`: moves a target's consumer-group offsets so the target applies events again (or
// skips them). Applying is idempotent (position-guarded statements), so a replay re-applies events
// and ends in the same, correct state. The plan (per partition: current -> new offset, events
// replayed) is pure; reading offsets, the first event to replay and moving the group is I/O.
import { formatLsn } from '../schemas/lsn.ts';
import { parseDurationMs } from '../pipeline/config/fields.ts';
import { ConfigError, PgcdcError } from '../pipeline/errors.ts';
import type {
  GroupMember,
  KafkaAdminPort,
  KafkaGroupAdminPort,
  KafkaReaderPort,
} from '../pipeline/kafka/port.ts';
import type { EventDecoder } from './decode.ts';

export type ReplayTo =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'time'; ms: number }
  | { kind: 'offsets'; offsets: Map<number, bigint> };

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** `-15m`, `-2h`, `-1h30m`, `-1.5d`, `-90s`: that long before `nowMs` (parseDurationMs). */
function relativeTime(s: string, nowMs: number): number | undefined {
  const ms = s.startsWith('-') ? parseDurationMs(s.slice(1)) : undefined;
  return ms === undefined ? undefined : nowMs - Math.round(ms);
}

/**
 * earliest | latest | <ISO-8601 time with zone, or a date (UTC midnight)> | a time relative to
 * `nowMs` (-15m, -2h, -1h30m, -1d) | <partition>:<offset>[,...]
 */
export function parseReplayTo(spec: string, nowMs = Date.now()): ReplayTo {
  const s = spec.trim();
  const relative = relativeTime(s, nowMs);
  if (relative !== undefined) return { kind: 'time', ms: relative };
  if (/^earliest$/i.test(s)) return { kind: 'earliest' };
  if (/^latest$/i.test(s)) return { kind: 'latest' };
  if (/^\d+:\d+(,\s*\d+:\d+)*$/.test(s)) {
    const offsets = new Map<number, bigint>();
    for (const part of s.split(',')) {
      const [p, o] = part.trim().split(':');
      const partition = Number(p);
      if (offsets.has(partition))
        throw new ConfigError(`--to names partition ${partition} twice`, {
          hint: 'one <partition>:<offset> each',
        });
      offsets.set(partition, BigInt(o!));
    }
    return { kind: 'offsets', offsets };
  }
  if (ISO_DATE.test(s) || ISO_TIME.test(s)) {
    const ms = Date.parse(ISO_DATE.test(s) ? `${s}T00:00:00Z` : s.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return { kind: 'time', ms };
  }
  const hint = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(s)
    ? 'give the time zone too, e.g. 2026-11-27T10:00:00Z or 2026-11-27T11:00:00+01:00'
    : 'use earliest, latest, an ISO-8601 time (2026-11-27T10:00:00Z), a time ago (-15m, -2h, -1h30m, -1d) or <partition>:<offset>[,...] (0:120,1:98)';
  throw new ConfigError(`--to "${spec}" is not a replay position`, { hint });
}

export interface FirstEvent {
  offset: string;
  /** Kafka timestamp of the message */
  publishedAt: string;
  op: string;
  /** commit time of the source transaction */
  commitTime: string;
  /** the event's own LSN and its transaction's commit LSN */
  lsn: string;
  commitLsn: string;
  snapshot: boolean;
}

export interface PartitionPlan {
  partition: number;
  low: bigint;
  high: bigint;
  /** committed offset of the group, -1 when it has none */
  committed: bigint;
  /** where the target would go on from: the committed offset, or the earliest one when none */
  current: bigint;
  next: bigint;
  /** offsets that will be applied again (next < current) */
  replays: bigint;
  /** offsets that will be skipped (next > current): those events are never applied */
  skips: bigint;
  first?: FirstEvent | undefined;
  firstError?: string | undefined;
  /** of the replayed offsets, read (dry run): change events, and tombstones (they apply nothing) */
  events?: bigint | undefined;
  tombstones?: bigint | undefined;
}

export interface ReplayPlan {
  target: string;
  group: string;
  topic: string;
  to: string;
  groupState: string;
  members: GroupMember[];
  /** cleanup.policy=compact: offset counts are an upper bound of the events */
  compacted: boolean;
  partitions: PartitionPlan[];
  /** offsets the group moves back over (messages, tombstones, and offsets compacted away) */
  totalReplays: bigint;
  totalSkips: bigint;
  /** counted by reading the replayed offsets (--dry-run): events applied again, and the rest */
  counted?: { events: bigint; tombstones: bigint; compactedAway: bigint } | undefined;
}

/** Per partition: current -> next offset; pure. */
export function planPartitions(
  to: ReplayTo,
  ends: { partition: number; low: bigint; high: bigint }[],
  committed: { partition: number; offset: bigint }[],
  byTime?: { partition: number; offset: bigint }[],
): PartitionPlan[] {
  if (to.kind === 'offsets') {
    for (const p of to.offsets.keys()) {
      if (!ends.some((e) => e.partition === p))
        throw new ConfigError(`--to names partition ${p}, the topic has partitions 0..${ends.length - 1}`);
    }
  }
  return [...ends]
    .sort((a, b) => a.partition - b.partition)
    .map((e) => {
      const c = committed.find((x) => x.partition === e.partition)?.offset ?? -1n;
      const current = c < e.low ? e.low : c > e.high ? e.high : c;
      let next: bigint;
      switch (to.kind) {
        case 'earliest':
          next = e.low;
          break;
        case 'latest':
          next = e.high;
          break;
        case 'time': {
          const t = byTime?.find((x) => x.partition === e.partition)?.offset;
          next = t === undefined || t < 0n ? e.high : t < e.low ? e.low : t;
          break;
        }
        case 'offsets': {
          const o = to.offsets.get(e.partition);
          if (o !== undefined && (o < e.low || o > e.high)) {
            throw new ConfigError(
              `--to ${e.partition}:${o} is outside partition ${e.partition}'s offsets ${e.low}..${e.high}`,
            );
          }
          next = o ?? current;
          break;
        }
        default:
          return to satisfies never;
      }
      return {
        partition: e.partition,
        low: e.low,
        high: e.high,
        committed: c,
        current,
        next,
        replays: current > next ? current - next : 0n,
        skips: next > current ? next - current : 0n,
      };
    });
}

export function describeTo(to: ReplayTo): string {
  switch (to.kind) {
    case 'earliest':
    case 'latest':
      return to.kind;
    case 'time':
      return new Date(to.ms).toISOString();
    case 'offsets':
      return [...to.offsets].map(([p, o]) => `${p}:${o}`).join(',');
    default:
      return to satisfies never;
  }
}

export interface ReplayDeps {
  /** the topic (exists? compacted?) */
  topics: KafkaAdminPort;
  /** the group: members, committed offsets, offsets by time */
  groups: KafkaGroupAdminPort;
  reader: KafkaReaderPort;
  decode: EventDecoder;
}

export async function buildReplayPlan(
  deps: ReplayDeps,
  opts: {
    target: string;
    group: string;
    topic: string;
    to: ReplayTo;
    withFirstEvents: boolean;
    /** read the replayed offsets to count events and tombstones (the dry run) */
    countEvents?: boolean;
  },
): Promise<ReplayPlan> {
  const { topics, groups: admin } = deps;
  const topic = await topics.describeTopic(opts.topic);
  if (!topic) {
    throw new ConfigError(`topic ${opts.topic} does not exist`, {
      hint: 'nothing was published yet (start pgcdc produce), or fix kafka.topicPrefix',
    });
  }
  const [ends, committed, group, byTime] = await Promise.all([
    admin.topicOffsets(opts.topic),
    admin.groupOffsets(opts.group, opts.topic),
    admin.describeGroup(opts.group),
    opts.to.kind === 'time' ? admin.offsetsForTime(opts.topic, opts.to.ms) : Promise.resolve(undefined),
  ]);
  const partitions = planPartitions(opts.to, ends, committed, byTime);
  if (opts.withFirstEvents) await describeFirstEvents(deps, opts.topic, partitions);
  const counted = opts.countEvents ? await countReplayed(deps, opts.topic, partitions) : undefined;
  return {
    counted,
    target: opts.target,
    group: opts.group,
    topic: opts.topic,
    to: describeTo(opts.to),
    groupState: group.state,
    members: group.memberList,
    compacted: (topic.config['cleanup.policy'] ?? '').includes('compact'),
    partitions,
    totalReplays: partitions.reduce((n, p) => n + p.replays, 0n),
    totalSkips: partitions.reduce((n, p) => n + p.skips, 0n),
  };
}

/**
 * Reads the offsets each partition moves back over and counts what is applied again: change
 * events; tombstones (null values after a delete, for compaction) apply nothing; offsets missing
 * from a compacted topic apply nothing either.
 */
async function countReplayed(deps: ReplayDeps, topic: string, parts: PartitionPlan[]) {
  const wanted = parts.filter((p) => p.replays > 0n);
  const messages = wanted.length
    ? await deps.reader.read(
        topic,
        wanted.map((p) => ({ partition: p.partition, from: p.next, to: p.current })),
        { timeoutMs: 60_000 },
      )
    : [];
  for (const p of wanted) {
    const mine = messages.filter((m) => m.partition === p.partition);
    p.tombstones = BigInt(mine.filter((m) => m.value === null).length);
    p.events = BigInt(mine.length) - p.tombstones;
  }
  const events = wanted.reduce((n, p) => n + (p.events ?? 0n), 0n);
  const tombstones = wanted.reduce((n, p) => n + (p.tombstones ?? 0n), 0n);
  const replays = parts.reduce((n, p) => n + p.replays, 0n);
  return { events, tombstones, compactedAway: replays - events - tombstones };
}

/** The first event each partition will apply after the move (one message per partition). */
async function describeFirstEvents(deps: ReplayDeps, topic: string, parts: PartitionPlan[]): Promise<void> {
  const wanted = parts.filter((p) => p.next < p.high);
  if (wanted.length === 0) return;
  const messages = await deps.reader.read(
    topic,
    wanted.map((p) => ({ partition: p.partition, from: p.next, to: p.high })),
    { limitPerPartition: 1 },
  );
  for (const p of wanted) {
    const m = messages.find((x) => x.partition === p.partition);
    if (!m?.value) {
      p.firstError = m ? 'tombstone' : 'not read';
      continue;
    }
    try {
      const e = await deps.decode(m.value);
      p.first = {
        offset: m.offset.toString(),
        publishedAt: new Date(m.timestampMs).toISOString(),
        op: e.op,
        commitTime: usToIso(e.source.ts_us),
        lsn: formatLsn(e.source.lsn),
        commitLsn: formatLsn(e.source.commit_lsn),
        snapshot: e.source.snapshot,
      };
    } catch (err) {
      p.firstError = `cannot decode: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
}

export function usToIso(us: bigint): string {
  const ms = us / 1000n;
  const iso = new Date(Number(ms)).toISOString();
  const micros = (us % 1_000_000n).toString().padStart(6, '0');
  return iso.replace(/\.\d{3}Z$/, `.${micros}Z`);
}

export class ReplayRefusedError extends PgcdcError {}

export function activeMembersMessage(plan: ReplayPlan): ReplayRefusedError {
  const who = plan.members.map((m) => `${m.clientId}@${m.host.replace(/^\//, '')}`).join(', ');
  return new ReplayRefusedError(
    `target ${plan.target}: consumer group ${plan.group} has ${plan.members.length} active member(s) (${who}); ` +
      'Kafka does not let offsets move under a running consumer, and it would overwrite them',
    {
      hint:
        `stop the pgcdc consume/run process(es) of target ${plan.target}, then run the replay again; ` +
        'or add --force: the members are removed from the group, rejoin by themselves within seconds and ' +
        'resume from the new offsets (each re-applies the batch it was applying, which is harmless)',
    },
  );
}

export interface ReplayResult {
  /** distinct consumers removed from the group (--force); one that rejoined and was removed again counts once */
  membersRemoved: number;
  /** LeaveGroup requests sent on their behalf (more than membersRemoved when some rejoined meanwhile) */
  removals: number;
  attempts: number;
}

/**
 * The number of distinct consumers among the removal rounds: a consumer that rejoins gets a new
 * member id, but it is in the group at most once per round, and a round finds every consumer that
 * is there; so the largest round is the number of consumers (pure).
 */
export function distinctConsumers(rounds: GroupMember[][]): number {
  return rounds.reduce((n, r) => Math.max(n, new Set(r.map((m) => m.memberId)).size), 0);
}

/** Moves the group's offsets to the plan. Refuses while members are active unless `force`. */
export async function executeReplay(
  admin: KafkaGroupAdminPort,
  plan: ReplayPlan,
  opts: { force: boolean; sleep?: (ms: number) => Promise<void> },
): Promise<ReplayResult> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const offsets = plan.partitions
    .filter((p) => p.next !== p.committed)
    .map((p) => ({ partition: p.partition, offset: p.next }));
  if (offsets.length === 0) return { membersRemoved: 0, removals: 0, attempts: 0 };
  const rounds: GroupMember[][] = [];
  const result = (attempts: number): ReplayResult => ({
    membersRemoved: distinctConsumers(rounds),
    removals: rounds.reduce((n, r) => n + r.length, 0),
    attempts,
  });
  const remove = async () => {
    const removed = await admin.removeGroupMembers(plan.group);
    if (removed.length > 0) rounds.push(removed);
  };
  for (let attempt = 1; attempt <= 10; attempt++) {
    const group = await admin.describeGroup(plan.group);
    if (group.members > 0) {
      if (!opts.force) throw activeMembersMessage({ ...plan, members: group.memberList });
      await remove();
    }
    try {
      // one request as an outsider, right after the members left: they need a heartbeat to notice
      await admin.commitGroupOffsets(plan.group, plan.topic, offsets);
    } catch (err) {
      if (!opts.force) {
        throw new ReplayRefusedError(
          `target ${plan.target}: Kafka refused the new offsets of ${plan.group}: ${err instanceof Error ? err.message : String(err)}`,
          { hint: 'a consumer of the target joined meanwhile: stop it and run the replay again', cause: err },
        );
      }
      await sleep(100 * attempt); // a removed member rejoined first: remove it again
      continue;
    }
    if (rounds.length === 0) return result(attempt);
    // Members that rejoined before the commit hold the old positions: remove them once more (they
    // then read the new committed offsets) and check that none of them overwrote the new ones.
    await remove();
    const now = await admin.groupOffsets(plan.group, plan.topic);
    const intact = offsets.every((o) => now.find((n) => n.partition === o.partition)?.offset === o.offset);
    if (intact) return result(attempt);
    await sleep(100 * attempt);
  }
  throw new PgcdcError(
    `target ${plan.target}: could not move the offsets of ${plan.group} (members kept rejoining)`,
    {
      hint: `stop the pgcdc consume/run process(es) of target ${plan.target} and run the replay again`,
    },
  );
}
