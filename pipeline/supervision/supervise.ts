// Operations around the pipeline services, as decorators the composition root (compose.ts) puts on
// them: the producer gets a slot monitor (WAL retained, stall detection, pgcdc_producer_ready) and
// publishes its status record; each target consumer publishes its status record, restores its
// counters from it at start, and has its consumer lag refreshed periodically (between batches the
// runner updates it itself). The services themselves know nothing of this.
import type { RestoredCounters, TargetConsumer, TargetStatus } from '../../consumers/runner.ts';
import type { ProducerState, Service } from '../../producers/producer.ts';
import {
  startSlotMonitor,
  type SlotHealth,
  type SlotMonitor,
} from '../../producers/postgres/slot-monitor.ts';
import { groupFor, targetTopicsOf, type Config, type TargetConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import type { KafkaClientFactory } from '../kafka/port.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { PgConnections } from '../postgres.ts';
import { judgeReadiness, type Readiness } from './readiness.ts';
import { startStatusReporter, type StatusReporter } from './status-reporter.ts';
import {
  createKafkaStatusStore,
  processIdentity,
  producerKey,
  SnapshotProgressSchema,
  statusTopicFor,
  targetKey,
  type ProducerStatusRecord,
  type StatusStore,
  type TargetStatusRecord,
} from './status-store.ts';

export type ProducerService = Service & { state(): ProducerState };
export type SupervisedProducer = ProducerService & {
  readiness(): Readiness;
  slotHealth(): SlotHealth | undefined;
};
export type SupervisedConsumer = TargetConsumer & { readiness(): Readiness };

/** What the decorators need: the clients, and the kafka, source and operations configuration. */
export interface SupervisionDeps {
  config: Pick<Config, 'kafka' | 'source' | 'operations'>;
  kafka: KafkaClientFactory;
  metrics: Metrics;
  logger: Logger;
  pg?: PgConnections;
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

export function statusStoreFor(app: Pick<SupervisionDeps, 'config' | 'kafka'>): StatusStore {
  return createKafkaStatusStore(app.kafka, {
    topic: statusTopicFor(app.config.kafka, app.config.operations),
    replicationFactor: app.config.kafka.replicationFactor,
  });
}

export function superviseProducer(app: SupervisionDeps, inner: ProducerService): SupervisedProducer {
  const { config, metrics } = app;
  const ops = config.operations;
  const slot = config.source.slot;
  const log = app.logger.child({ component: 'producer-ops', slot });
  const startedAt = new Date();
  let monitor: SlotMonitor | undefined;
  let reporter: StatusReporter | undefined;
  let running: Promise<void> | undefined;
  /** the last event time an earlier run reported, until this run sees one */
  let earlierLastEventAt: string | null = null;

  const readiness = () => {
    const s = inner.state();
    return judgeReadiness({
      nowMs: Date.now(),
      producer: { running: s.running, lastError: s.lastError, slot: monitor?.health() },
      targets: [],
      targetStuckMs: ops.targetStuckMs,
      slotStallMs: ops.slotStallMs,
    });
  };

  const record = (): ProducerStatusRecord => {
    const s = inner.state();
    const snapshot = SnapshotProgressSchema.safeParse((s as { snapshot?: unknown }).snapshot);
    return {
      v: 1,
      kind: 'producer',
      slot,
      running: s.running,
      confirmedLsn: s.confirmedLsn ?? null,
      lastEventAt: iso(s.lastEventAt) ?? earlierLastEventAt,
      lastError: s.lastError ?? null,
      snapshot: snapshot.success ? snapshot.data : null,
      ...processIdentity(startedAt),
      updatedAt: '',
    };
  };

  async function run(): Promise<void> {
    const store = statusStoreFor(app);
    const earlier = await store
      .readAll()
      .then((all) => all.get(producerKey(slot)))
      .catch(() => undefined)
      .finally(() => store.close());
    if (earlier?.kind === 'producer') earlierLastEventAt = earlier.lastEventAt;
    monitor = startSlotMonitor({
      url: config.source.url,
      ...(app.pg ? { pg: app.pg } : {}),
      slot,
      intervalMs: ops.slotPollIntervalMs,
      stallMs: ops.slotStallMs,
      walWarnRatio: ops.slotWalWarnRatio,
      metrics,
      logger: log,
      onSample: () => metrics.producerReady.set(readiness().ok ? 1 : 0),
    });
    reporter = startStatusReporter({
      store: statusStoreFor(app),
      key: producerKey(slot),
      snapshot: record,
      urgent: (r) => (r.kind === 'producer' ? `${r.running}|${r.lastError}|${r.snapshot?.state}` : ''),
      intervalMs: ops.statusIntervalMs,
      logger: log,
    });
    try {
      await inner.run();
    } finally {
      metrics.producerReady.set(0);
      await monitor.stop();
      await reporter.stop();
    }
  }

  return {
    id: inner.id,
    state: () => inner.state(),
    readiness,
    slotHealth: () => monitor?.health(),
    run: () => (running = run()),
    async stop() {
      await inner.stop();
      await running?.catch(() => undefined);
    },
  };
}

/**
 * The counters a target's earlier runs published, so this run continues them; unless the group has
 * no committed offsets any more (group deleted, topic recreated): that history is gone, count anew.
 */
export async function restoreTargetCounters(
  app: SupervisionDeps,
  target: string,
  tables?: Parameters<typeof targetTopicsOf>[2],
): Promise<RestoredCounters | undefined> {
  const store = statusStoreFor(app);
  const admin = app.kafka.admin();
  try {
    const rec = (await store.readAll()).get(targetKey(target));
    if (rec?.kind !== 'target') return undefined;
    await admin.connect();
    const group = groupFor(app.config.kafka, { name: target });
    // the tables the target receives: its topics (a target not in this slice of the config: all)
    const cfg = typeof tables === 'object' ? tables : {};
    const committed = (
      await Promise.all(
        targetTopicsOf(app.config.kafka, app.config.source, cfg).map((t) => admin.groupOffsets(group, t)),
      )
    ).flat();
    if (committed.every((c) => c.offset < 0n)) return undefined;
    return {
      applied: rec.applied,
      failed: rec.failed,
      deadLettered: rec.deadLettered,
      countingSince: new Date(rec.countingSince),
    };
  } catch (err) {
    app.logger.warn(
      { target, err: describeError(err), topic: store.topic },
      'cannot read earlier status; counters start at 0',
    );
    return undefined;
  } finally {
    await store.close();
    await admin.disconnect().catch(() => undefined);
  }
}

/** OK / ERR, or the HTTP status a webhook target answered last when it failed ("HTTP 503"). */
export function lastStatusOf(s: Pick<TargetStatus, 'state' | 'lastError'>): string {
  if (s.state !== 'ERR') return s.state === 'OK' ? 'OK' : s.state;
  const http = /\bHTTP (\d{3})\b/.exec(s.lastError ?? '');
  return http ? `HTTP ${http[1]}` : 'ERR';
}

export function targetRecord(target: TargetConfig, s: TargetStatus, startedAt: Date): TargetStatusRecord {
  return {
    v: 1,
    kind: 'target',
    target: s.target,
    group: s.group,
    type: target.type,
    state: s.state,
    lastStatus: lastStatusOf(s),
    lastError: s.lastError ?? null,
    lastErrorAt: iso(s.lastErrorAt),
    failingSince: iso(s.failingSince),
    lastAppliedAt: iso(s.lastAppliedAt),
    lastAppliedCommitUs: s.lastAppliedCommitUs?.toString() ?? null,
    lastAppliedOffset: s.lastAppliedOffset
      ? { partition: s.lastAppliedOffset.partition, offset: s.lastAppliedOffset.offset.toString() }
      : null,
    applied: s.applied,
    failed: s.failed,
    deadLettered: s.deadLettered,
    countingSince: s.countingSince.toISOString(),
    ...processIdentity(startedAt),
    updatedAt: '',
  };
}

export function superviseConsumer(
  app: SupervisionDeps,
  target: TargetConfig,
  inner: TargetConsumer,
): SupervisedConsumer {
  const { config, metrics } = app;
  const ops = config.operations;
  const log = app.logger.child({ component: 'consumer-ops', target: target.name });
  const startedAt = new Date();
  const topics = targetTopicsOf(config.kafka, config.source, target);
  const group = groupFor(config.kafka, target);
  const admin = app.kafka.admin();
  let reporter: StatusReporter | undefined;
  let lagTimer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;

  const pollLag = async () => {
    try {
      // several tables: a partition's lag is the sum over the target's topics
      const lag = new Map<number, number>();
      for (const topic of topics) {
        const [ends, committed] = await Promise.all([
          admin.topicOffsets(topic),
          admin.groupOffsets(group, topic),
        ]);
        for (const e of ends) {
          const c = committed.find((x) => x.partition === e.partition)?.offset ?? -1n;
          const pos = c < 0n ? e.low : c;
          lag.set(e.partition, (lag.get(e.partition) ?? 0) + Math.max(0, Number(e.high - pos)));
        }
      }
      for (const [partition, n] of lag)
        metrics.targetLag.set({ target: target.name, partition: String(partition) }, n);
    } catch (err) {
      log.debug({ err: describeError(err) }, 'lag poll failed');
    }
  };

  return {
    ...inner,
    readiness: () =>
      judgeReadiness({
        nowMs: Date.now(),
        targets: [inner.status()],
        targetStuckMs: ops.targetStuckMs,
        slotStallMs: ops.slotStallMs,
      }),
    async run() {
      reporter = startStatusReporter({
        store: statusStoreFor(app),
        key: targetKey(target.name),
        snapshot: () => targetRecord(target, inner.status(), startedAt),
        urgent: (r) => (r.kind === 'target' ? `${r.state}|${r.lastError}` : ''),
        intervalMs: ops.statusIntervalMs,
        logger: log,
      });
      await admin.connect();
      lagTimer = setInterval(() => {
        polling ??= pollLag().finally(() => (polling = undefined));
      }, ops.statusIntervalMs);
      lagTimer.unref();
      await inner.run();
    },
    async stop() {
      clearInterval(lagTimer);
      await polling;
      await inner.stop();
      await admin.disconnect().catch(() => undefined);
      await reporter?.stop();
    },
  };
}
