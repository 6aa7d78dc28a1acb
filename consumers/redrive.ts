// `pgcdc dlq redrive`: re-applies a target's dead letters through the target's own sink, page by
// page (one sink apply per page: bounded memory, bounded transactions), each page in source
// position order (commit LSN, seq) whatever order the dead-letter topic holds them in, so the
// newest change of a row is the one that stays. Every entry is accounted for: redriven, dead-
// lettered again (a new entry, keeping its provenance), skipped (undecodable), or pending (the sink
// asked to retry it later, e.g. a unique value still held by another row, and it did not resolve
// within `retryForMs`). Progress is the committed offsets of the group `<group>.redrive` on the
// dead-letter topic, moved after each page and never past a pending entry; a redrive that leaves
// anything pending stops there, so the next one starts with it.
import type { KafkaConfig } from '../pipeline/config/schema.ts';
import type { ReadRange } from '../pipeline/kafka/port.ts';
import { createBackoff, sleep } from '../pipeline/retry.ts';
import { DeadLetterWriter, type DeadLetterRecord } from './dlq.ts';
import {
  DLQ_PAGE_SIZE,
  dlqPages,
  dlqPositions,
  redriveGroupFor,
  type DeadLetterEntry,
  type DlqDeps,
} from './dlq-entries.ts';
import type { DecodedEvent, Sink } from './sink.ts';

export {
  readDeadLetters,
  deadLetterPages,
  redriveGroupFor,
  type DeadLetterEntry,
  type DlqDeps,
} from './dlq-entries.ts';

export interface RedriveResult {
  /** applied (or delivered) this time */
  redriven: DeadLetterEntry[];
  /** failed again: written to the dead-letter topic as new entries */
  deadAgain: { entry: DeadLetterEntry; reason: string; error: string }[];
  /** not decodable: left where they are */
  skipped: DeadLetterEntry[];
  /** the sink asked to retry these later and they did not resolve: not redriven, position kept */
  pending: { entry: DeadLetterEntry; reason: string; error: string }[];
  /** entries after a pending one that this redrive did not read (the next one takes them) */
  notReached: number;
}

export interface RedriveDeps extends DlqDeps {
  sink: Sink;
  kafkaConfig: KafkaConfig;
  target: string;
}

export interface RedriveOptions {
  /** just these entries (partition:offset pairs); the redrive position does not move */
  only?: { partition: number; offset: bigint }[];
  /** offsets read per partition and page (default DLQ_PAGE_SIZE) */
  pageSize?: number;
  /** how long entries the sink asks to retry later are retried before they count as pending (default 30 s) */
  retryForMs?: number;
}

/** Source position order: commit LSN, then the event's place in its transaction. */
function bySourcePosition(a: DeadLetterEntry, b: DeadLetterEntry): number {
  const [x, y] = [a.decoded!.event.source, b.decoded!.event.source];
  if (x.commit_lsn !== y.commit_lsn) return x.commit_lsn < y.commit_lsn ? -1 : 1;
  if (x.seq !== y.seq) return x.seq < y.seq ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;
}

interface PageOutcome {
  applied: DeadLetterEntry[];
  dead: {
    entry: DeadLetterEntry;
    reason: string;
    error: string;
    attempts: number;
    headers?: Record<string, string>;
  }[];
  pending: { entry: DeadLetterEntry; reason: string; error: string }[];
}

/** Applies decoded entries in source order; retries what the sink defers until `retryForMs` passed. */
async function applyPage(sink: Sink, entries: DeadLetterEntry[], retryForMs: number): Promise<PageOutcome> {
  const out: PageOutcome = { applied: [], dead: [], pending: [] };
  // The sink speaks in offsets: number the entries in source order.
  let remaining: DecodedEvent[] = entries.map((e, i) => ({ offset: BigInt(i), ...e.decoded! }));
  const entry = (offset: bigint) => entries[Number(offset)]!;
  const deadline = Date.now() + retryForMs;
  const backoff = createBackoff({ initialMs: 250, maxMs: 5_000 });
  while (remaining.length > 0) {
    const res = await sink.apply(remaining);
    for (const e of res.applied) out.applied.push(entry(e.offset));
    for (const d of res.deadLetters)
      out.dead.push({
        entry: entry(d.offset),
        reason: d.reason,
        error: d.error,
        attempts: d.attempts ?? 1,
        ...(d.headers ? { headers: d.headers } : {}),
      });
    const retry = res.retryFrom;
    if (!retry) break;
    remaining = remaining.filter((e) => e.offset >= retry.offset);
    const wait = backoff.next();
    if (Date.now() + wait > deadline) {
      for (const e of remaining)
        out.pending.push({ entry: entry(e.offset), reason: retry.reason, error: retry.error });
      break;
    }
    await sleep(wait);
  }
  return out;
}

/** The dead-letter record of an entry that failed again: it keeps pointing at the original topic. */
function againRecord(deps: RedriveDeps, d: PageOutcome['dead'][number]): DeadLetterRecord {
  const { entry } = d;
  const origin = entry.origin;
  return {
    message: origin
      ? { ...entry.message, partition: origin.partition, offset: origin.offset }
      : entry.message,
    sourceTopic: origin?.topic ?? deps.dlqTopic,
    target: deps.target,
    reason: d.reason,
    error: d.error,
    attempts: (entry.attempts ?? 0) + d.attempts,
    ...(d.headers ? { headers: d.headers } : {}),
  };
}

/** The ranges to redrive: everything from the redrive position, or the span of the `only` entries. */
function redriveRanges(
  pos: NonNullable<Awaited<ReturnType<typeof dlqPositions>>>,
  only: RedriveOptions['only'],
): ReadRange[] {
  if (!only)
    return pos.ranges.map((r) => ({
      partition: r.partition,
      from: pos.redriveFrom.get(r.partition)!,
      to: r.to,
    }));
  return pos.ranges.flatMap((r) => {
    const offs = only.filter((o) => o.partition === r.partition).map((o) => o.offset);
    if (offs.length === 0) return [];
    const min = offs.reduce((a, b) => (a < b ? a : b));
    const max = offs.reduce((a, b) => (a > b ? a : b));
    return [
      { partition: r.partition, from: min < r.low ? r.low : min, to: max + 1n > r.to ? r.to : max + 1n },
    ];
  });
}

/**
 * Re-applies dead letters through the target's sink. Without `only`, takes every entry not redriven
 * yet and moves the redrive position past what it accounted for; with `only`, just those entries.
 */
export async function redriveDeadLetters(
  deps: RedriveDeps,
  opts: RedriveOptions = {},
): Promise<RedriveResult> {
  const result: RedriveResult = { redriven: [], deadAgain: [], skipped: [], pending: [], notReached: 0 };
  const pos = await dlqPositions(deps);
  if (!pos) return result;
  const { only } = opts;
  const ranges = redriveRanges(pos, only);
  const producer = deps.kafka.producer();
  const admin = deps.kafka.admin();
  const groups = deps.kafka.groupAdmin();
  await Promise.all([producer.connect(), admin.connect(), only ? undefined : groups.connect()]);
  const writer = new DeadLetterWriter(
    producer,
    admin,
    deps.dlqTopic,
    deps.kafkaConfig.partitions,
    deps.kafkaConfig.replicationFactor,
  );
  let opened = false;
  const readTo = new Map<number, bigint>();
  try {
    for await (const page of dlqPages(deps, pos, ranges, opts.pageSize ?? DLQ_PAGE_SIZE)) {
      const entries = page.entries.filter(
        (m) => !only || only.some((o) => o.partition === m.partition && o.offset === m.offset),
      );
      const decoded = entries.filter((e) => e.decoded).sort(bySourcePosition);
      result.skipped.push(...entries.filter((e) => !e.decoded));
      let outcome: PageOutcome = { applied: [], dead: [], pending: [] };
      if (decoded.length > 0) {
        if (!opened) await deps.sink.open();
        opened = true;
        outcome = await applyPage(deps.sink, decoded, opts.retryForMs ?? 30_000);
      }
      result.redriven.push(...outcome.applied);
      result.pending.push(...outcome.pending);
      for (const d of outcome.dead)
        result.deadAgain.push({ entry: d.entry, reason: d.reason, error: d.error });
      await writer.write(outcome.dead.map((d) => againRecord(deps, d)));
      // Up to the first pending entry of each partition (entries after it may be applied again).
      const next = page.ranges.map((r) => {
        const held = outcome.pending
          .filter((p) => p.entry.partition === r.partition)
          .map((p) => p.entry.offset);
        return { partition: r.partition, offset: held.reduce((a, b) => (a < b ? a : b), r.to) };
      });
      if (!only) await groups.setGroupOffsets(redriveGroupFor(deps.group), deps.dlqTopic, next);
      for (const r of page.ranges) readTo.set(r.partition, r.to);
      if (outcome.pending.length > 0) {
        result.notReached = ranges.reduce(
          (n, r) => n + Number(r.to - (readTo.get(r.partition) ?? r.from)),
          0,
        );
        break;
      }
    }
  } finally {
    if (opened) await deps.sink.close().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    if (!only) await groups.disconnect().catch(() => undefined);
  }
  return result;
}
