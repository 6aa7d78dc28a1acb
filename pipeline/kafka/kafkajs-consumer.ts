// kafkajs adapter of KafkaConsumerPort: a group member without auto-commit. An offset is committed
// only after the handler has applied everything before it; a 'retry-from' outcome seeks back and
// pauses the partition for the requested time.
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import type { BatchContext, BatchOutcome, InMessage, KafkaConsumerPort, PartitionBatch } from './port.ts';

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
  return {
    partition,
    offset: BigInt(m.offset),
    key: m.key,
    value: m.value,
    timestampMs: Number(m.timestamp),
    headers: Object.fromEntries(
      Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : String(v)]),
    ),
  };
}

export class KafkajsConsumer implements KafkaConsumerPort {
  private readonly consumer: Consumer;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** set by stop(): a batch still finishing must not schedule a resume on a disconnected consumer */
  private stopped = false;
  constructor(
    kafka: Kafka,
    groupId: string,
    private readonly logger: Logger,
    sessionTimeoutMs: number,
  ) {
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(sessionTimeoutMs / 3)),
      maxWaitTimeInMs: 200,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
  }

  async run(
    topic: string,
    handler: (b: PartitionBatch, ctx: BatchContext) => Promise<BatchOutcome>,
  ): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const isStale = () => payload.isStale();
        const heartbeat = () => payload.heartbeat();
        if (!payload.isRunning() || isStale() || batch.messages.length === 0) return;
        const outcome = await handler(
          {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: BigInt(batch.highWatermark),
            messages: batch.messages.map((m) => toInMessage(batch.partition, m)),
          },
          { heartbeat, isStale },
        );
        if (isStale()) return;
        const tp = { topic: batch.topic, partition: batch.partition };
        const last = BigInt(batch.lastOffset());
        const next = outcome.kind === 'done' ? last + 1n : outcome.offset;
        const first = BigInt(batch.firstOffset() ?? batch.messages[0]!.offset);
        if (next > first) {
          await this.consumer.commitOffsets([{ ...tp, offset: next.toString() }]);
        }
        if (outcome.kind === 'retry-from') {
          this.consumer.seek({ ...tp, offset: outcome.offset.toString() });
          if (this.stopped) return;
          this.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
          const t = setTimeout(() => {
            this.timers.delete(t);
            if (!this.stopped) this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
          }, outcome.afterMs);
          this.timers.add(t);
        } else {
          // The batch is consumed up to `next`: move the fetch position the way eachBatch's own
          // auto-resolve would (a seek would do the same, but also discard a prefetched batch).
          payload.resolveOffset((next - 1n).toString());
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.consumer.disconnect();
    this.logger.debug('consumer stopped');
  }
}
