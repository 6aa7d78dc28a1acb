// kafkajs implementation of the Kafka ports. Idempotent producer with acks=all; consumers without
// auto-commit: an offset is committed only after the handler has applied everything before it.
import { Kafka, logLevel, type Consumer, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from '../log/logger.ts';
import type {
  BatchOutcome,
  KafkaAdminPort,
  KafkaClientFactory,
  KafkaConsumerPort,
  KafkaProducerPort,
  OutMessage,
  PartitionBatch,
  BatchContext,
  TopicSpec,
} from './port.ts';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
}

function kafkajsLogger(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level === logLevel.ERROR) child.warn(extra, message);
      else if (level === logLevel.WARN) child.warn(extra, message);
      else child.debug(extra, message);
    };
}

export function createKafkajsFactory(opts: KafkaClientOptions): KafkaClientFactory {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const kafka = new Kafka({
    brokers: opts.brokers,
    clientId: opts.clientId,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogger(opts.logger),
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
  });
  return {
    producer: () =>
      new KafkajsProducer(
        kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          // Never give up on a send: while Kafka is away the publisher waits and the slot is not
          // acknowledged; a restart would only re-read the same WAL.
          retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
        }),
      ),
    consumer: (groupId) => new KafkajsConsumer(kafka, groupId, opts.logger),
    admin: () => new KafkajsAdmin(kafka),
  };
}

class KafkajsProducer implements KafkaProducerPort {
  constructor(private readonly producer: Producer) {}
  connect() {
    return this.producer.connect();
  }
  async send(topic: string, messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({ topic, acks: -1, messages });
  }
  disconnect() {
    return this.producer.disconnect();
  }
}

class KafkajsConsumer implements KafkaConsumerPort {
  private readonly consumer: Consumer;
  private readonly timers = new Set<NodeJS.Timeout>();
  constructor(
    kafka: Kafka,
    groupId: string,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
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
            messages: batch.messages.map((m) => ({
              partition: batch.partition,
              offset: BigInt(m.offset),
              key: m.key,
              value: m.value,
              timestampMs: Number(m.timestamp),
              headers: Object.fromEntries(
                Object.entries(m.headers ?? {}).map(([k, v]) => [
                  k,
                  Buffer.isBuffer(v) ? v.toString() : String(v),
                ]),
              ),
            })),
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
          this.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
          }, outcome.afterMs);
          this.timers.add(t);
        } else {
          this.consumer.seek({ ...tp, offset: next.toString() });
        }
      },
    });
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.consumer.disconnect();
    this.logger.debug('consumer stopped');
  }
}

class KafkajsAdmin implements KafkaAdminPort {
  private readonly admin;
  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }
  connect() {
    return this.admin.connect();
  }
  async ensureTopic(spec: TopicSpec): Promise<'created' | 'exists'> {
    const created = await this.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: spec.topic,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    return created ? 'created' : 'exists';
  }
  async topicOffsets(topic: string) {
    const offs = await this.admin.fetchTopicOffsets(topic);
    return offs.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
  }
  async groupOffsets(groupId: string, topic: string) {
    const res = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return (res[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: BigInt(p.offset) }));
  }
  async setGroupOffsets(groupId: string, topic: string, offsets: { partition: number; offset: bigint }[]) {
    await this.admin.setOffsets({
      groupId,
      topic,
      partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset.toString() })),
    });
  }
  async offsetsForTime(topic: string, timestampMs: number) {
    const res = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return res.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) }));
  }
  async describeGroup(groupId: string) {
    const { groups } = await this.admin.describeGroups([groupId]);
    const g = groups[0];
    return { state: g?.state ?? 'Unknown', members: g?.members.length ?? 0 };
  }
  async deleteTopic(topic: string) {
    const topics = await this.admin.listTopics();
    if (topics.includes(topic)) await this.admin.deleteTopics({ topics: [topic], timeout: 30_000 });
  }
  async deleteGroup(groupId: string) {
    const { groups } = await this.admin.listGroups();
    if (groups.some((g) => g.groupId === groupId)) await this.admin.deleteGroups([groupId]);
  }
  disconnect() {
    return this.admin.disconnect();
  }
}
