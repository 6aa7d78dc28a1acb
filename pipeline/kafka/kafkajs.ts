// kafkajs implementation of the Kafka ports. Idempotent producer with acks=all; consumers without
// auto-commit: an offset is committed only after the handler has applied everything before it.
import { randomBytes } from 'node:crypto';
import {
  Kafka,
  logLevel,
  type ConfigResourceTypes,
  type Consumer,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import type {
  BatchOutcome,
  KafkaAdminPort,
  KafkaClientFactory,
  KafkaConsumerPort,
  KafkaProducerPort,
  OutMessage,
  PartitionBatch,
  BatchContext,
  GroupDescription,
  InMessage,
  KafkaReaderPort,
  ReadRange,
  TopicDescription,
  TopicSpec,
} from './port.ts';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
  /** Consumer group session timeout: how soon a dead member's partitions move (default 30 s). */
  sessionTimeoutMs?: number;
  /** Client-level retries (default: 8, up to 10 s apart); one-shot tools such as `pgcdc check` use fewer. */
  retry?: { retries: number; initialRetryTime: number; maxRetryTime: number };
}

function kafkajsLogger(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      // Creating a topic that exists is how ensureTopic works; kafkajs logs it as an error.
      if (
        message.startsWith('Response CreateTopics') &&
        String(extra.error).includes('Topic creation errors')
      ) {
        child.debug(extra, message);
      } else if (level === logLevel.ERROR) child.warn(extra, message);
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
    retry: opts.retry ?? { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
  });
  return {
    producer: () =>
      new KafkajsProducer(
        kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          // Retry sends for as long as kafkajs lets us (it can still give up during a broker outage;
          // the producer then restarts from the slot's confirmed position, losing nothing).
          retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
        }),
      ),
    consumer: (groupId) => new KafkajsConsumer(kafka, groupId, opts.logger, opts.sessionTimeoutMs ?? 30_000),
    admin: () => new KafkajsAdmin(kafka),
    reader: () => new KafkajsReader(kafka, opts.clientId),
  };
}

function toInMessage(
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

/** kafkajs's ConfigResourceTypes.TOPIC (the enum is not a named export of its CommonJS entry). */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/** The part of kafkajs's internal Cluster that removeGroupMembers and commitGroupOffsets need. */
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(o: { groupId: string }): Promise<{
    leaveGroup(o: { groupId: string; memberId: string }): Promise<unknown>;
    offsetCommit(o: {
      groupId: string;
      groupGenerationId: number;
      memberId: string;
      topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
    }): Promise<{ responses: { partitions: { partition: number; errorCode: number }[] }[] }>;
  }>;
}

class KafkajsAdmin implements KafkaAdminPort {
  private readonly admin;
  constructor(private readonly kafka: Kafka) {
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
  async describeGroup(groupId: string): Promise<GroupDescription> {
    const { groups } = await this.admin.describeGroups([groupId]);
    const g = groups[0];
    const memberList = (g?.members ?? []).map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      host: m.clientHost,
    }));
    return { state: g?.state ?? 'Unknown', members: memberList.length, memberList };
  }
  async describeTopic(topic: string): Promise<TopicDescription | undefined> {
    const topics = await this.admin.listTopics();
    if (!topics.includes(topic)) return undefined;
    const meta = await this.admin.fetchTopicMetadata({ topics: [topic] });
    const configs = await this.admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: TOPIC_RESOURCE, name: topic }],
    });
    const entries = configs.resources[0]?.configEntries ?? [];
    return {
      partitions: meta.topics[0]?.partitions.length ?? 0,
      config: Object.fromEntries(entries.map((e) => [e.configName, e.configValue])),
    };
  }
  async removeGroupMembers(groupId: string): Promise<number> {
    const { memberList } = await this.describeGroup(groupId);
    if (memberList.length === 0) return 0;
    // kafkajs has no public RemoveMembersFromConsumerGroup: LeaveGroup (v3+, which names the member)
    // is sent to the group coordinator on each member's behalf through the client's cluster.
    const cluster = await this.cluster();
    try {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      for (const m of memberList) await coordinator.leaveGroup({ groupId, memberId: m.memberId });
    } finally {
      await cluster.disconnect();
    }
    return memberList.length;
  }
  async commitGroupOffsets(
    groupId: string,
    topic: string,
    offsets: { partition: number; offset: bigint }[],
  ): Promise<void> {
    const cluster = await this.cluster();
    try {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      const res = await coordinator.offsetCommit({
        groupId,
        groupGenerationId: -1,
        memberId: '',
        topics: [
          {
            topic,
            partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset.toString() })),
          },
        ],
      });
      const failed = res.responses.flatMap((t) => t.partitions).find((p) => p.errorCode !== 0);
      if (failed) throw new Error(`offset commit for ${groupId} refused (error code ${failed.errorCode})`);
    } finally {
      await cluster.disconnect();
    }
  }
  private async cluster(): Promise<InternalCluster> {
    const sym = Object.getOwnPropertySymbols(this.kafka).find(
      (s) => s.description === 'private:Kafka:createCluster',
    );
    const create = sym ? (this.kafka as unknown as Record<symbol, unknown>)[sym] : undefined;
    if (typeof create !== 'function') throw new Error('this kafkajs version cannot remove group members');
    const cluster = (create as (o: object) => InternalCluster)({});
    await cluster.connect();
    return cluster;
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

/** Reads ranges with a consumer of a throwaway group that never commits; the group is deleted after. */
class KafkajsReader implements KafkaReaderPort {
  constructor(
    private readonly kafka: Kafka,
    private readonly clientId: string,
  ) {}

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
