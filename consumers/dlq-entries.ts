// Reading a target's dead-letter topic for `pgcdc dlq list|show|redrive`: page by page (bounded
// memory whatever the topic holds), up to the high watermark seen at the start, through the Kafka
// reader port (no real consumer group is touched). Each entry carries its decoded event, why it was
// set aside, where it came from, and whether a redrive took it already (its offset is below the
// committed offset of the group `<group>.redrive`).
import type { InMessage, KafkaClientFactory, ReadRange } from '../pipeline/kafka/port.ts';
import type { EventCodec } from '../schemas/codec.ts';
import type { ChangeEvent, Row } from '../schemas/contract.ts';
import { DLQ_HEADERS } from './dlq.ts';
import { isTruncateMessage } from '../schemas/truncate.ts';

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
  /** several tables (docs/tables.md): the codec of each change topic, chosen by an entry's origin */
  codecs?: ReadonlyMap<string, EventCodec>;
  dlqTopic: string;
  /** the target's consumer group; redrive progress is kept under `<group>.redrive` */
  group: string;
}

/** Entries read (and decoded) at once per partition: what bounds memory and a redrive transaction. */
export const DLQ_PAGE_SIZE = 500;

export const redriveGroupFor = (group: string) => `${group}.redrive`;

export interface Positions {
  /** each partition's [low, high) at the start */
  ranges: (ReadRange & { low: bigint })[];
  /** the redrive group's position per partition (never below low) */
  redriveFrom: Map<number, bigint>;
}

/** Partitions of the dead-letter topic with their [low, high) and the redrive group's position. */
export async function dlqPositions(deps: DlqDeps): Promise<Positions | undefined> {
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
  const codec = deps.codecs?.get(h[DLQ_HEADERS.topic] ?? '') ?? deps.codec;
  try {
    if (!m.key || !m.value) throw new Error('no key or value');
    // a dead-lettered truncate keeps its header: its key is not an Avro row key (schemas/truncate.ts)
    const key = isTruncateMessage(m) ? Promise.resolve({}) : codec.decodeKey(m.key);
    const [k, event] = await Promise.all([key, codec.decodeValue(m.value)]);
    decoded = { key: k, event };
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

/** One page: the entries of each partition's next [from, to) slice, and the slices read. */
export interface DlqPage {
  entries: DeadLetterEntry[];
  ranges: ReadRange[];
}

/**
 * The entries of `ranges` (per partition, [from, to)), `pageSize` offsets of each partition per
 * page, oldest first per partition. Only one page is in memory at a time.
 */
export async function* dlqPages(
  deps: DlqDeps,
  pos: Positions,
  ranges: ReadRange[],
  pageSize = DLQ_PAGE_SIZE,
): AsyncGenerator<DlqPage> {
  const cursor = new Map(ranges.map((r) => [r.partition, r.from]));
  const reader = deps.kafka.reader();
  for (;;) {
    const slice = ranges
      .map((r) => {
        const from = cursor.get(r.partition)!;
        const to = from + BigInt(pageSize) < r.to ? from + BigInt(pageSize) : r.to;
        return { partition: r.partition, from, to };
      })
      .filter((r) => r.to > r.from);
    if (slice.length === 0) return;
    const messages = await reader.read(deps.dlqTopic, slice, { timeoutMs: 30_000 });
    for (const r of slice) cursor.set(r.partition, r.to);
    yield {
      entries: await Promise.all(messages.map((m) => toEntry(deps, m, pos.redriveFrom))),
      ranges: slice,
    };
  }
}

/** The entries of the whole dead-letter topic, page by page (see dlqPages). */
export async function* deadLetterPages(
  deps: DlqDeps,
  pageSize = DLQ_PAGE_SIZE,
): AsyncGenerator<DeadLetterEntry[]> {
  const pos = await dlqPositions(deps);
  if (!pos) return;
  for await (const page of dlqPages(deps, pos, pos.ranges, pageSize)) yield page.entries;
}

/** Every dead letter of the target, oldest first per partition (small topics and tests; the CLI pages). */
export async function readDeadLetters(deps: DlqDeps): Promise<DeadLetterEntry[]> {
  const all: DeadLetterEntry[] = [];
  for await (const page of deadLetterPages(deps)) all.push(...page);
  return all;
}
