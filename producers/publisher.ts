// Publishes change events to Kafka in batches and decides which WAL position is safe to
// acknowledge: a transaction's end LSN becomes ackable only after Kafka acknowledged every event
// of it and of every transaction before it (sends are strictly sequential, acks=all, idempotent).
// A delete is followed by a tombstone (same key, null value) so the compacted topic forgets the key.
// A TRUNCATE is one event under its table's dedicated key (schemas/truncate.ts), never a row's key.
// Batching: a batch leaves when it is full (batchMaxMessages events or batchMaxBytes bytes: Kafka
// refuses a partition batch over the topic's max.message.bytes, and kafkajs does not split), or lingerMs after a transaction ended
// (default 0: as soon as the messages in hand are handled); if a send is in
// flight then, the batch keeps filling and leaves the moment that send is acknowledged (like Kafka's
// own accumulator), so a fast stream makes few large sends instead of a queue of small ones.
// Pipelining: a full batch is queued behind the send in flight and push() waits only for that send,
// so the stream decodes and encodes the next batch while Kafka acknowledges the previous one (at
// most one batch in flight and one queued; sends stay strictly one after the other, in WAL order).
// An event larger than maxMessageBytes cannot be carried: it stops the stream (non-retriable,
// naming table, key and LSN) before anything of it or after it is published or acknowledged.
// Several tables (docs/tables.md): each event goes to its table's topic, encoded with its table's
// codec (`routes`); a batch may hold several topics, sent one after the other, and its position is
// acknowledged only after all of them are, so the acknowledgement rule holds across tables.
import { PgcdcError } from '../pipeline/errors.ts';
import { tombstoneHeaders } from '../schemas/tombstone.ts';
import { truncateHeaders, truncateKey } from '../schemas/truncate.ts';
import type { ChangeEvent, Row } from '../schemas/contract.ts';
import { formatLsn } from '../schemas/lsn.ts';
import type { KafkaProducerPort, OutMessage } from '../pipeline/kafka/port.ts';
import type { EventCodec } from '../schemas/codec.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import type { SourceItem } from './postgres/assembler.ts';
import type { Lsn } from '../schemas/lsn.ts';

/** Where the events of one table go: its topic and its registry codec. */
export interface TableRoute {
  topic: string;
  codec: EventCodec;
}

/** One table (`topic`, `codec`, `table`), or several routed by `schema.table` of the event (`routes`). */
type Routing =
  | { codec: EventCodec; topic: string; table: string; routes?: undefined }
  | { routes: ReadonlyMap<string, TableRoute>; codec?: undefined; topic?: undefined; table?: undefined };

export type PublisherOptions = Routing & {
  producer: KafkaProducerPort;
  batchMaxMessages: number;
  /** Bytes (keys, values, headers) per send; default 512 KiB. */
  batchMaxBytes?: number;
  /** Largest event (key + value + headers); default 1,000,000. */
  maxMessageBytes?: number;
  lingerMs: number;
  /** Called with a WAL position once everything before it is durable in Kafka. */
  ackAfterPublish: (lsn: Lsn) => void;
  metrics?: Metrics;
  now?: () => number;
};

interface Pending {
  /** per topic, in push order */
  messages: Map<string, OutMessage[]>;
  count: number;
  bytes: number;
  /** events per table and op: the metrics are counted once per batch, not per event */
  counts: Map<string, Map<string, number>>;
  /** source commit times, run-length encoded (a transaction's events share theirs) */
  commitTimesUs: bigint[];
  commitRuns: number[];
  /** highest transaction-end / heartbeat position contained in this buffer */
  ackLsn: Lsn | undefined;
}

const emptyPending = (): Pending => ({
  messages: new Map(),
  count: 0,
  bytes: 0,
  counts: new Map(),
  commitTimesUs: [],
  commitRuns: [],
  ackLsn: undefined,
});

/** A change event too large for Kafka as configured: retrying cannot help. */
export class OversizeEventError extends PgcdcError {
  constructor(table: string, key: Row, event: ChangeEvent, bytes: number, limit: number) {
    super(
      `event of ${table} key ${keyText(key)} at LSN ${formatLsn(event.source.lsn)} (commit ${formatLsn(event.source.commit_lsn)}) is ${bytes} bytes, over producer.maxMessageBytes (${limit}); the stream stops here (nothing from this position on is acknowledged)`,
      {
        retriable: false,
        hint: 'raise producer.maxMessageBytes and the topic max.message.bytes together, or shrink the row at the source; README: Large rows',
      },
    );
  }
}

/** Bytes a message takes in a Kafka request, near enough (record overhead is a few dozen bytes). */
export function messageBytes(m: OutMessage): number {
  let n = 32 + m.key.length + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 4;
  return n;
}

/**
 * kafkajs gives up on MESSAGE_TOO_LARGE (the topic's max.message.bytes is below what the producer
 * sends, e.g. a topic created before producer.maxMessageBytes was raised): say which limit to raise
 * instead of restarting into the same refusal.
 */
function tooLargeForTopic(err: unknown, topic: string): PgcdcError | undefined {
  const e = err as { type?: unknown; message?: unknown } | null;
  const type = typeof e?.type === 'string' ? e.type : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (!/MESSAGE_TOO_LARGE|larger than the max message size/i.test(`${type} ${message}`)) return undefined;
  return new PgcdcError(`Kafka refused a batch for ${topic} as too large: ${message}`, {
    retriable: false,
    cause: err,
    hint: `the topic's max.message.bytes must be at least producer.maxMessageBytes + 64 KiB and producer.batchMaxBytes must not exceed it: kafka-configs --alter --entity-type topics --entity-name ${topic} --add-config max.message.bytes=<bytes>; README: Large rows`,
  });
}

/** A key for error messages: the key columns as JSON (bigints as strings). */
export function keyText(key: Row): string {
  return JSON.stringify(key, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export class AckingPublisher {
  private pending = emptyPending();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private failure: Error | undefined;
  /** sends queued or in flight */
  private sending = 0;
  /** the linger time of the pending batch ran out while a send was in flight */
  private lingered = false;
  private readonly now: () => number;

  /** Everything pushed is acknowledged by Kafka and reported: nothing buffered, queued or in flight. */
  idle(): boolean {
    return (
      this.sending === 0 && this.pending.count === 0 && this.pending.ackLsn === undefined && !this.failure
    );
  }

  constructor(private readonly opts: PublisherOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Accepts the next item in WAL order. Awaits (back-pressure) when a full batch is being sent. */
  async push(item: SourceItem): Promise<void> {
    if (this.failure) throw this.failure;
    switch (item.kind) {
      case 'event': {
        const route = this.route(item.event);
        return this.add(route, this.encode(route, item.key, item.event), item.event);
      }
      case 'truncate': {
        // once, under the table's own key (schemas/truncate.ts); targets apply it by position
        const route = this.route(item.event);
        return this.add(route, [this.encodeTruncate(route, item.event)], item.event);
      }
      case 'commit':
      case 'heartbeat':
      case 'watermark':
      case 'signal': {
        const lsn = item.kind === 'commit' ? item.endLsn : item.lsn;
        this.pending.ackLsn =
          this.pending.ackLsn === undefined || lsn > this.pending.ackLsn ? lsn : this.pending.ackLsn;
        this.scheduleFlush();
        return;
      }
      default:
        return item satisfies never;
    }
  }

  /** The topic, codec and table name of an event's table. */
  private route(event: ChangeEvent): TableRoute & { table: string } {
    if (!this.opts.routes) return { topic: this.opts.topic, codec: this.opts.codec, table: this.opts.table };
    const table = `${event.source.schema}.${event.source.table}`;
    const route = this.opts.routes.get(table);
    if (!route)
      throw new PgcdcError(`event of ${table}, which is not a captured table`, {
        retriable: false,
        hint: 'source.tables lists the captured tables; the publication includes another one',
      });
    return { ...route, table };
  }

  private anyTopic(): string {
    return this.opts.topic ?? this.opts.routes.values().next().value?.topic ?? '';
  }

  /** Buffers one event's messages; sends the batch before it when they do not fit, after when full. */
  private async add(
    route: TableRoute & { table: string },
    out: OutMessage[],
    event: ChangeEvent,
  ): Promise<void> {
    const bytes = out.reduce((n, m) => n + messageBytes(m), 0);
    // what does not fit goes alone: the batch before it leaves first
    if (this.pending.count > 0 && this.pending.bytes + bytes > this.batchMaxBytes) await this.handOver();
    const list = this.pending.messages.get(route.topic);
    if (list) list.push(...out);
    else this.pending.messages.set(route.topic, [...out]);
    this.pending.count += out.length;
    this.pending.bytes += bytes;
    this.count(route.table, event);
    if (this.pending.count >= this.opts.batchMaxMessages || this.pending.bytes >= this.batchMaxBytes)
      await this.handOver();
  }

  /**
   * Queues the full batch behind the send in flight and waits only for that send (back-pressure
   * bounded to one batch in flight and one queued): the next batch fills meanwhile. The queued
   * batch is acknowledged in order, as with flush(); its failure surfaces at the next push/flush.
   */
  private async handOver(): Promise<void> {
    const previous = this.chain;
    this.flush().catch(() => undefined); // recorded in this.failure, rethrown below or by the next call
    await previous.catch(() => undefined);
    if (this.failure) throw this.failure;
  }

  /** Notes an event for the batch's metrics (counted when the batch leaves and when it is acknowledged). */
  private count(table: string, event: ChangeEvent): void {
    const p = this.pending;
    let ops = p.counts.get(table);
    if (!ops) p.counts.set(table, (ops = new Map<string, number>()));
    ops.set(event.op, (ops.get(event.op) ?? 0) + 1);
    const last = p.commitTimesUs.length - 1;
    if (last >= 0 && p.commitTimesUs[last] === event.source.ts_us) p.commitRuns[last]!++;
    else {
      p.commitTimesUs.push(event.source.ts_us);
      p.commitRuns.push(1);
    }
  }

  private get batchMaxBytes(): number {
    return this.opts.batchMaxBytes ?? 512 * 1024;
  }

  /** The event's message (and a delete's tombstone); refuses an event over maxMessageBytes. */
  private encode(route: TableRoute & { table: string }, key: Row, event: ChangeEvent): OutMessage[] {
    const message: OutMessage = {
      key: route.codec.encodeKey(key),
      value: route.codec.encodeValue(event),
      headers: { 'pgcdc-event-id': event.event_id },
    };
    const limit = this.opts.maxMessageBytes ?? 1_000_000;
    const bytes = messageBytes(message);
    if (bytes > limit) throw new OversizeEventError(route.table, key, event, bytes, limit);
    if (event.op !== 'd') return [message];
    return [message, { key: message.key, value: null, headers: tombstoneHeaders(event) }];
  }

  /** A truncate event: its table's dedicated key (never a row's key) and the truncate header. */
  private encodeTruncate(route: TableRoute, event: ChangeEvent): OutMessage {
    return {
      key: truncateKey(event.source),
      value: route.codec.encodeValue(event),
      headers: { 'pgcdc-event-id': event.event_id, ...truncateHeaders() },
    };
  }

  private scheduleFlush(): void {
    if (this.timer) return;
    const due = () => {
      this.timer = undefined;
      if (this.sending > 0)
        this.lingered = true; // goes with the end of the send in flight
      else this.flush().catch(() => undefined); // failure is recorded and rethrown by the next push/flush
    };
    // lingerMs 0: right after the messages in hand (the rest of the socket read) are handled, not
    // after a timer's 1 ms; a send in flight still gathers what arrives behind it
    this.timer = this.opts.lingerMs > 0 ? setTimeout(due, this.opts.lingerMs) : setImmediate(due);
  }

  private clearTimer(): void {
    if (this.opts.lingerMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }

  /** Sends everything buffered; resolves when it is acknowledged and the position reported. */
  flush(): Promise<void> {
    if (this.timer) this.clearTimer();
    this.lingered = false;
    const batch = this.pending;
    this.pending = emptyPending();
    this.sending++;
    const m = this.opts.metrics;
    if (m)
      for (const [table, ops] of batch.counts)
        for (const [op, n] of ops) m.sourceEvents.inc({ table, op }, n);
    this.chain = this.chain.then(async () => {
      try {
        if (this.failure) throw this.failure;
        // one send per topic, one after the other: the position waits for all of them (a batch
        // of positions only is one empty send, as it always was: the port decides what that costs)
        const sends: [string, OutMessage[]][] =
          batch.messages.size > 0 ? [...batch.messages] : [[this.anyTopic(), []]];
        for (const [topic, messages] of sends) {
          try {
            await this.opts.producer.send(topic, messages);
          } catch (err) {
            this.failure =
              tooLargeForTopic(err, topic) ?? (err instanceof Error ? err : new Error(String(err)));
            throw this.failure;
          }
        }
        this.record(batch);
        if (batch.ackLsn !== undefined) this.opts.ackAfterPublish(batch.ackLsn);
      } finally {
        this.sending--;
      }
      // what lingered behind this send goes now, with everything that arrived meanwhile
      if (this.lingered && this.sending === 0 && !this.failure) this.flush().catch(() => undefined);
    });
    return this.chain;
  }

  private record(batch: Pending): void {
    const m = this.opts.metrics;
    if (!m) return;
    for (const [table, ops] of batch.counts)
      for (const [op, n] of ops) m.publishedEvents.inc({ table, op }, n);
    const nowUs = BigInt(this.now()) * 1000n;
    batch.commitTimesUs.forEach((t, i) => {
      const seconds = Number(nowUs - t) / 1e6;
      for (let n = batch.commitRuns[i]!; n > 0; n--) m.publishLatency.observe(seconds);
    });
  }

  close(): void {
    if (this.timer) this.clearTimer();
  }
}
