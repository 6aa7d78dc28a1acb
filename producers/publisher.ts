// Publishes change events to Kafka in batches and decides which WAL position is safe to
// acknowledge: a transaction's end LSN becomes ackable only after Kafka acknowledged every event
// of it and of every transaction before it (sends are strictly sequential, acks=all, idempotent).
// A delete is followed by a tombstone (same key, null value) so the compacted topic forgets the key.
// Batching: a batch leaves when it is full, or lingerMs after a transaction ended; if a send is in
// flight then, the batch keeps filling and leaves the moment that send is acknowledged (like Kafka's
// own accumulator), so a fast stream makes few large sends instead of a queue of small ones.
import { tombstoneHeaders } from '../schemas/tombstone.ts';
import type { KafkaProducerPort, OutMessage } from '../pipeline/kafka/port.ts';
import type { EventCodec } from '../schemas/codec.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import type { SourceItem } from './postgres/assembler.ts';
import type { Lsn } from '../schemas/lsn.ts';

export interface PublisherOptions {
  producer: KafkaProducerPort;
  codec: EventCodec;
  topic: string;
  table: string;
  batchMaxMessages: number;
  lingerMs: number;
  /** Called with a WAL position once everything before it is durable in Kafka. */
  ackAfterPublish: (lsn: Lsn) => void;
  metrics?: Metrics;
  now?: () => number;
}

interface Pending {
  messages: OutMessage[];
  ops: string[];
  commitTimesUs: bigint[];
  /** highest transaction-end / heartbeat position contained in this buffer */
  ackLsn: Lsn | undefined;
}

const emptyPending = (): Pending => ({ messages: [], ops: [], commitTimesUs: [], ackLsn: undefined });

export class AckingPublisher {
  private pending = emptyPending();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  /** sends queued or in flight */
  private sending = 0;
  /** the linger time of the pending batch ran out while a send was in flight */
  private lingered = false;
  private readonly now: () => number;

  constructor(private readonly opts: PublisherOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Accepts the next item in WAL order. Awaits (back-pressure) when a full batch is being sent. */
  async push(item: SourceItem): Promise<void> {
    if (this.failure) throw this.failure;
    switch (item.kind) {
      case 'event':
        this.pending.messages.push({
          key: this.opts.codec.encodeKey(item.key),
          value: this.opts.codec.encodeValue(item.event),
          headers: { 'pgcdc-event-id': item.event.event_id },
        });
        this.pending.ops.push(item.event.op);
        this.pending.commitTimesUs.push(item.event.source.ts_us);
        if (item.event.op === 'd') {
          this.pending.messages.push({
            key: this.pending.messages.at(-1)!.key,
            value: null,
            headers: tombstoneHeaders(item.event),
          });
        }
        this.opts.metrics?.sourceEvents.inc({ table: this.opts.table, op: item.event.op });
        if (this.pending.messages.length >= this.opts.batchMaxMessages) await this.flush();
        return;
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
      case 'truncate':
        // TRUNCATE is not propagated (targets keep their rows); the position still advances.
        return;
      default:
        return item satisfies never;
    }
  }

  private scheduleFlush(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.sending > 0)
        this.lingered = true; // goes with the end of the send in flight
      else this.flush().catch(() => undefined); // failure is recorded and rethrown by the next push/flush
    }, this.opts.lingerMs);
  }

  /** Sends everything buffered; resolves when it is acknowledged and the position reported. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.lingered = false;
    const batch = this.pending;
    this.pending = emptyPending();
    this.sending++;
    this.chain = this.chain.then(async () => {
      try {
        if (this.failure) throw this.failure;
        try {
          await this.opts.producer.send(this.opts.topic, batch.messages);
        } catch (err) {
          this.failure = err instanceof Error ? err : new Error(String(err));
          throw this.failure;
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
    const nowUs = BigInt(this.now()) * 1000n;
    batch.ops.forEach((op, i) => {
      m.publishedEvents.inc({ table: this.opts.table, op });
      m.publishLatency.observe(Number(nowUs - batch.commitTimesUs[i]!) / 1e6);
    });
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
