// Where the pipeline's status lives between processes: a compacted Kafka topic (`<prefix>.status`,
// one partition) holding the latest record of the producer (key `producer:<slot>`), of each
// target (key `target:<name>`) and of each target's last reconcile (key `reconcile:<name>`). Producer and consumers publish their record every few seconds and
// on state changes (status-reporter.ts); `pgcdc status` reads the topic; a restarted consumer loads
// its record so its applied / failed / dead-lettered counters continue. Kafka is the one
// dependency every pipeline process already has, and compaction keeps the topic small.
import { hostname } from 'node:os';
import { z } from 'zod';
import type { KafkaConfig, OperationsConfig } from '../config/schema.ts';
import type { KafkaClientFactory, KafkaProducerPort, KafkaAdminPort } from '../kafka/port.ts';

export function statusTopicFor(kafka: KafkaConfig, ops: Pick<OperationsConfig, 'statusTopic'>): string {
  return ops.statusTopic ?? `${kafka.topicPrefix}.status`;
}

export const producerKey = (slot: string) => `producer:${slot}`;
export const targetKey = (target: string) => `target:${target}`;
export const reconcileKey = (target: string) => `reconcile:${target}`;

/**
 * Snapshot progress, published with the producer's record while an initial snapshot runs.
 * Hook for the snapshot stage: put its progress in ProducerState.snapshot and it shows up in
 * `pgcdc status` (unknown fields are kept and shown as they are).
 */
export const SnapshotProgressSchema = z
  .object({
    state: z.string().describe('e.g. running, done, failed'),
    rowsDone: z.number().optional(),
    rowsTotal: z.number().nullable().optional(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
  })
  .passthrough();
export type SnapshotProgress = z.infer<typeof SnapshotProgressSchema>;

const nullableString = z.string().nullable();
const common = {
  v: z.literal(1),
  startedAt: z.string().describe('when the reporting process started'),
  updatedAt: z.string(),
  host: z.string(),
  pid: z.number(),
};

export const TargetStatusRecordSchema = z
  .object({
    ...common,
    kind: z.literal('target'),
    target: z.string(),
    group: z.string(),
    type: z.string(),
    state: z.enum(['starting', 'OK', 'ERR', 'stopped']),
    /** OK, ERR, or the HTTP status of a webhook's last failure, e.g. "HTTP 503" */
    lastStatus: z.string(),
    lastError: nullableString,
    lastErrorAt: nullableString,
    failingSince: nullableString,
    lastAppliedAt: nullableString,
    /** commit time of the source transaction of the last applied event (µs since epoch) */
    lastAppliedCommitUs: nullableString,
    lastAppliedOffset: z.object({ partition: z.number(), offset: z.string() }).nullable(),
    applied: z.number(),
    failed: z.number(),
    deadLettered: z.number(),
    /** the counters count from this time on (the first start of this target) */
    countingSince: z.string(),
  })
  .passthrough();
export type TargetStatusRecord = z.infer<typeof TargetStatusRecordSchema>;

export const ProducerStatusRecordSchema = z
  .object({
    ...common,
    kind: z.literal('producer'),
    slot: z.string(),
    running: z.boolean(),
    confirmedLsn: nullableString,
    lastEventAt: nullableString,
    lastError: nullableString,
    snapshot: SnapshotProgressSchema.nullable(),
  })
  .passthrough();
export type ProducerStatusRecord = z.infer<typeof ProducerStatusRecordSchema>;

/** The last reconcile of a target (key `reconcile:<target>`), by its schedule or the CLI (ops/reconcile/record.ts). */
export const ReconcileStatusRecordSchema = z
  .object({
    ...common,
    kind: z.literal('reconcile'),
    target: z.string(),
    finishedAt: z.string(),
    seconds: z.number(),
    by: z.enum(['schedule', 'cli']),
    mode: z.enum(['report', 'repair']),
    verdict: z.enum(['ok', 'drift', 'undecided', 'error']),
    counts: z.record(z.string(), z.number()),
    error: nullableString,
  })
  .passthrough();
export type ReconcileStatusRecord = z.infer<typeof ReconcileStatusRecordSchema>;

export type StatusRecord = TargetStatusRecord | ProducerStatusRecord | ReconcileStatusRecord;
const StatusRecordSchema = z.discriminatedUnion('kind', [
  TargetStatusRecordSchema,
  ProducerStatusRecordSchema,
  ReconcileStatusRecordSchema,
]);

export function processIdentity(startedAt: Date): Pick<StatusRecord, 'startedAt' | 'host' | 'pid'> {
  return { startedAt: startedAt.toISOString(), host: hostname(), pid: process.pid };
}

export function encodeStatus(record: StatusRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

/** undefined for a record this version cannot read (written by a newer pgcdc, or garbage). */
export function decodeStatus(value: Buffer): StatusRecord | undefined {
  try {
    const parsed = StatusRecordSchema.safeParse(JSON.parse(value.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Latest record per key, from messages in offset order (a null value deletes the key). */
export function foldStatus(
  messages: { key: Buffer | null; value: Buffer | null }[],
): Map<string, StatusRecord> {
  const out = new Map<string, StatusRecord>();
  for (const m of messages) {
    if (!m.key) continue;
    const key = m.key.toString('utf8');
    if (m.value === null) {
      out.delete(key);
      continue;
    }
    const rec = decodeStatus(m.value);
    if (rec) out.set(key, rec);
  }
  return out;
}

export interface StatusStore {
  readonly topic: string;
  /** Every key's latest record; empty when the topic does not exist yet. */
  readAll(): Promise<Map<string, StatusRecord>>;
  write(key: string, record: StatusRecord): Promise<void>;
  close(): Promise<void>;
}

/** Topic settings that keep the active segment small, so reading the whole topic stays cheap. */
export const STATUS_TOPIC_CONFIG: Record<string, string> = {
  'cleanup.policy': 'compact',
  'segment.ms': String(60 * 60 * 1000),
  'segment.bytes': String(8 * 1024 * 1024),
  'min.cleanable.dirty.ratio': '0.1',
};

export function createKafkaStatusStore(
  kafka: KafkaClientFactory,
  opts: { topic: string; replicationFactor: number },
): StatusStore {
  let producer: KafkaProducerPort | undefined;
  let admin: KafkaAdminPort | undefined;
  let ready: Promise<void> | undefined;
  const open = () =>
    (ready ??= (async () => {
      admin = kafka.admin();
      await admin.connect();
      await admin.ensureTopic({
        topic: opts.topic,
        partitions: 1,
        replicationFactor: opts.replicationFactor,
        config: STATUS_TOPIC_CONFIG,
      });
      producer = kafka.producer();
      await producer.connect();
    })().catch((err: unknown) => {
      ready = undefined;
      throw err;
    }));

  return {
    topic: opts.topic,
    async readAll() {
      const a = kafka.admin();
      await a.connect();
      let ends;
      try {
        if (!(await a.describeTopic(opts.topic))) return new Map();
        ends = await a.topicOffsets(opts.topic);
      } finally {
        await a.disconnect();
      }
      const ranges = ends.map((e) => ({ partition: e.partition, from: e.low, to: e.high }));
      const messages = await kafka.reader().read(opts.topic, ranges);
      messages.sort((x, y) => (x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0));
      return foldStatus(messages);
    },
    async write(key, record) {
      await open();
      await producer!.send(opts.topic, [{ key: Buffer.from(key), value: encodeStatus(record) }]);
    },
    async close() {
      const r = ready;
      ready = undefined;
      await r?.catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
      await admin?.disconnect().catch(() => undefined);
      producer = undefined;
      admin = undefined;
    },
  };
}
