// `pgcdc status`: one view of the whole pipeline, gathered from where each fact lives: the slot
// from the source's pg_replication_slots, offsets and group membership from Kafka, and what the
// running processes last reported (last event, counters, last error) from the status topic. Each
// part that cannot be read says why instead of failing the whole view.
import { formatLsn } from '../schemas/lsn.ts';
import { judgeSlotWal, readSlots } from '../producers/postgres/slots.ts';
import type { Config } from '../pipeline/config/schema.ts';
import { groupFor, sourceTablesOf, tableName, targetTopicsOf, topicFor } from '../pipeline/config/schema.ts';
import { describeError } from '../pipeline/errors.ts';
import type { KafkaClientFactory } from '../pipeline/kafka/port.ts';
import { usToIso } from './replay.ts';
import {
  createKafkaStatusStore,
  producerKey,
  reconcileKey,
  statusTopicFor,
  targetKey,
  type SnapshotProgress,
  type StatusRecord,
} from '../pipeline/supervision/status-store.ts';
import { createPgConnections, type PgConnections } from '../pipeline/postgres.ts';

export interface ProducerView {
  slot: string;
  /** the slot exists on the source */
  exists: boolean | null;
  plugin: string | null;
  active: boolean | null;
  activePid: number | null;
  walStatus: string | null;
  /** WAL that may still be written before max_slot_wal_keep_size invalidates the slot (null: no limit) */
  safeWalSizeBytes?: number | null;
  /** set when the slot is at risk of invalidation, or invalidated: what it means and what to do */
  walRisk?: string | null;
  currentWalLsn: string | null;
  confirmedFlushLsn: string | null;
  restartLsn: string | null;
  /** pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn): WAL the server keeps for the slot */
  walRetainedBytes: number | null;
  /** pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn): WAL not yet acknowledged */
  confirmedFlushLagBytes: number | null;
  /** as the producer last reported it */
  running: boolean | null;
  lastEventAt: string | null;
  lastError: string | null;
  reportedAt: string | null;
  reportedBy: string | null;
  snapshot: SnapshotProgress | null;
  error?: string;
}

export interface PartitionLag {
  partition: number;
  committed: string | null;
  high: string;
  lag: number;
  /** the change topic (several tables: one per table the target receives) */
  topic?: string;
}

export interface TargetView {
  name: string;
  type: string;
  group: string;
  groupState: string | null;
  members: { clientId: string; host: string }[];
  lag: PartitionLag[];
  totalLag: number | null;
  lastApplied: {
    partition: number | null;
    offset: string | null;
    at: string | null;
    sourceCommitTime: string | null;
  };
  applied: number | null;
  failed: number | null;
  deadLettered: number | null;
  countingSince: string | null;
  state: string | null;
  lastStatus: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  reportedAt: string | null;
  reportedBy: string | null;
  /** the target's last reconcile (pgcdc reconcile or its schedule), null when none was recorded */
  lastReconcile: ReconcileView | null;
  error?: string;
}

export interface ReconcileView {
  finishedAt: string;
  seconds: number;
  by: 'schedule' | 'cli';
  mode: 'report' | 'repair';
  verdict: 'ok' | 'drift' | 'undecided' | 'error';
  counts: Record<string, number>;
  error: string | null;
}

/** The last reconcile of a target, from its status record (key reconcile:<target>). */
export function reconcileView(records: Map<string, StatusRecord>, target: string): ReconcileView | null {
  const r = records.get(reconcileKey(target));
  if (r?.kind !== 'reconcile') return null;
  return {
    finishedAt: r.finishedAt,
    seconds: r.seconds,
    by: r.by,
    mode: r.mode,
    verdict: r.verdict,
    counts: r.counts,
    error: r.error,
  };
}

/** `pgcdc status`'s line of a target's last reconcile, e.g. "last reconcile: drift (report, schedule) ...". */
export function reconcileLine(v: ReconcileView, ago: (iso: string) => string): string {
  const c = v.counts;
  const counts =
    v.verdict === 'error'
      ? `: ${v.error ?? 'failed'}`
      : `: ${c.compared ?? 0} compared, ${c.missing ?? 0} missing, ${c.extra ?? 0} extra, ${c.differing ?? 0} differing, ` +
        `${c.undecided ?? 0} undecided${v.mode === 'repair' ? `; fed ${c.fed ?? 0}, removed ${c.removed ?? 0}` : ''}`;
  return `last reconcile ${v.verdict} (${v.mode}, ${v.by === 'cli' ? 'pgcdc reconcile' : 'schedule'}, ${v.seconds.toFixed(1)} s) ended ${ago(v.finishedAt)}${counts}`;
}

type TopicView = {
  name: string;
  /** the captured table it carries (`schema.table`) */
  table?: string;
  partitions: { partition: number; low: string; high: string }[];
  error?: string;
};

export interface PipelineStatus {
  generatedAt: string;
  /** the first table's change topic (the only one with one table) */
  topic: TopicView;
  /** every captured table's change topic (docs/tables.md) */
  topics: TopicView[];
  statusTopic: { name: string; error?: string };
  producer: ProducerView;
  targets: TargetView[];
}

async function producerView(
  config: Config,
  records: Map<string, StatusRecord>,
  connections: PgConnections,
): Promise<ProducerView> {
  const rec = records.get(producerKey(config.source.slot));
  const p = rec?.kind === 'producer' ? rec : undefined;
  const view: ProducerView = {
    slot: config.source.slot,
    exists: null,
    plugin: null,
    active: null,
    activePid: null,
    walStatus: null,
    currentWalLsn: null,
    confirmedFlushLsn: null,
    restartLsn: null,
    walRetainedBytes: null,
    confirmedFlushLagBytes: null,
    running: p?.running ?? null,
    lastEventAt: p?.lastEventAt ?? null,
    lastError: p?.lastError ?? null,
    reportedAt: p?.updatedAt ?? null,
    reportedBy: p ? `${p.host}:${p.pid}` : null,
    snapshot: p?.snapshot ?? null,
  };
  const client = connections.client(config.source.url, 'ops', 'pgcdc-status');
  try {
    await client.connect();
    const r = await readSlots(client, config.source.slot);
    const s = r.slots[0];
    view.currentWalLsn = formatLsn(r.currentLsn);
    view.exists = s !== undefined;
    if (s) {
      view.plugin = s.plugin;
      view.active = s.active;
      view.activePid = s.activePid;
      view.walStatus = s.walStatus;
      view.safeWalSizeBytes = s.safeWalSizeBytes ?? null;
      const risk = judgeSlotWal(s, r.maxSlotWalKeepBytes ?? null, config.operations.slotWalWarnRatio);
      view.walRisk = risk.level === 'ok' ? null : risk.message;
      view.confirmedFlushLsn = s.confirmedFlushLsn;
      view.restartLsn = s.restartLsn;
      view.walRetainedBytes = s.retainedBytes;
      view.confirmedFlushLagBytes = s.flushLagBytes;
    }
  } catch (err) {
    view.error = `source: ${describeError(err)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
  return view;
}

export async function gatherStatus(
  config: Config,
  kafka: KafkaClientFactory,
  connections: PgConnections = createPgConnections(config.connections),
): Promise<PipelineStatus> {
  const tables = sourceTablesOf(config.source).map((t) => ({
    table: tableName(t),
    name: topicFor(config.kafka, t),
  }));
  const store = createKafkaStatusStore(kafka, {
    topic: statusTopicFor(config.kafka, config.operations),
    replicationFactor: config.kafka.replicationFactor,
  });
  let records = new Map<string, StatusRecord>();
  let statusError: string | undefined;
  try {
    records = await store.readAll();
  } catch (err) {
    statusError = describeError(err);
  } finally {
    await store.close();
  }
  const admin = kafka.admin();
  const groups = kafka.groupAdmin();
  const ends = new Map<string, { partition: number; low: bigint; high: bigint }[]>();
  const topicErrors = new Map<string, string>();
  let kafkaError: string | undefined;
  const [producer] = await Promise.all([
    producerView(config, records, connections),
    (async () => {
      try {
        await Promise.all([admin.connect(), groups.connect()]);
        for (const { name } of tables) {
          if (await admin.describeTopic(name))
            ends.set(
              name,
              (await admin.topicOffsets(name)).sort((a, b) => a.partition - b.partition),
            );
          else topicErrors.set(name, 'topic does not exist yet (nothing was published)');
        }
      } catch (err) {
        kafkaError = `kafka: ${describeError(err)}`;
        for (const { name } of tables) topicErrors.set(name, kafkaError);
      }
    })(),
  ]);
  const topics: TopicView[] = tables.map(({ name, table }) => {
    const error = topicErrors.get(name);
    return {
      name,
      table,
      partitions: (ends.get(name) ?? []).map((e) => ({
        partition: e.partition,
        low: e.low.toString(),
        high: e.high.toString(),
      })),
      ...(error ? { error } : {}),
    };
  });
  const status: PipelineStatus = {
    generatedAt: new Date().toISOString(),
    topic: topics[0]!,
    topics,
    statusTopic: { name: store.topic, ...(statusError ? { error: statusError } : {}) },
    producer,
    targets: [],
  };

  for (const t of config.targets) {
    const group = groupFor(config.kafka, t);
    const rec = records.get(targetKey(t.name));
    const r = rec?.kind === 'target' ? rec : undefined;
    const view: TargetView = {
      name: t.name,
      type: t.type,
      group,
      groupState: null,
      members: [],
      lag: [],
      totalLag: null,
      lastApplied: {
        partition: r?.lastAppliedOffset?.partition ?? null,
        offset: r?.lastAppliedOffset?.offset ?? null,
        at: r?.lastAppliedAt ?? null,
        sourceCommitTime: r?.lastAppliedCommitUs ? usToIso(BigInt(r.lastAppliedCommitUs)) : null,
      },
      applied: r?.applied ?? null,
      failed: r?.failed ?? null,
      deadLettered: r?.deadLettered ?? null,
      countingSince: r?.countingSince ?? null,
      state: r?.state ?? null,
      lastStatus: r?.lastStatus ?? null,
      lastError: r?.lastError ?? null,
      lastErrorAt: r?.lastErrorAt ?? null,
      reportedAt: r?.updatedAt ?? null,
      reportedBy: r ? `${r.host}:${r.pid}` : null,
      lastReconcile: reconcileView(records, t.name),
    };
    if (kafkaError) {
      view.error = kafkaError;
    } else {
      try {
        const g = await groups.describeGroup(group);
        view.groupState = g.state;
        view.members = g.memberList.map((m) => ({ clientId: m.clientId, host: m.host.replace(/^\//, '') }));
        const several = targetTopicsOf(config.kafka, config.source, t);
        for (const topic of several) {
          const te = ends.get(topic);
          if (!te) continue;
          const committed = await admin.groupOffsets(group, topic);
          for (const e of te) {
            const c = committed.find((x) => x.partition === e.partition)?.offset ?? -1n;
            const pos = c < e.low ? e.low : c;
            view.lag.push({
              partition: e.partition,
              committed: c < 0n ? null : c.toString(),
              high: e.high.toString(),
              lag: Math.max(0, Number(e.high - pos)),
              ...(several.length > 1 ? { topic } : {}),
            });
          }
        }
        if (view.lag.length > 0) view.totalLag = view.lag.reduce((n, p) => n + p.lag, 0);
      } catch (err) {
        view.error = `kafka: ${describeError(err)}`;
      }
    }
    status.targets.push(view);
  }
  await admin.disconnect().catch(() => undefined);
  await groups.disconnect().catch(() => undefined);
  return status;
}
