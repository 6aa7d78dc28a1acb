// Dead-letter topic tools behind `pgcdc dlq list|show|redrive`: read a target's dead letters (up to
// the high watermark, through the Kafka reader port: no real consumer group is touched) and
// re-apply them through the target's own sink. Redrive progress is kept as the committed offsets of
// the group `<group>.redrive` on the dead-letter topic, so a second redrive only takes what was
// dead-lettered since; an event that fails again is dead-lettered again (a new entry).
import type { KafkaConfig } from '../pipeline/config/schema.ts';
import type { InMessage, KafkaClientFactory, ReadRange } from '../pipeline/kafka/port.ts';
import type { EventCodec } from '../schemas/codec.ts';
import type { ChangeEvent, Row } from '../schemas/contract.ts';
import { DLQ_HEADERS, DeadLetterWriter, type DeadLetterRecord } from './dlq.ts';
import type { DecodedEvent, Sink } from './sink.ts';

export interface DeadLetterEntry {
  /** position in the dead-letter topic */
  partition: number;
  offset: bigint;
  message: InMessage;
  reason: string | undefined;
  error: string | undefined;
  attempts: number | undefined;
  at: string | undefined;
  /** where the event was read from when it was dead-lettered */
  origin: { topic: string; partition: number; offset: bigint } | undefined;
  decoded: { key: Row; event: ChangeEvent } | undefined;
  decodeError: string | undefined;
  /** true once a redrive took it (its offset is below the redrive group's position) */
  redriven: boolean;
}

export interface DlqDeps {
  kafka: KafkaClientFactory;
  codec: EventCodec;
  dlqTopic: string;
  /** the target's consumer group; redrive progress is kept under `<group>.redrive` */
  group: string;
}

export const redriveGroupFor = (group: string) => `${group}.redrive`;

interface Positions {
  ranges: (ReadRange & { low: bigint })[];
  redriveFrom: Map<number, bigint>;
}

/** Partitions of the dead-letter topic with their [low, high) and the redrive group's position. */
async function positions(deps: DlqDeps): Promise<Positions | undefined> {
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.describeTopic(deps.dlqTopic))) return undefined;
    const ends = await admin.topicOffsets(deps.dlqTopic);
    const committed = await admin.groupOffsets(redriveGroupFor(deps.group), deps.dlqTopic);
    const redriveFrom = new Map<number, bigint>();
    for (const e of ends) {
      const c = committed.find((g) => g.partition === e.partition)?.offset ?? -1n;
      redriveFrom.set(e.partition, c < e.low ? e.low : c);
    }
    return {
      ranges: ends.map((e) => ({ partition: e.partition, from: e.low, to: e.high, low: e.low })),
      redriveFrom,
    };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function toEntry(
  deps: DlqDeps,
  m: InMessage,
  redriveFrom: Map<number, bigint>,
): Promise<DeadLetterEntry> {
  const h = m.headers;
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  let decoded: DeadLetterEntry['decoded'];
  let decodeError: string | undefined;
  try {
    if (!m.key || !m.value) throw new Error('no key or value');
    const [key, event] = await Promise.all([deps.codec.decodeKey(m.key), deps.codec.decodeValue(m.value)]);
    decoded = { key, event };
  } catch (err) {
    decodeError = (err as Error).message;
  }
  const originTopic = h[DLQ_HEADERS.topic];
  const originPartition = h[DLQ_HEADERS.partition];
  const originOffset = h[DLQ_HEADERS.offset];
  return {
    partition: m.partition,
    offset: m.offset,
    message: m,
    reason: h[DLQ_HEADERS.reason],
    error: h[DLQ_HEADERS.error],
    attempts: num(h[DLQ_HEADERS.attempts]),
    at: h[DLQ_HEADERS.at],
    origin:
      originTopic && originPartition && originOffset
        ? { topic: originTopic, partition: Number(originPartition), offset: BigInt(originOffset) }
        : undefined,
    decoded,
    decodeError,
    redriven: m.offset < (redriveFrom.get(m.partition) ?? 0n),
  };
}

/** Every dead letter of the target, oldest first per partition. */
export async function readDeadLetters(deps: DlqDeps): Promise<DeadLetterEntry[]> {
  const pos = await positions(deps);
  if (!pos) return [];
  const messages = await deps.kafka.reader().read(deps.dlqTopic, pos.ranges, { timeoutMs: 30_000 });
  return Promise.all(messages.map((m) => toEntry(deps, m, pos.redriveFrom)));
}

export interface RedriveResult {
  /** applied (or delivered) this time */
  redriven: DeadLetterEntry[];
  /** failed again: written to the dead-letter topic as new entries */
  deadAgain: { entry: DeadLetterEntry; reason: string; error: string }[];
  /** not decodable: left where they are */
  skipped: DeadLetterEntry[];
}

export interface RedriveDeps extends DlqDeps {
  sink: Sink;
  kafkaConfig: KafkaConfig;
  target: string;
}

/**
 * Re-applies dead letters through the target's sink. Without `only`, takes every entry not redriven
 * yet and moves the redrive position past them; with `only` (partition:offset pairs), just those.
 */
export async function redriveDeadLetters(
  deps: RedriveDeps,
  opts: { only?: { partition: number; offset: bigint }[] } = {},
): Promise<RedriveResult> {
  const result: RedriveResult = { redriven: [], deadAgain: [], skipped: [] };
  const pos = await positions(deps);
  if (!pos) return result;
  const only = opts.only;
  const ranges = only
    ? pos.ranges.flatMap((r) => {
        const offs = only.filter((o) => o.partition === r.partition).map((o) => o.offset);
        if (offs.length === 0) return [];
        const min = offs.reduce((a, b) => (a < b ? a : b));
        const max = offs.reduce((a, b) => (a > b ? a : b));
        return [
          { partition: r.partition, from: min < r.low ? r.low : min, to: max + 1n > r.to ? r.to : max + 1n },
        ];
      })
    : pos.ranges.map((r) => ({ partition: r.partition, from: pos.redriveFrom.get(r.partition)!, to: r.to }));
  const messages = (await deps.kafka.reader().read(deps.dlqTopic, ranges, { timeoutMs: 30_000 })).filter(
    (m) => !only || only.some((o) => o.partition === m.partition && o.offset === m.offset),
  );
  const entries = await Promise.all(messages.map((m) => toEntry(deps, m, pos.redriveFrom)));
  const events: DecodedEvent[] = [];
  const byOffset = new Map<bigint, DeadLetterEntry>();
  // The sink speaks in offsets: number the entries in read order (partition by partition).
  let seq = 0n;
  for (const entry of entries) {
    if (!entry.decoded) {
      result.skipped.push(entry);
      continue;
    }
    byOffset.set(seq, entry);
    events.push({ offset: seq++, ...entry.decoded });
  }

  const producer = deps.kafka.producer();
  const admin = deps.kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  try {
    if (events.length > 0) {
      await deps.sink.open();
      const applied = await deps.sink.apply(events);
      for (const e of applied.applied) result.redriven.push(byOffset.get(e.offset)!);
      const again: DeadLetterRecord[] = [];
      for (const d of applied.deadLetters) {
        const entry = byOffset.get(d.offset)!;
        result.deadAgain.push({ entry, reason: d.reason, error: d.error });
        // Keep the provenance: the new entry points at the original topic position, not the DLQ's.
        const origin = entry.origin;
        again.push({
          message: origin
            ? { ...entry.message, partition: origin.partition, offset: origin.offset }
            : entry.message,
          sourceTopic: origin?.topic ?? deps.dlqTopic,
          target: deps.target,
          reason: d.reason,
          error: d.error,
          attempts: (entry.attempts ?? 0) + (d.attempts ?? 1),
          ...(d.headers ? { headers: d.headers } : {}),
        });
      }
      const writer = new DeadLetterWriter(
        producer,
        admin,
        deps.dlqTopic,
        deps.kafkaConfig.partitions,
        deps.kafkaConfig.replicationFactor,
      );
      await writer.write(again);
    }
    if (!only && ranges.some((r) => r.to > r.from)) {
      const groups = deps.kafka.groupAdmin();
      await groups.connect();
      await groups
        .setGroupOffsets(
          redriveGroupFor(deps.group),
          deps.dlqTopic,
          ranges.map((r) => ({ partition: r.partition, offset: r.to })),
        )
        .finally(() => groups.disconnect());
    }
  } finally {
    await deps.sink.close().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return result;
}
