// The Kafka, registry and producer sections, and the names derived from them (change topic,
// consumer group, dead-letter topic). Part of the configuration (schema.ts).
import { z } from 'zod';
import { positiveInt, url } from './fields.ts';
import { HttpsTlsSchema, KafkaSaslSchema, KafkaTlsSchema, RegistryAuthSchema } from './tls.ts';

export const KafkaSchema = z
  .object({
    brokers: z.array(z.string().min(1)).min(1).describe('bootstrap brokers host:port'),
    clientId: z.string().default('pgcdc').describe('Kafka client id of every connection pgcdc opens'),
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .default('pgcdc')
      .describe('topic = <prefix>.<schema>.<table>; consumer group = <prefix>.<target>'),
    partitions: positiveInt
      .default(3)
      .describe('partitions of the change topic when pgcdc creates it (the key decides the partition)'),
    replicationFactor: positiveInt
      .default(1)
      .describe('replication factor of the topics pgcdc creates (change, status, dead-letter)'),
    sessionTimeoutMs: z
      .number()
      .int()
      .min(6000)
      .default(30_000)
      .describe('consumer group session timeout: how fast a dead consumer is replaced'),
    topicConfig: z
      .record(z.string(), z.string())
      .default({})
      .describe('topic configs when the topic is created, over DEFAULT_TOPIC_CONFIG (log-compacted)'),
    tls: KafkaTlsSchema.optional(),
    sasl: KafkaSaslSchema.optional(),
  })
  .strict();

export const RegistrySchema = z
  .object({
    url: url('Confluent-compatible schema registry base URL (Apicurio: .../apis/ccompat/v7)'),
    auth: RegistryAuthSchema.optional(),
    tls: HttpsTlsSchema.optional().describe(
      'TLS to an https:// registry: a private CA, a client certificate',
    ),
  })
  .strict();

/** Per Kafka send: well under the broker's default max.message.bytes (1 MiB) per partition batch. */
export const DEFAULT_BATCH_MAX_BYTES = 512 * 1024;
/** Largest event: fits the broker's default max.message.bytes (1,048,588) with the batch overhead. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;
/** What the change topic's max.message.bytes adds to producer.maxMessageBytes (record batch overhead). */
export const TOPIC_MESSAGE_BYTES_MARGIN = 64 * 1024;

export const ProducerSchema = z
  .object({
    batchMaxMessages: positiveInt.default(2000).describe('max events per Kafka send'),
    batchMaxBytes: positiveInt
      .default(DEFAULT_BATCH_MAX_BYTES)
      .describe(
        'max bytes (keys, values, headers) per Kafka send; a batch is split per partition, so this keeps each partition batch under the topic max.message.bytes',
      ),
    maxMessageBytes: positiveInt
      .default(DEFAULT_MAX_MESSAGE_BYTES)
      .describe(
        'largest event (key + value + headers) the producer publishes; a larger row stops the stream with an error naming table, key and LSN. The change topic is created with max.message.bytes = this + 64 KiB; raise both together for an existing topic (docs/event-format.md: Large rows)',
      ),
    lingerMs: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'wait this long after a transaction ends to fill a batch; 0 sends as soon as the messages in hand are handled. While a send is in flight the next batch fills anyway and leaves when it is acknowledged, so batches grow with the rate without a linger',
      ),
  })
  .strict()
  .refine((p) => p.batchMaxBytes <= p.maxMessageBytes, {
    message: 'producer.batchMaxBytes must not exceed producer.maxMessageBytes',
    path: ['batchMaxBytes'],
  });

export type KafkaConfig = z.output<typeof KafkaSchema>;
export type ProducerConfig = z.output<typeof ProducerSchema>;
export type RegistryConfig = z.output<typeof RegistrySchema>;

/**
 * The change topic is the feed for new targets: log-compacted by key, deletes followed by
 * tombstones. A consumer must read from the start to the end within delete.retention.ms.
 */
export const DEFAULT_TOPIC_CONFIG: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': String(60 * 60 * 1000),
  'delete.retention.ms': String(24 * 60 * 60 * 1000),
};

export function topicConfigFor(
  kafka: KafkaConfig,
  producer?: Pick<ProducerConfig, 'maxMessageBytes'>,
): Record<string, string> {
  // the change topic takes every event the producer may publish (set together, README: Large rows)
  const size = producer
    ? { 'max.message.bytes': String(producer.maxMessageBytes + TOPIC_MESSAGE_BYTES_MARGIN) }
    : {};
  return { ...DEFAULT_TOPIC_CONFIG, ...size, ...kafka.topicConfig };
}

export function topicFor(kafka: KafkaConfig, source: { schema: string; table: string }): string {
  return `${kafka.topicPrefix}.${source.schema}.${source.table}`;
}
export function groupFor(kafka: KafkaConfig, target: { name: string }): string {
  return `${kafka.topicPrefix}.${target.name}`;
}
export function dlqTopicFor(
  kafka: KafkaConfig,
  target: { name: string; dlqTopic?: string | undefined },
): string {
  return target.dlqTopic ?? `${kafka.topicPrefix}.dlq.${target.name}`;
}
