// kafkajs adapter of KafkaConsumerPort: a group member without auto-commit. An offset is committed
// only after the handler has applied everything before it, off the fetch path (offset-committer.ts:
// the next fetch does not wait for the commit's round trip); a 'retry-from' outcome seeks back and
// pauses the partition for the requested time, or until the outcome's `wake` signal fires. With
// `concurrency` > 1, batches of different partitions are handled at the same time (kafkajs
// partitionsConsumedConcurrently); one partition's batches stay one after another. With
// `recordSpans`, a chunk's span travels as the metadata of the offset commit made before the chunk
// is handled (its first offset, unchanged progress), and a batch starting inside the span recorded
// at the committed offset gets it back (`recordedSpan`): after a crash, a rebalance or a stop the
// chunk is cut as the first time. Fetched record batches are decoded by kafkajs-consumer-records.ts
// (the same objects as kafkajs's decoder, less CPU).
// A crash kafkajs does not restart itself (it restarts only after errors it deems retriable: a
// 'Failed to find group coordinator' during a Kafka outage, or a handler error marked not
// retriable, leaves it disconnected for good) is restarted here with the one backoff policy,
// until stop(): the target never silently stops consuming.
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import { createBackoff, sleep, type Backoff } from '../retry.ts';
import { installRecordBatchDecoder } from './kafkajs-consumer-records.ts';
import { createOffsetCommitter, type OffsetCommitter } from './offset-committer.ts';
import type {
  BatchContext,
  BatchOutcome,
  ChunkSpan,
  ConsumerRunOptions,
  InMessage,
  KafkaConsumerPort,
  PartitionBatch,
} from './port.ts';

const SPAN_METADATA = /^pgcdc-chunk-last:(\d+)$/;
/** A graceful stop waits this long at most for the offsets queued before it to be committed. */
const STOP_FLUSH_MS = 5_000;
/** Delays between restarts of a crashed consumer (reset once a batch is handled again). */
const CRASH_BACKOFF = { initialMs: 1_000, maxMs: 30_000, jitter: 0.2 };

/** The offset-commit metadata naming the last offset of the chunk that starts at the offset. */
export const spanMetadata = (last: bigint) => `pgcdc-chunk-last:${last}`;

/** The last offset a commit's metadata names; undefined for any other metadata. */
export function spanLast(metadata: string | null | undefined): bigint | undefined {
  const m = SPAN_METADATA.exec(metadata ?? '');
  return m ? BigInt(m[1]!) : undefined;
}

/** The recorded span the batch starts in, if any (committed: the partition's committed offset). */
export function spanAtStart(
  committed: { offset: bigint; last: bigint | undefined } | undefined,
  firstOffset: bigint,
): ChunkSpan | undefined {
  if (committed?.last === undefined) return undefined;
  const { offset: first, last } = committed;
  return first <= firstOffset && firstOffset <= last ? { first, last } : undefined;
}

/** The key of a topic's partition in maps of several topics (partition numbers repeat per topic). */
const tpKey = (topic: string, partition: number) => `${partition}@${topic}`;

/** A kafkajs message as our InMessage (headers as strings). Shared with the reader. */
export function toInMessage(
  partition: number,
  m: {
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    timestamp: string;
    headers?: Record<string, unknown>;
  },
): InMessage {
  const headers: Record<string, string> = {};
  for (const k in m.headers) {
    if (!Object.hasOwn(m.headers, k)) continue;
    const v = m.headers[k];
    // a header called __proto__ is an own property, as Object.fromEntries would make it
    const text = Buffer.isBuffer(v) ? v.toString() : String(v);
    if (k === '__proto__')
      Object.defineProperty(headers, k, {
        value: text,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else headers[k] = text;
  }
  return {
    partition,
    offset: BigInt(m.offset),
    key: m.key,
    value: m.value,
    timestampMs: Number(m.timestamp),
    headers,
  };
}

export class KafkajsConsumer implements KafkaConsumerPort {
  private readonly consumer: Consumer;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** set by stop(): a batch still finishing must not schedule a resume on a disconnected consumer */
  private stopped = false;
  /** with recordSpans: reads the group's committed offsets and their metadata after a join */
  private admin: Admin | undefined;
  /**
   * with recordSpans: per topic and partition (`tpKey`), what is committed as far as this member
   * knows (since its last join); partition N of two tables' topics are two entries
   */
  private readonly committed = new Map<string, { offset: bigint; last: bigint | undefined }>();
  private joins = 0;
  /** the handled batches' offsets, committed in the background (not with recordSpans) */
  private committer: OffsetCommitter | undefined;
  /** aborted by stop(): ends a restart after a crash */
  private readonly stopping = new AbortController();
  private readonly crashBackoff: Backoff = createBackoff(CRASH_BACKOFF);
  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly logger: Logger,
    sessionTimeoutMs: number,
  ) {
    installRecordBatchDecoder(); // before the first fetch loads kafkajs's fetch response decoder
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(sessionTimeoutMs / 3)),
      // a partition resumed after a wait (or woken) joins the next fetch: keep a fetch short when
      // the others have nothing new (minBytes 1 answers at once when they have)
      maxWaitTimeInMs: 50,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
  }

  async run(
    topics: string | readonly string[],
    handler: (b: PartitionBatch, ctx: BatchContext) => Promise<BatchOutcome>,
    opts: ConsumerRunOptions = {},
  ): Promise<void> {
    const committer = (this.committer = createOffsetCommitter({
      send: (offsets) =>
        this.consumer.commitOffsets(offsets.map((o) => ({ ...o, offset: o.offset.toString() }))),
      ...(opts.onCommitted && { onCommitted: opts.onCommitted }),
      onError: (err) =>
        this.logger.warn({ err: (err as Error).message }, 'offset commit failed; it is tried again'),
    }));
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      // the partitions may be another member's now: what it commits is not to be overwritten
      committer.drop();
      if (!opts.recordSpans) return;
      this.joins++; // another member may have committed meanwhile
      this.committed.clear();
    });
    if (opts.recordSpans) {
      this.admin = this.kafka.admin();
      await this.admin.connect();
    }
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: typeof topics === 'string' ? [topics] : [...topics],
      fromBeginning: true,
    });
    const runConfig: Parameters<Consumer['run']>[0] = {
      autoCommit: false,
      partitionsConsumedConcurrently: Math.max(1, opts.concurrency ?? 1),
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const isStale = () => payload.isStale();
        const heartbeat = () => payload.heartbeat();
        if (!payload.isRunning() || isStale() || batch.messages.length === 0) return;
        const tp = { topic: batch.topic, partition: batch.partition };
        const joins = this.joins;
        const commit = async (offset: bigint, last?: bigint) => {
          const metadata = last === undefined ? null : spanMetadata(last);
          const started = performance.now();
          await this.consumer.commitOffsets([{ ...tp, offset: offset.toString(), metadata }]);
          opts.onCommitted?.((performance.now() - started) / 1000);
          if (opts.recordSpans && joins === this.joins)
            this.committed.set(tpKey(tp.topic, tp.partition), { offset, last });
        };
        /** the offset committed with a span during this batch: committing it again would drop the span */
        let spanAt: bigint | undefined;
        const recordSpan = async (span: ChunkSpan) => {
          if (!opts.recordSpans) throw new Error('recordSpan needs a consumer run with recordSpans');
          if (!payload.isRunning() || isStale()) return false;
          await commit(span.first, span.last);
          spanAt = span.first;
          // kafkajs skips a commit silently once the consumer stops running
          return payload.isRunning() && !isStale();
        };
        const messages = batch.messages.map((m) => toInMessage(batch.partition, m));
        const recordedSpan = opts.recordSpans
          ? spanAtStart(await this.committedAt(tp.topic, tp.partition), messages[0]!.offset)
          : undefined;
        const outcome = await handler(
          {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: BigInt(batch.highWatermark),
            messages,
            ...(recordedSpan && { recordedSpan }),
          },
          { heartbeat, isStale, recordSpan },
        );
        if (isStale()) return;
        const last = BigInt(batch.lastOffset());
        const next = outcome.kind === 'done' ? last + 1n : outcome.offset;
        const first = BigInt(batch.firstOffset() ?? batch.messages[0]!.offset);
        // with recordSpans, a span is recorded by a commit: commits stay in the batch's order
        if (next > first && next !== spanAt)
          if (opts.recordSpans) await commit(next);
          else committer.queue({ ...tp, offset: next });
        if (outcome.kind === 'retry-from') {
          this.consumer.seek({ ...tp, offset: outcome.offset.toString() });
          if (this.stopped) return;
          this.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
          const { wake } = outcome;
          const resume = () => {
            clearTimeout(t);
            wake?.removeEventListener('abort', resume);
            if (!this.timers.delete(t)) return; // resumed already (or stopped)
            if (!this.stopped) this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
          };
          const t = setTimeout(resume, outcome.afterMs);
          this.timers.add(t);
          if (wake?.aborted) resume();
          else wake?.addEventListener('abort', resume, { once: true });
        } else {
          // The batch is consumed up to `next`: move the fetch position the way eachBatch's own
          // auto-resolve would (a seek would do the same, but also discard a prefetched batch).
          payload.resolveOffset((next - 1n).toString());
        }
        this.crashBackoff.reset();
      },
    };
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopped) return;
      const delayMs = this.crashBackoff.next();
      this.logger.error(
        { err: payload.error.message, restartInMs: delayMs },
        'Kafka consumer stopped after an error the client does not retry; starting it again',
      );
      opts.onCrash?.(payload.error, delayMs);
      void this.restart(runConfig, delayMs);
    });
    await this.consumer.run(runConfig);
  }

  /** After a crash kafkajs left disconnected: connect and run again, with the backoff, until stop(). */
  private async restart(runConfig: Parameters<Consumer['run']>[0], delayMs: number): Promise<void> {
    for (let wait = delayMs; ; wait = this.crashBackoff.next()) {
      await sleep(wait, this.stopping.signal);
      if (this.stopped) return;
      try {
        await this.consumer.connect();
        await this.consumer.run(runConfig);
        return;
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'restarting the Kafka consumer failed');
        // a run that failed half-way keeps kafkajs's group: a later run() would be a no-op
        await this.consumer.disconnect().catch(() => undefined);
      }
    }
  }

  /** What the group has committed for the partition (fetched once after each join). */
  private async committedAt(topic: string, partition: number) {
    const known = this.committed.get(tpKey(topic, partition));
    if (known || !this.admin) return known;
    const joins = this.joins;
    const [fetched] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
    const all = new Map(
      (fetched?.partitions ?? []).map((p) => [
        p.partition,
        { offset: BigInt(p.offset), last: spanLast(p.metadata) },
      ]),
    );
    if (joins === this.joins) for (const [p, c] of all) this.committed.set(tpKey(topic, p), c);
    return all.get(partition);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // what was handled before the stop is committed (unless Kafka is unreachable meanwhile)
    const flushed = new AbortController();
    const flush = this.committer?.flush().finally(() => flushed.abort());
    await Promise.race([flush, sleep(STOP_FLUSH_MS, flushed.signal)]);
    this.committer?.stop();
    await this.consumer.disconnect();
    await this.admin?.disconnect();
    this.logger.debug('consumer stopped');
  }
}
