// The configuration, declared once: every option with its default and description. Parsed and
// validated at start-up (load.ts); the rest of the program receives typed slices of it.
import { z } from 'zod';
import { WEBHOOK_SECRET_RE, webhookSecretKey } from '../../consumers/webhook/verify.ts';
import { ConnectionsSchema, targetTimeoutsFor } from './connections.ts';
import { onTruncate, seconds, topicName } from './fields.ts';

/** A SQL identifier we are willing to quote and use: validated here, quoted at use. */
export const identifier = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/,
    'must be a plain SQL identifier (letters, digits, _; max 63 chars)',
  );

const name = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must match [a-z][a-z0-9_-]*');
const url = (what: string) => z.string().min(1).describe(what);
const positiveInt = z.number().int().positive();

export const SNAPSHOT_DEFAULTS = {
  mode: 'initial' as const,
  batchSize: 1000,
  checkpointSchema: 'public',
  checkpointTable: 'pgcdc_snapshot',
  progressIntervalMs: 10_000,
  countTimeoutMs: 10_000,
};

export const SnapshotSchema = z
  .object({
    mode: z
      .enum(['initial', 'never'])
      .default(SNAPSHOT_DEFAULTS.mode)
      .describe(
        'initial: a producer starting on a table this slot never snapshotted feeds every row first (op=r); never: only on request (pgcdc snapshot)',
      ),
    batchSize: positiveInt
      .default(SNAPSHOT_DEFAULTS.batchSize)
      .describe('the feed limit: rows read per chunk (one short transaction, key order)'),
    filter: z
      .string()
      .min(1)
      .optional()
      .describe('SQL predicate on the table rows, e.g. "is_active AND NOT is_blocked"; trusted SQL'),
    checkpointSchema: identifier.default(SNAPSHOT_DEFAULTS.checkpointSchema),
    checkpointTable: identifier
      .default(SNAPSHOT_DEFAULTS.checkpointTable)
      .describe('source table holding the progress per slot and table, created if missing'),
    progressIntervalMs: positiveInt
      .default(SNAPSHOT_DEFAULTS.progressIntervalMs)
      .describe('log the progress this often'),
    countTimeoutMs: positiveInt
      .default(SNAPSHOT_DEFAULTS.countTimeoutMs)
      .describe('count(*) the rows to read if it answers within this time, else use the planner estimate'),
  })
  .strict();

export const SourceSchema = z
  .object({
    url: url('PostgreSQL connection URL of the source database (a role with REPLICATION)'),
    schema: identifier.default('public'),
    table: identifier.default('users'),
    publication: identifier.default('pgcdc_pub').describe('created if missing, FOR TABLE <schema>.<table>'),
    slot: z
      .string()
      .regex(
        /^[a-z0-9_]{1,63}$/,
        'must be a replication slot name: lower-case letters, digits and _ only (max 63); Postgres refuses anything else',
      )
      .default('pgcdc_slot')
      .describe('logical replication slot (pgoutput), created if missing'),
    heartbeatIntervalMs: positiveInt
      .default(10_000)
      .describe('emit a logical message this often so the slot advances while the table is idle'),
    statusIntervalMs: positiveInt
      .default(5000)
      .describe('standby status (acknowledged LSN) sent at least this often'),
    ackIntervalMs: positiveInt
      .default(200)
      .describe(
        'store (source.position) and acknowledge the newest Kafka-acknowledged position at most this often: one small source write per interval instead of one per transaction; a restart re-publishes at most this much (duplicates are absorbed)',
      ),
    snapshot: SnapshotSchema.default(SNAPSHOT_DEFAULTS).describe('initial feed (README: Initial feed)'),
    position: z
      .object({ schema: identifier.default('public'), table: identifier.default('pgcdc_position') })
      .strict()
      .default({ schema: 'public', table: 'pgcdc_position' })
      .describe(
        'source table (created if missing) holding the last acknowledged LSN per slot; a slot that disagrees with it is refused (README: Slot protection)',
      ),
  })
  .strict();

export const KafkaSchema = z
  .object({
    brokers: z.array(z.string().min(1)).min(1).describe('bootstrap brokers host:port'),
    clientId: z.string().default('pgcdc'),
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .default('pgcdc')
      .describe('topic = <prefix>.<schema>.<table>; consumer group = <prefix>.<target>'),
    partitions: positiveInt.default(3),
    replicationFactor: positiveInt.default(1),
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
  })
  .strict();

export const RegistrySchema = z
  .object({ url: url('Confluent-compatible schema registry base URL (Apicurio: .../apis/ccompat/v7)') })
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
        'largest event (key + value + headers) the producer publishes; a larger row stops the stream with an error naming table, key and LSN. The change topic is created with max.message.bytes = this + 64 KiB; raise both together for an existing topic (README: Large rows)',
      ),
    lingerMs: z.number().int().min(0).default(5).describe('wait this long to fill a batch'),
  })
  .strict()
  .refine((p) => p.batchMaxBytes <= p.maxMessageBytes, {
    message: 'producer.batchMaxBytes must not exceed producer.maxMessageBytes',
    path: ['batchMaxBytes'],
  });

export const PostgresTargetSchema = z
  .object({
    name,
    type: z.literal('postgres'),
    url: url('PostgreSQL URL of the peer database'),
    schema: identifier.default('public'),
    table: identifier.default('users'),
    createTable: z
      .boolean()
      .default(true)
      .describe(
        'create the target table (and its tables <table>_pgcdc_deleted, <table>_pgcdc_truncated) when missing',
      ),
    deleteMarkerRetentionHours: z
      .number()
      .nonnegative()
      .default(168)
      .describe(
        'keep the marker of a deleted row this long (0 = forever): an older change of that row redriven or replayed later than this could bring it back',
      ),
    batchSize: positiveInt.default(500).describe('max events applied in one target transaction'),
    onTruncate: onTruncate('remove every row older than the truncate, and keep older events out'),
    dlqTopic: topicName.optional().describe('dead-letter topic (default <prefix>.dlq.<target>)'),
  })
  .strict();

export const WebhookTargetSchema = z
  .object({
    name,
    type: z.literal('webhook'),
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
      .describe('receiver URL; every event is POSTed here'),
    secret: z
      .string()
      .min(1)
      .describe(
        'Standard Webhooks signing secret: "whsec_<base64 key>" (or the base64 key alone), as the reference libraries read it; use ${ENV}',
      ),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe('extra request headers (e.g. authorization: Bearer ${TOKEN})'),
    connectTimeout: seconds('TCP/TLS connect timeout').default(5),
    responseTimeout: seconds('time allowed for the response after the request is sent').default(30),
    maxAttempts: positiveInt.default(10).describe('attempts per event before it is dead-lettered'),
    backoff: z
      .object({
        initial: seconds('delay after the first failed attempt').default(1),
        max: seconds('cap of the exponential delay').default(60),
        jitter: z
          .number()
          .min(0)
          .max(1)
          .default(0.2)
          .describe('each delay is reduced by up to this fraction'),
      })
      .strict()
      .default({ initial: 1, max: 60, jitter: 0.2 }),
    retryAfterMax: seconds('longest Retry-After (429/503) honoured').default(300),
    batchSize: positiveInt.default(1).describe('events per request: 1 = one JSON object, >1 = a JSON array'),
    onTruncate: onTruncate('deliver a `truncated` event'),
    concurrency: positiveInt
      .default(4)
      .describe("requests in flight at once; one user's events are always sent one after the other"),
    window: positiveInt
      .default(200)
      .describe(
        'events of a partition handled at once; offsets are committed when all are delivered or dead-lettered',
      ),
    onFailure: z
      .enum(['dead-letter', 'block'])
      .default('dead-letter')
      .describe(
        'dead-letter: after maxAttempts (or a permanent 4xx) the event goes to the DLQ and delivery goes on; block: retry forever, never skip',
      ),
    circuitBreaker: z
      .object({
        failureThreshold: positiveInt
          .default(5)
          .describe('consecutive failed requests that open the circuit'),
        cooldown: seconds('how long an open circuit sends nothing before one probe').default(30),
      })
      .strict()
      .default({ failureThreshold: 5, cooldown: 30 }),
    dlqTopic: topicName.optional().describe('dead-letter topic (default <prefix>.dlq.<target>)'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.secret.startsWith('whsec_') && !/^[A-Za-z0-9+/]+={0,2}$/.test(t.secret.slice('whsec_'.length)))
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'whsec_ must be followed by base64' });
    else if (!WEBHOOK_SECRET_RE.test(t.secret) || webhookSecretKey(t.secret).length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message:
          'must be "whsec_<base64 key>" or a base64 key (Standard Webhooks receivers base64-decode it); e.g. whsec_$(openssl rand -base64 32)',
      });
    if (t.backoff.max < t.backoff.initial)
      ctx.addIssue({ code: 'custom', path: ['backoff', 'max'], message: 'must be >= backoff.initial' });
  });

export const TargetSchema = z.discriminatedUnion('type', [PostgresTargetSchema, WebhookTargetSchema]);

export const OperationsSchema = z
  .object({
    statusTopic: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional()
      .describe(
        'compacted topic holding the last status of the producer and each target (default <prefix>.status)',
      ),
    statusIntervalMs: positiveInt
      .default(2000)
      .describe('status published this often while it changes (and at once on a state change)'),
    slotPollIntervalMs: positiveInt
      .default(5000)
      .describe('the producer reads pg_replication_slots this often (WAL retained, stall detection)'),
    slotStallMs: positiveInt
      .default(60_000)
      .describe('not ready when the confirmed LSN has not moved for this long while the WAL did'),
    slotWalWarnRatio: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.5)
      .describe(
        'warn (log, pgcdc_slot_wal_at_risk, readiness) when the slot may retain less than this share of max_slot_wal_keep_size before the server invalidates it',
      ),
    targetStuckMs: positiveInt
      .default(60_000)
      .describe('not ready when a target has kept failing (retrying) for this long'),
    auditSummaryIntervalMs: positiveInt
      .default(10_000)
      .describe('one info-level audit summary per stream / target this often'),
    stopTimeoutMs: positiveInt
      .default(30_000)
      .describe(
        'a graceful stop (SIGTERM/SIGINT) waits this long for unacknowledged Kafka sends and running target batches, then logs what it abandons and exits (nothing is lost: both are read again at the next start)',
      ),
  })
  .strict();

export const ConfigSchema = z
  .object({
    source: SourceSchema,
    kafka: KafkaSchema,
    registry: RegistrySchema,
    producer: ProducerSchema.default({
      batchMaxMessages: 2000,
      batchMaxBytes: DEFAULT_BATCH_MAX_BYTES,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      lingerMs: 5,
    }),
    targets: z.array(TargetSchema).default([]),
    metrics: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 9464 }),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .strict()
      .default({ level: 'info' }),
    operations: OperationsSchema.prefault({}),
    connections: ConnectionsSchema.prefault({}).describe(
      'Postgres connections: timeouts per role and TCP keepalives (README: Connections)',
    ),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // A target transaction blocked longer than the session timeout gets the consumer evicted (it
    // cannot heartbeat meanwhile) and the batch redelivered, blocked again: a loop readiness cannot
    // see. Below it, the wait ends as a retriable error that status and readiness show.
    if (cfg.targets.some((t) => t.type === 'postgres')) {
      for (const key of ['statementTimeoutMs', 'lockTimeoutMs'] as const) {
        const v = cfg.connections.target[key];
        if (v !== undefined && (v === 0 || v >= cfg.kafka.sessionTimeoutMs))
          ctx.addIssue({
            code: 'custom',
            path: ['connections', 'target', key],
            message: `must be between 1 and kafka.sessionTimeoutMs (${cfg.kafka.sessionTimeoutMs}) exclusive: a longer wait gets the target's consumer evicted and its batch redelivered in a loop`,
          });
      }
    }
    const seen = new Set<string>();
    cfg.targets.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'name'],
          message: `duplicate target name "${t.name}"`,
        });
      seen.add(t.name);
    });
  })
  .transform((cfg) => ({
    ...cfg,
    connections: {
      ...cfg.connections,
      target: { ...targetTimeoutsFor(cfg.kafka.sessionTimeoutMs), ...definedOnly(cfg.connections.target) },
    },
  }));

function definedOnly<T extends object>(o: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]-?: Exclude<T[K], undefined>;
  };
}

export type Config = z.output<typeof ConfigSchema>;
export type SourceConfig = Config['source'];
export type KafkaConfig = Config['kafka'];
export type ProducerConfig = Config['producer'];
export type TargetConfig = Config['targets'][number];
export type PostgresTargetConfig = z.infer<typeof PostgresTargetSchema>;
export type OperationsConfig = Config['operations'];
export type WebhookTargetConfig = z.infer<typeof WebhookTargetSchema>;

/** Events the consumer hands to a target's sink at once (offsets are committed after each). */
export function chunkSizeFor(target: TargetConfig): number {
  switch (target.type) {
    case 'postgres':
      return target.batchSize;
    case 'webhook':
      return target.window;
    default:
      return target satisfies never;
  }
}

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

export function topicFor(kafka: KafkaConfig, source: Pick<SourceConfig, 'schema' | 'table'>): string {
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
