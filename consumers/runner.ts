// One target = one consumer group. Each partition batch is cut into chunks; a chunk is decoded,
// applied by the target's sink, what cannot be applied is dead-lettered, and only then are its
// offsets let be committed. Transient failures (target or registry down) are retried with backoff
// inside the batch, so order and offsets hold. The parts live in consumers/group/: decoding,
// unique-conflict waiting, the retry and metrics decorators around the sink, status and audit.
// Several tables (docs/tables.md): the group subscribes to the topic of every table the target
// receives; a partition batch is of one topic, so one table: decoded with that table's codec and
// handed to the sink, which routes it to the table's own sink (consumers/tables.ts).
// Lanes (consumers/group/lanes.ts): with `laneSink`, batches of different partitions are applied
// at the same time, each by a sink of its own (a Postgres target: a connection each); one
// partition's batches stay in order. A partition waiting on a unique conflict is woken as soon as
// another partition of the topic moves on, instead of sleeping out its backoff; while other lanes
// apply, it waits in place and retries the rest of its batch at once (consumers/group/in-place.ts).
import type { KafkaConfig, TargetConfig } from '../pipeline/config/schema.ts';
import { chunkSizeFor, dlqTopicFor, groupFor } from '../pipeline/config/schema.ts';
import { PgcdcError } from '../pipeline/errors.ts';
import type {
  BatchContext,
  BatchOutcome,
  InMessage,
  KafkaClientFactory,
  PartitionBatch,
} from '../pipeline/kafka/port.ts';
import type { Logger } from '../pipeline/observability/logger.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import type { EventCodec } from '../schemas/codec.ts';
import { deadLetterOf, DeadLetterWriter, type SetAside } from './dlq.ts';
import { chunkBounds } from './group/chunks.ts';
import { decodeChunk } from './group/decode.ts';
import { instrumentSink } from './group/instrumented-sink.ts';
import { createOutcomeReporter, type OutcomeReporter } from './group/outcome.ts';
import { createInPlaceWaits } from './group/in-place.ts';
import { stageTimings } from './group/stages.ts';
import { createLanes, type Lane } from './group/lanes.ts';
import { createPersist, NO_BATCH } from './group/retrying.ts';
import { createConflictWaits } from './group/waits.ts';
import { createTargetStatusBook, type RestoredCounters, type TargetStatus } from './group/status.ts';
import type { ApplyContext, Sink } from './sink.ts';

export type { RestoredCounters, TargetStatus } from './group/status.ts';

/** A topic the target reads: the source table it carries and that table's codec. */
export interface ConsumedTopic {
  topic: string;
  /** the source table the topic carries (events rebuilt from tombstones name it) */
  table: { schema: string; table: string };
  codec: EventCodec;
}

export interface TargetConsumerDeps {
  target: TargetConfig;
  kafkaConfig: KafkaConfig;
  /** every topic the target reads, one per table it receives */
  topics: ConsumedTopic[];
  kafka: KafkaClientFactory;
  sink: Sink;
  /** another sink like `sink` (own connection): partitions are then applied by up to `lanes` at once */
  laneSink?: () => Sink;
  /** sinks applying at the same time, `sink` included (default 1; only with laneSink) */
  lanes?: number;
  logger: Logger;
  metrics: Metrics;
  retry?: { initialMs: number; maxMs: number; conflictAttempts: number };
  restored?: RestoredCounters | undefined;
  /** a lock wait at the target longer than this is reported as a failed batch (the target's lock_timeout; default 5 s) */
  lockWaitLimitMs?: number;
  /** one info-level apply summary this often (default 10 s); per-chunk lines are debug */
  auditSummaryIntervalMs?: number;
}

/** The producer creates the topics; a target started first waits for them instead of failing. */
async function topicsExist(admin: { topicOffsets(topic: string): Promise<unknown[]> }, topics: string[]) {
  for (const topic of topics) {
    const parts = await admin.topicOffsets(topic);
    if (parts.length === 0)
      throw new PgcdcError(`topic ${topic} does not exist yet`, { hint: 'start the producer' });
  }
}

/**
 * The unique-conflict and lock waits of the target (consumers/group/waits.ts); a lock wait longer
 * than the target's lock timeout is reported as a failed apply (status ERR, failed-batch metric).
 */
function conflictWaits(
  attempts: number,
  lockLimitMs: number | undefined,
  log: Logger,
  report: OutcomeReporter,
) {
  return createConflictWaits({
    attempts,
    log,
    ...(lockLimitMs !== undefined && { lockLimitMs }),
    onLongLock: (w) =>
      report.failed({
        what: 'apply',
        err: new PgcdcError(
          `the event at partition ${w.partition} offset ${w.offset} has waited ${(w.lockedMs / 1000).toFixed(1)} s for a lock at the target: ${w.error}`,
          {
            retriable: true,
            hint: 'a transaction outside the pipeline holds a lock on the target table (see pg_locks / pg_stat_activity at the target); the event is retried until it gets the lock',
          },
        ),
        delayMs: w.retryInMs,
        durationMs: 0,
      }),
  });
}

/** What a sink's apply sees of its batch: stale once revoked or once the consumer stops. */
function applyContext(
  ctx: BatchContext,
  stopping: AbortSignal,
  book: { reportError(message: string): void },
): ApplyContext {
  return {
    heartbeat: () => ctx.heartbeat(),
    isStale: () => stopping.aborted || ctx.isStale(),
    reportError: (message) => book.reportError(message),
  };
}

export function createTargetConsumer(deps: TargetConsumerDeps) {
  const { target, metrics } = deps;
  const byTopic = new Map(deps.topics.map((t) => [t.topic, t]));
  const topicNames = deps.topics.map((t) => t.topic);
  const group = groupFor(deps.kafkaConfig, target);
  const log = deps.logger.child({ component: 'consumer', target: target.name, group });
  const retry = deps.retry ?? { initialMs: 250, maxMs: 5_000, conflictAttempts: 40 };
  const consumer = deps.kafka.consumer(group);
  const producer = deps.kafka.producer();
  const admin = deps.kafka.admin();
  const dlq = new DeadLetterWriter(
    producer,
    admin,
    dlqTopicFor(deps.kafkaConfig, target),
    deps.kafkaConfig.partitions,
    deps.kafkaConfig.replicationFactor,
  );
  const stopping = new AbortController();
  const book = createTargetStatusBook({ target: target.name, group, metrics, restored: deps.restored });
  const report = createOutcomeReporter({ target: target.name, log, metrics, book });
  const persist = createPersist({
    backoff: { initialMs: retry.initialMs, maxMs: retry.maxMs },
    signal: stopping.signal,
    onFailure: (f) => report.failed(f),
  });
  const instrumented = (s: Sink) => instrumentSink(s, { target: target.name, metrics });
  const sink = instrumented(deps.sink);
  const { laneSink } = deps;
  const lanes = createLanes({
    first: sink,
    more: laneSink ? () => instrumented(laneSink()) : undefined,
    count: laneSink ? Math.max(1, deps.lanes ?? 1) : 1,
    persist,
  });
  const waits = conflictWaits(retry.conflictAttempts, deps.lockWaitLimitMs, log, report);

  const stages = stageTimings(metrics, target.name);
  const letter = (topic: string, message: InMessage, d: SetAside) =>
    deadLetterOf(message, { sourceTopic: topic, target: target.name }, d);

  /** decode -> apply -> dead-letter -> outcome; 'stale' when the chunk is no longer wanted */
  async function handleChunk(
    lane: Lane,
    batch: PartitionBatch,
    messages: InMessage[],
    ctx: BatchContext,
  ): Promise<BatchOutcome | 'stale'> {
    const started = process.hrtime.bigint();
    const route = byTopic.get(batch.topic);
    if (!route)
      throw new PgcdcError(`batch of topic ${batch.topic}, which target ${target.name} does not read`);
    const decoded = await persist('decoding', ctx, () => decodeChunk(route.codec, messages, route.table));
    if (decoded === undefined) return 'stale';
    const decodedAt = stages.decoded(started, decoded.events);
    const { events, exhausted } = waits.admit(batch, decoded.events);
    const byOffset = new Map(messages.map((m) => [m.offset, m]));
    const result = await lane.apply(events, applyContext(ctx, stopping.signal, book));
    if (result === undefined) return 'stale';
    stages.applied(decodedAt);

    const dead = [
      ...decoded.undecodable.map((u) =>
        letter(batch.topic, u.message, { reason: 'undecodable', error: u.error }),
      ),
      ...exhausted.map((x) =>
        letter(batch.topic, byOffset.get(x.event.offset)!, {
          reason: 'unique-conflict',
          error: 'still conflicting after retries',
          attempts: x.attempts,
        }),
      ),
      ...result.deadLetters.map((d) => letter(batch.topic, byOffset.get(d.offset)!, d)),
    ];
    if ((await persist('dead-letter write', ctx, () => dlq.write(dead).then(() => true))) === undefined)
      return 'stale';

    const next = result.retryFrom?.offset ?? messages[messages.length - 1]!.offset + 1n;
    report.chunk({
      partition: batch.partition,
      highWatermark: batch.highWatermark,
      fromOffset: messages[0]!.offset,
      next,
      applied: result.applied,
      dead,
      dlqTopic: dlq.topic,
      waiting: result.retryFrom !== undefined,
      lockWait: result.retryFrom?.reason === 'lock-wait',
      durationMs: Number(process.hrtime.bigint() - started) / 1e6,
    });
    return waits.outcome(batch, messages[0]!.offset, next, result.retryFrom);
  }

  const chunkSize = chunkSizeFor(target);
  // A webhook's batches depend on the chunk: record each span so a redelivery is cut the same.
  const recordSpans = target.type === 'webhook' && target.batchSize > 1;
  const wokenInPlace = createInPlaceWaits({ lanes, stopping: stopping.signal, enabled: !recordSpans });

  /** a partition batch, chunk by chunk, on one lane */
  async function handleBatch(lane: Lane, whole: PartitionBatch, ctx: BatchContext): Promise<BatchOutcome> {
    stages.batch(whole);
    for (let batch = whole; ; await ctx.heartbeat()) {
      const outcome = await handleChunks(lane, batch, ctx);
      if (outcome.kind === 'done' || !(await wokenInPlace(outcome, ctx))) return outcome;
      batch = { ...batch, messages: batch.messages.filter((m) => m.offset >= outcome.offset) };
    }
  }

  async function handleChunks(lane: Lane, batch: PartitionBatch, ctx: BatchContext): Promise<BatchOutcome> {
    for (const [from, to] of chunkBounds(batch, chunkSize)) {
      const chunk = batch.messages.slice(from, to);
      const stale = { kind: 'retry-from', offset: chunk[0]!.offset, afterMs: 0 } as const;
      const span = { first: chunk[0]!.offset, last: chunk[chunk.length - 1]!.offset };
      if (recordSpans && !(await ctx.recordSpan(span))) return stale;
      const outcome = await handleChunk(lane, batch, chunk, ctx);
      if (outcome === 'stale') return stale;
      if (outcome.kind === 'retry-from') return outcome;
      await ctx.heartbeat();
      if (stopping.signal.aborted) {
        const next = batch.messages[to];
        if (next) return { kind: 'retry-from', offset: next.offset, afterMs: 0 };
      }
    }
    return { kind: 'done' };
  }

  return {
    id: `consumer:${target.name}`,
    group,
    status: (): TargetStatus => book.status(),
    async run(): Promise<void> {
      await producer.connect();
      await admin.connect();
      await persist('opening target', NO_BATCH, () => lanes.openFirst());
      if (!stopping.signal.aborted) book.opened(); // the target is reachable; nothing applied yet
      report.start(deps.auditSummaryIntervalMs ?? 10_000);
      await persist('waiting for topic', NO_BATCH, () => topicsExist(admin, topicNames));
      log.info({ topics: topicNames, dlq: dlq.topic }, 'consuming');
      await consumer.run(
        topicNames,
        async (batch, ctx) =>
          (await lanes.with(ctx, (lane) => handleBatch(lane, batch, ctx))) ??
          ({ kind: 'retry-from', offset: batch.messages[0]!.offset, afterMs: 0 } as const),
        { recordSpans, concurrency: lanes.count, onCommitted: stages.committed, onCrash: crashReport(book) },
      );
    },
    async stop(): Promise<void> {
      stopping.abort();
      waits.clear();
      await consumer.stop().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await lanes.close();
      book.stopped();
      report.stop();
    },
  };
}

export type TargetConsumer = ReturnType<typeof createTargetConsumer>;

/** The target's status when its Kafka consumer crashed (the adapter starts it again). */
function crashReport(book: { reportError(message: string): void }) {
  return (err: unknown, restartInMs: number) =>
    book.reportError(
      `Kafka consumer stopped (${(err as Error).message}); starting it again in ${Math.round(restartInMs / 1000)} s`,
    );
}
