// kafkajs adapter of KafkaReaderPort: reads offset ranges with a consumer of a throwaway group that
// never commits (deleted afterwards), so no real consumer group is touched.
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { toInMessage } from './kafkajs-consumer.ts';
import { installRecordBatchDecoder } from './kafkajs-consumer-records.ts';
import type { InMessage, KafkaReaderPort, ReadRange } from './port.ts';

/** Reads ranges with a consumer of a throwaway group that never commits; the group is deleted after. */
export class KafkajsReader implements KafkaReaderPort {
  constructor(
    private readonly kafka: Kafka,
    private readonly clientId: string,
  ) {
    installRecordBatchDecoder(); // before the first fetch (kafkajs-consumer-records.ts)
  }

  async read(
    topic: string,
    ranges: ReadRange[],
    opts: { limitPerPartition?: number; timeoutMs?: number } = {},
  ): Promise<InMessage[]> {
    const wanted = ranges.filter((r) => r.to > r.from);
    if (wanted.length === 0) return [];
    const limit = opts.limitPerPartition ?? Number.MAX_SAFE_INTEGER;
    const groupId = `${this.clientId}-reader-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 100, retry: { retries: 3 } });
    const got = new Map<number, InMessage[]>(wanted.map((r) => [r.partition, []]));
    const open = new Set(wanted.map((r) => r.partition));
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const close = (partition: number) => {
      if (!open.delete(partition)) return;
      consumer.pause([{ topic, partitions: [partition] }]);
      if (open.size === 0) finish();
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 15_000);
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const others = (meta.topics[0]?.partitions ?? []).map((p) => p.partitionId).filter((p) => !got.has(p));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          const range = wanted.find((r) => r.partition === batch.partition);
          const list = got.get(batch.partition);
          if (!range || !list || !open.has(batch.partition)) return Promise.resolve();
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset >= range.to || list.length >= limit) break;
            if (offset >= range.from) list.push(toInMessage(batch.partition, m));
          }
          if (BigInt(batch.lastOffset()) >= range.to - 1n || list.length >= limit) close(batch.partition);
          return Promise.resolve();
        },
      });
      // Applied before the first fetch of each partition; partitions not asked for are not read.
      for (const r of wanted) consumer.seek({ topic, partition: r.partition, offset: r.from.toString() });
      if (others.length) consumer.pause([{ topic, partitions: others }]);
      await finished;
      if (open.size > 0) {
        throw new Error(
          `reading ${topic} timed out for partition(s) ${[...open].join(', ')} (broker unreachable?)`,
        );
      }
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    return wanted.flatMap((r) => got.get(r.partition) ?? []);
  }
}
