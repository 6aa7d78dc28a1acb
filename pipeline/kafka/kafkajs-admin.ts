// kafkajs adapter of KafkaAdminPort, the pipeline's topic administration: create and describe
// topics, read their offsets and a group's committed offsets. It never changes a group.
import type { Admin, ConfigResourceTypes, Kafka } from 'kafkajs';
import { retryUntil } from '../retry.ts';
import type { GroupOffsets, KafkaAdminPort, TopicDescription, TopicOffsets, TopicSpec } from './port.ts';

/** kafkajs's ConfigResourceTypes.TOPIC (the enum is not a named export of its CommonJS entry). */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/** A group's committed offsets for one topic (-1 where it has none); shared with the group admin. */
export async function fetchGroupOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<GroupOffsets[]> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (res[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: BigInt(p.offset) }));
}

/** The topic's [low, high) per partition; shared with the group admin. */
export async function fetchTopicOffsets(admin: Admin, topic: string): Promise<TopicOffsets[]> {
  const offs = await admin.fetchTopicOffsets(topic);
  return offs.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
}

export class KafkajsAdmin implements KafkaAdminPort {
  private readonly admin: Admin;
  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }
  connect() {
    return this.admin.connect();
  }
  async ensureTopic(spec: TopicSpec): Promise<'created' | 'exists'> {
    // kafkajs's own waitForLeaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION, which a KRaft
    // broker answers while its metadata cache has not caught up with the creation yet: the
    // producer then failed its first session and showed that error as its lastError (seen in
    // test/ops/status). The wait for leaders is ours instead (waitForLeaders below).
    const created = await this.admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic: spec.topic,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    await waitForLeaders(this.admin, spec.topic, created ? spec.partitions : 1);
    return created ? 'created' : 'exists';
  }
  async topicRefusal(spec: TopicSpec): Promise<string | undefined> {
    try {
      await this.admin.createTopics({
        validateOnly: true,
        waitForLeaders: false,
        topics: [
          { topic: spec.topic, numPartitions: spec.partitions, replicationFactor: spec.replicationFactor },
        ],
      });
      return undefined;
    } catch (err) {
      const nested = (err as { errors?: { message?: string }[] }).errors ?? [];
      const reasons = nested.map((e) => e.message).filter(Boolean);
      return reasons.length ? reasons.join('; ') : (err as Error).message;
    }
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
  topicOffsets(topic: string): Promise<TopicOffsets[]> {
    return fetchTopicOffsets(this.admin, topic);
  }
  groupOffsets(groupId: string, topic: string) {
    return fetchGroupOffsets(this.admin, groupId, topic);
  }
  async deleteTopic(topic: string) {
    const topics = await this.admin.listTopics();
    if (topics.includes(topic)) await this.admin.deleteTopics({ topics: [topic], timeout: 30_000 });
  }
  disconnect() {
    return this.admin.disconnect();
  }
}

/** Metadata answers that mean "not there yet" right after a topic was created. */
const SETTLING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'TOPIC_SETTLING']);

/**
 * Waits (up to about 30 s) until the topic's metadata shows at least `partitions` partitions, each
 * with a leader; retries while the broker still answers that the topic or its leader is unknown.
 */
export async function waitForLeaders(
  admin: Pick<Admin, 'fetchTopicMetadata'>,
  topic: string,
  partitions: number,
  wait: { maxAttempts: number; maxDelayMs: number } = { maxAttempts: 40, maxDelayMs: 1000 },
): Promise<void> {
  await retryUntil(
    async () => {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const parts = meta.topics[0]?.partitions ?? [];
      if (parts.length < partitions || parts.some((p) => p.leader < 0)) {
        throw Object.assign(new Error(`topic ${topic}: partitions without a leader yet`), {
          type: 'TOPIC_SETTLING',
        });
      }
    },
    {
      backoff: { initialMs: Math.min(50, wait.maxDelayMs), maxMs: wait.maxDelayMs },
      retriable: (err) => SETTLING.has((err as { type?: unknown }).type as string),
      maxAttempts: wait.maxAttempts,
    },
  );
}
