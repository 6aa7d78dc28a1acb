// pipeline/kafka/kafkajs-consumer.ts with recordSpans and several topics (a webhook target with
// batchSize > 1 receiving several tables): what the member knows to be committed is per topic AND
// partition. Partition 0 of one table's topic must never lend its recorded chunk span to partition
// 0 of another table's topic. Driven through a fake kafkajs consumer (no broker needed: the adapter
// only hands eachBatch payloads to the handler and commits through the client).
import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KafkajsConsumer } from '../../../../pipeline/kafka/kafkajs-consumer.ts';
import type { BatchOutcome, PartitionBatch } from '../../../../pipeline/kafka/port.ts';
import { createLogger } from '../../../../pipeline/observability/logger.ts';

type EachBatch = (payload: unknown) => Promise<void>;

/** committed offsets as the broker has them: topic -> partition -> { offset, metadata } */
type CommittedOffset = { offset: string; metadata: string | null };
type Committed = Map<string, Map<number, CommittedOffset>>;

function fakeKafka(committed: Committed) {
  let eachBatch: EachBatch | undefined;
  const commit = (
    offsets: { topic: string; partition: number; offset: string; metadata?: string | null }[],
  ) => {
    for (const o of offsets) {
      const t = committed.get(o.topic) ?? new Map<number, CommittedOffset>();
      committed.set(o.topic, t);
      t.set(o.partition, { offset: o.offset, metadata: o.metadata ?? null });
    }
    return Promise.resolve();
  };
  const consumer = {
    events: { GROUP_JOIN: 'consumer.group_join' },
    on: () => undefined,
    connect: () => Promise.resolve(),
    subscribe: () => Promise.resolve(),
    run: (opts: { eachBatch: EachBatch }) => {
      eachBatch = opts.eachBatch;
      return Promise.resolve();
    },
    commitOffsets: commit,
    seek: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    disconnect: () => Promise.resolve(),
  };
  const admin = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    fetchOffsets: ({ topics }: { topics: string[] }) =>
      Promise.resolve(
        topics.map((topic) => ({
          topic,
          partitions: [...(committed.get(topic) ?? new Map<number, CommittedOffset>()).entries()].map(
            ([partition, c]) => ({
              partition,
              offset: c.offset,
              metadata: c.metadata,
            }),
          ),
        })),
      ),
  };
  const kafka = { consumer: () => consumer, admin: () => admin } as unknown as Kafka;
  return { kafka, eachBatch: () => eachBatch! };
}

/** an eachBatch payload of one partition's messages [from, to] */
function payload(topic: string, partition: number, from: number, to: number) {
  const messages = Array.from({ length: to - from + 1 }, (_, i) => ({
    offset: String(from + i),
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    timestamp: '0',
    headers: {},
  }));
  return {
    batch: {
      topic,
      partition,
      highWatermark: String(to + 1),
      messages,
      firstOffset: () => String(from),
      lastOffset: () => String(to),
    },
    isRunning: () => true,
    isStale: () => false,
    heartbeat: () => Promise.resolve(),
    resolveOffset: () => undefined,
  };
}

describe('KafkajsConsumer with recordSpans and several topics', () => {
  it("a chunk span recorded at one topic's partition 0 is not handed to another topic's partition 0", async () => {
    const committed: Committed = new Map([
      ['cdc.public.users', new Map([[0, { offset: '10', metadata: null }]])],
      ['cdc.public.orders', new Map([[0, { offset: '12', metadata: null }]])],
    ]);
    const { kafka, eachBatch } = fakeKafka(committed);
    const consumer = new KafkajsConsumer(kafka, 'g', createLogger({ level: 'silent' }), 30_000);
    const seen: PartitionBatch[] = [];
    let first = true;
    await consumer.run(
      ['cdc.public.users', 'cdc.public.orders'],
      async (batch, ctx): Promise<BatchOutcome> => {
        seen.push(batch);
        if (first) {
          first = false;
          // users/0: the chunk 10..14 is recorded, then the batch is given up before delivery ends
          expect(await ctx.recordSpan({ first: 10n, last: 14n })).toBe(true);
          return { kind: 'retry-from', offset: 10n, afterMs: 0 };
        }
        return { kind: 'done' };
      },
      { recordSpans: true },
    );
    await eachBatch()(payload('cdc.public.users', 0, 10, 14));
    // orders/0 is committed at 12 without a span: its batch from 12 starts in no recorded chunk
    await eachBatch()(payload('cdc.public.orders', 0, 12, 16));
    // and users/0, redelivered from 10, gets its own span back
    await eachBatch()(payload('cdc.public.users', 0, 10, 14));
    await consumer.stop();
    expect(seen.map((b) => [b.topic, b.recordedSpan])).toEqual([
      ['cdc.public.users', undefined],
      ['cdc.public.orders', undefined],
      ['cdc.public.users', { first: 10n, last: 14n }],
    ]);
  });

  it("reading one topic's committed offsets keeps what is known of another topic's partitions", async () => {
    const committed: Committed = new Map([
      ['cdc.public.users', new Map([[0, { offset: '10', metadata: null }]])],
      [
        'cdc.public.orders',
        new Map([
          [0, { offset: '12', metadata: null }],
          [1, { offset: '3', metadata: null }],
        ]),
      ],
    ]);
    const { kafka, eachBatch } = fakeKafka(committed);
    const consumer = new KafkajsConsumer(kafka, 'g', createLogger({ level: 'silent' }), 30_000);
    const seen: PartitionBatch[] = [];
    await consumer.run(
      ['cdc.public.users', 'cdc.public.orders'],
      async (batch, ctx): Promise<BatchOutcome> => {
        seen.push(batch);
        if (seen.length === 1) {
          // users/0 records 10..14 and is given up
          await ctx.recordSpan({ first: 10n, last: 14n });
          return { kind: 'retry-from', offset: 10n, afterMs: 0 };
        }
        return { kind: 'done' };
      },
      { recordSpans: true },
    );
    await eachBatch()(payload('cdc.public.users', 0, 10, 14));
    // orders/1 is not known yet: its topic's committed offsets are read (orders/0 among them)
    await eachBatch()(payload('cdc.public.orders', 1, 3, 5));
    await eachBatch()(payload('cdc.public.users', 0, 10, 14));
    await consumer.stop();
    expect(seen.map((b) => b.recordedSpan)).toEqual([undefined, undefined, { first: 10n, last: 14n }]);
  });
});
