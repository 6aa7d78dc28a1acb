// One target = one consumer group. Decodes each partition batch, hands it to the target's sink,
// dead-letters what cannot be applied, and only then lets the offsets be committed. Transient
// failures (target down) are retried with backoff inside the batch, so order and offsets hold.
import type { TargetConfig, KafkaConfig } from '../pipeline/config/schema.ts';
import { chunkSizeFor, dlqTopicFor, groupFor } from '../pipeline/config/schema.ts';
import { describeError, PgcdcError } from '../pipeline/errors.ts';
import type {
  BatchOutcome,
  InMessage,
  KafkaClientFactory,
  PartitionBatch,
  BatchContext,
} from '../pipeline/kafka/port.ts';
import { audit, AuditSummary } from '../pipeline/observability/audit.ts';
import type { Logger } from '../pipeline/observability/logger.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import { DecodeError, type EventCodec } from '../schemas/codec.ts';
import { DeadLetterWriter, type DeadLetterRecord } from './dlq.ts';
import { tombstoneDelete } from '../schemas/tombstone.ts';
import type { DecodedEvent, Sink } from './sink.ts';

export interface TargetStatus {
  target: string;
  group: string;
  state: 'starting' | 'OK' | 'ERR' | 'stopped';
  lastError: string | undefined;
  lastErrorAt: Date | undefined;
  lastAppliedAt: Date | undefined;
  lastAppliedCommitUs: bigint | undefined;
  /** Kafka position of the last applied event */
  lastAppliedOffset: { partition: number; offset: bigint } | undefined;
  /** set while an apply keeps failing and is being retried (cleared by the next success) */
  failingSince: Date | undefined;
  applied: number;
  failed: number;
  deadLettered: number;
  /** the counters count from here (restored from the status topic across restarts) */
  countingSince: Date;
}

/** Counters of an earlier run of this target (from the status topic), continued by this one. */
export interface RestoredCounters {
  applied: number;
  failed: number;
  deadLettered: number;
  countingSince: Date;
}

export interface TargetConsumerDeps {
  target: TargetConfig;
  kafkaConfig: KafkaConfig;
  topic: string;
  kafka: KafkaClientFactory;
  codec: EventCodec;
  sink: Sink;
  logger: Logger;
  metrics: Metrics;
  retry?: { initialMs: number; maxMs: number; conflictAttempts: number };
  restored?: RestoredCounters | undefined;
  /** one info-level apply summary this often (default 10 s); per-chunk lines are debug */
  auditSummaryIntervalMs?: number;
}

export function createTargetConsumer(deps: TargetConsumerDeps) {
  const { target, metrics } = deps;
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
  const conflicts = new Map<string, number>();
  let stopping = false;
  const status: TargetStatus = {
    target: target.name,
    group,
    state: 'starting',
    lastError: undefined,
    lastErrorAt: undefined,
    lastAppliedAt: undefined,
    lastAppliedCommitUs: undefined,
    lastAppliedOffset: undefined,
    failingSince: undefined,
    applied: deps.restored?.applied ?? 0,
    failed: deps.restored?.failed ?? 0,
    deadLettered: deps.restored?.deadLettered ?? 0,
    countingSince: deps.restored?.countingSince ?? new Date(),
  };
  const summary = new AuditSummary(log, { kind: 'apply', target: target.name });
  let summaryTimer: NodeJS.Timeout | undefined;

  const setError = (err: unknown) => {
    status.state = 'ERR';
    metrics.targetUp.set({ target: target.name }, 0);
    status.lastError = describeError(err);
    status.lastErrorAt = new Date();
  };

  /** Runs `fn` until it succeeds, backing off on failure; gives up only when stopping or stale. */
  async function persist<T>(what: string, ctx: BatchContext, fn: () => Promise<T>): Promise<T | undefined> {
    let delay = retry.initialMs;
    const started = Date.now();
    for (;;) {
      if (stopping || ctx.isStale()) return undefined;
      try {
        return await fn();
      } catch (err) {
        if (stopping || ctx.isStale()) return undefined;
        status.failed++;
        status.failingSince ??= new Date();
        metrics.failed.inc({ target: target.name });
        setError(err);
        summary.failed(describeError(err));
        audit(
          log,
          'warn',
          {
            kind: 'apply',
            target: target.name,
            status: 'error',
            counts: { failed: 1 },
            durationMs: Date.now() - started,
            error: describeError(err),
            step: what,
            retryInMs: delay,
          },
          `${what} failed; retrying`,
        );
        await new Promise((r) => setTimeout(r, delay));
        await ctx.heartbeat().catch(() => undefined);
        delay = Math.min(delay * 2, retry.maxMs);
      }
    }
  }

  const [schema = '', table = ''] = deps.topic.split('.').slice(-2);
  const topicTable = { schema, table };

  async function decode(messages: InMessage[], dead: DeadLetterRecord[]): Promise<DecodedEvent[]> {
    const out: DecodedEvent[] = [];
    for (const [i, m] of messages.entries()) {
      // A tombstone is a delete once compaction removed the delete event before it (tombstone.ts).
      const tombstone = m.value === null ? tombstoneDelete(m, messages[i - 1], topicTable) : undefined;
      if (m.value === null && !tombstone) continue;
      try {
        if (!m.key) throw new DecodeError('message without key');
        const [key, event] = await Promise.all([
          deps.codec.decodeKey(m.key),
          tombstone ?? deps.codec.decodeValue(m.value!),
        ]);
        out.push({ offset: m.offset, key, event });
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        dead.push({
          message: m,
          sourceTopic: deps.topic,
          target: target.name,
          reason: 'undecodable',
          error: err.message,
          attempts: 1,
        });
      }
    }
    return out;
  }

  async function handleChunk(
    batch: PartitionBatch,
    messages: InMessage[],
    ctx: BatchContext,
  ): Promise<BatchOutcome | 'stale'> {
    const dead: DeadLetterRecord[] = [];
    const decoded = await persist('decoding', ctx, () => {
      dead.length = 0;
      return decode(messages, dead);
    });
    if (decoded === undefined) return 'stale';
    const byOffset = new Map(messages.map((m) => [m.offset, m]));
    // An event blocked by a unique conflict for too long is dead-lettered instead of blocking forever.
    const events = decoded.filter((d) => {
      const k = `${batch.partition}:${d.offset}`;
      const n = conflicts.get(k) ?? 0;
      if (n < retry.conflictAttempts) return true;
      conflicts.delete(k);
      dead.push({
        message: byOffset.get(d.offset)!,
        sourceTopic: deps.topic,
        target: target.name,
        reason: 'unique-conflict',
        error: 'still conflicting after retries',
        attempts: n,
      });
      return false;
    });
    const started = process.hrtime.bigint();
    const result = await persist('apply', ctx, () =>
      deps.sink.apply(events, {
        heartbeat: () => ctx.heartbeat(),
        isStale: () => stopping || ctx.isStale(),
        reportError: (message) => {
          setError(new PgcdcError(message));
          status.failingSince ??= new Date();
        },
      }),
    );
    if (result === undefined) return 'stale';
    for (const d of result.deadLetters) {
      dead.push({
        message: byOffset.get(d.offset)!,
        sourceTopic: deps.topic,
        target: target.name,
        reason: d.reason,
        error: d.error,
        attempts: d.attempts ?? 1,
        ...(d.headers ? { headers: d.headers } : {}),
      });
    }
    if ((await persist('dead-letter write', ctx, () => dlq.write(dead).then(() => true))) === undefined)
      return 'stale';

    const nowUs = BigInt(Date.now()) * 1000n;
    metrics.applyDuration.observe({ target: target.name }, Number(process.hrtime.bigint() - started) / 1e9);
    metrics.batchSize.observe({ target: target.name }, result.applied.length);
    for (const e of result.applied) {
      metrics.applied.inc({ target: target.name, op: e.event.op });
      metrics.endToEnd.observe(
        { target: target.name },
        Math.max(0, Number(nowUs - e.event.source.ts_us) / 1e6),
      );
    }
    for (const d of dead) metrics.deadLettered.inc({ target: target.name, reason: d.reason });
    status.applied += result.applied.length;
    status.deadLettered += dead.length;
    const last = result.applied[result.applied.length - 1];
    if (last) {
      status.lastAppliedAt = new Date();
      status.lastAppliedCommitUs = last.event.source.ts_us;
      status.lastAppliedOffset = { partition: batch.partition, offset: last.offset };
    }
    status.failingSince = undefined;
    const next = result.retryFrom?.offset ?? messages[messages.length - 1]!.offset + 1n;
    metrics.targetLag.set(
      { target: target.name, partition: String(batch.partition) },
      Math.max(0, Number(batch.highWatermark - next)),
    );
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    summary.add({ applied: result.applied.length, deadLettered: dead.length }, durationMs);
    audit(
      log,
      'debug',
      {
        kind: 'apply',
        target: target.name,
        status: dead.length > 0 ? 'partial' : 'ok',
        counts: { applied: result.applied.length, deadLettered: dead.length },
        durationMs: Math.round(durationMs * 10) / 10,
        partition: batch.partition,
        fromOffset: messages[0]!.offset.toString(),
        toOffset: (next - 1n).toString(),
      },
      'applied chunk',
    );
    if (dead.length > 0) {
      setError(
        new PgcdcError(
          `${dead.length} event(s) dead-lettered to ${dlq.topic}: ${dead[0]!.reason}: ${dead[0]!.error}`,
        ),
      );
      log.error(
        { count: dead.length, topic: dlq.topic, reason: dead[0]!.reason, error: dead[0]!.error },
        'events dead-lettered',
      );
    } else if (!result.retryFrom) {
      status.state = 'OK';
      metrics.targetUp.set({ target: target.name }, 1);
    }
    if (result.retryFrom) {
      const k = `${batch.partition}:${result.retryFrom.offset}`;
      const n = (conflicts.get(k) ?? 0) + 1;
      conflicts.set(k, n);
      log.info(
        {
          partition: batch.partition,
          offset: result.retryFrom.offset.toString(),
          attempt: n,
          error: result.retryFrom.error,
        },
        'event waits for another partition',
      );
      return {
        kind: 'retry-from',
        offset: result.retryFrom.offset,
        afterMs: Math.min(100 * 2 ** Math.min(n, 6), 5000),
      };
    }
    return { kind: 'done' };
  }

  return {
    id: `consumer:${target.name}`,
    group,
    status: (): TargetStatus => ({ ...status }),
    async run(): Promise<void> {
      await producer.connect();
      await admin.connect();
      await persist('opening target', { heartbeat: () => Promise.resolve(), isStale: () => false }, () =>
        deps.sink.open(),
      );
      if (status.state === 'starting' && !stopping) {
        status.state = 'OK'; // the target is reachable; nothing applied yet
        status.failingSince = undefined;
        metrics.targetUp.set({ target: target.name }, 1);
      }
      summaryTimer = setInterval(() => summary.flush(), deps.auditSummaryIntervalMs ?? 10_000);
      summaryTimer.unref();
      // The producer creates the topic; a target started first waits for it instead of failing.
      await persist(
        'waiting for topic',
        { heartbeat: () => Promise.resolve(), isStale: () => false },
        async () => {
          const parts = await admin.topicOffsets(deps.topic);
          if (parts.length === 0)
            throw new PgcdcError(`topic ${deps.topic} does not exist yet`, { hint: 'start the producer' });
        },
      );
      log.info({ topic: deps.topic, dlq: dlq.topic }, 'consuming');
      const chunkSize = chunkSizeFor(target);
      await consumer.run(deps.topic, async (batch, ctx) => {
        for (let i = 0; i < batch.messages.length; i += chunkSize) {
          const chunk = batch.messages.slice(i, i + chunkSize);
          const outcome = await handleChunk(batch, chunk, ctx);
          if (outcome === 'stale') return { kind: 'retry-from', offset: chunk[0]!.offset, afterMs: 0 };
          if (outcome.kind === 'retry-from') return outcome;
          await ctx.heartbeat();
          if (stopping) {
            const next = batch.messages[i + chunkSize];
            if (next) return { kind: 'retry-from', offset: next.offset, afterMs: 0 };
          }
        }
        return { kind: 'done' };
      });
    },
    async stop(): Promise<void> {
      stopping = true;
      await consumer.stop().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await deps.sink.close();
      status.state = 'stopped';
      clearInterval(summaryTimer);
      summary.flush();
    },
  };
}

export type TargetConsumer = ReturnType<typeof createTargetConsumer>;
