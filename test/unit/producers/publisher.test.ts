// producers/publisher.ts (AckingPublisher): the acknowledgement logic against a fake Kafka port.
// A WAL position may be acknowledged only after every event before it is durable in Kafka; a
// failed send must stop all further acknowledgements.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SourceItem } from '../../../producers/postgres/assembler.ts';
import type { Lsn } from '../../../schemas/lsn.ts';
import { AckingPublisher } from '../../../producers/publisher.ts';
import type { KafkaProducerPort, OutMessage } from '../../../pipeline/kafka/port.ts';
import { changeEvent } from '../support/events.ts';
import { ackingPublisher, eventIdCodec } from '../support/publisher.ts';

interface Send {
  topic: string;
  messages: OutMessage[];
  /** acknowledgements made before this send was issued */
  acksBefore: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Kafka producer port whose sends the test settles by hand (or at once, with `auto`). */
class FakeProducer implements KafkaProducerPort {
  readonly sends: Send[] = [];
  /** event ids Kafka has acknowledged, in order */
  readonly durable: string[] = [];
  constructor(
    private readonly acks: Lsn[],
    private readonly auto: boolean,
  ) {}
  connect() {
    return Promise.resolve();
  }
  disconnect() {
    return Promise.resolve();
  }
  send(topic: string, messages: OutMessage[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.durable.push(...messages.map((m) => m.headers?.['pgcdc-event-id'] ?? '?'));
        resolve();
      };
      this.sends.push({ topic, messages, acksBefore: this.acks.length, resolve: done, reject });
      if (this.auto) done();
    });
  }
}

function setup(opts: { batchMaxMessages?: number; lingerMs?: number; auto?: boolean } = {}) {
  const acks: Lsn[] = [];
  const producer = new FakeProducer(acks, opts.auto ?? true);
  const { publisher } = ackingPublisher(producer, {
    acks,
    topic: 'pgcdc.public.users',
    batchMaxMessages: opts.batchMaxMessages,
    lingerMs: opts.lingerMs,
  });
  return { acks, producer, publisher };
}

function ev(commitLsn: Lsn, seq: number, id = seq): SourceItem {
  const event = changeEvent({
    source: { lsn: commitLsn - 100n + BigInt(seq), commit_lsn: commitLsn, seq: BigInt(seq) },
    event_id: `${commitLsn}:${seq}`,
  });
  return { kind: 'event', key: { id: BigInt(id) }, event };
}

const commitItem = (commitLsn: Lsn, events: number): SourceItem => ({
  kind: 'commit',
  commitLsn,
  endLsn: commitLsn + 0x30n,
  events,
});
const heartbeat = (lsn: Lsn): SourceItem => ({ kind: 'heartbeat', lsn });

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

afterEach(() => {
  vi.useRealTimers();
});

describe('AckingPublisher', () => {
  it('acknowledges the end LSN of a commit only once the send holding its events resolved', async () => {
    const { acks, producer, publisher } = setup({ auto: false });
    await publisher.push(ev(0x1000n, 0));
    await publisher.push(ev(0x1000n, 1));
    await publisher.push(commitItem(0x1000n, 2));
    const flushed = publisher.flush();
    await settle();
    expect(producer.sends).toHaveLength(1);
    expect(producer.sends[0]?.topic).toBe('pgcdc.public.users');
    expect(producer.sends[0]?.messages.map((m) => m.headers)).toEqual([
      { 'pgcdc-event-id': '4096:0' },
      { 'pgcdc-event-id': '4096:1' },
    ]);
    expect(acks).toEqual([]); // in flight: nothing is durable yet
    producer.sends[0]!.resolve();
    await flushed;
    expect(acks).toEqual([0x1030n]);
  });

  it('with batchMaxMessages=2 a 5-event transaction goes out in 3 sends and is acknowledged once, after the last', async () => {
    const { acks, producer, publisher } = setup({ batchMaxMessages: 2 });
    for (let i = 0; i < 5; i++) await publisher.push(ev(0x2000n, i));
    expect(producer.sends.map((s) => s.messages.length)).toEqual([2, 2]); // full batches leave at once
    await publisher.push(commitItem(0x2000n, 5));
    await publisher.flush();
    expect(producer.sends.map((s) => s.messages.length)).toEqual([2, 2, 1]);
    expect(producer.sends.map((s) => s.acksBefore)).toEqual([0, 0, 0]);
    expect(acks).toEqual([0x2030n]);
    expect(producer.durable).toEqual(['8192:0', '8192:1', '8192:2', '8192:3', '8192:4']);
  });

  it('a full batch makes push wait until Kafka acknowledged the send before it (back-pressure: one in flight, one queued)', async () => {
    const { acks, producer, publisher } = setup({ batchMaxMessages: 1, auto: false });
    await publisher.push(ev(0x3000n, 0)); // nothing in flight: it leaves and the next batch fills
    let pushed = false;
    const p = publisher.push(ev(0x3000n, 1)).then(() => (pushed = true));
    await settle();
    expect(producer.sends).toHaveLength(1); // sends stay one after the other
    expect(pushed).toBe(false);
    producer.sends[0]!.resolve();
    await p;
    expect(pushed).toBe(true);
    await settle();
    expect(producer.sends).toHaveLength(2);
    await publisher.push(commitItem(0x3000n, 2));
    const flushed = publisher.flush();
    await settle();
    expect(acks).toEqual([]); // the commit waits for the second send
    producer.sends[1]!.resolve();
    await settle();
    producer.sends[2]?.resolve(); // the commit's own (empty) send
    await flushed;
    expect(acks).toEqual([0x3030n]);
    expect(producer.durable.slice(0, 2)).toEqual(['12288:0', '12288:1']);
  });

  it('flushes a commit by itself after lingerMs', async () => {
    vi.useFakeTimers();
    const { acks, producer, publisher } = setup({ lingerMs: 50 });
    await publisher.push(ev(0x4000n, 0));
    await publisher.push(commitItem(0x4000n, 1));
    await vi.advanceTimersByTimeAsync(49);
    expect(producer.sends).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(producer.sends).toHaveLength(1);
    expect(acks).toEqual([0x4030n]);
    publisher.close();
  });

  it('lingerMs 0: the transactions handled in one turn leave together right after it, without a timer; behind a send in flight they wait for its acknowledgement', async () => {
    const { acks, producer, publisher } = setup({ lingerMs: 0, auto: false });
    await publisher.push(ev(0x4000n, 0));
    await publisher.push(commitItem(0x4000n, 1));
    await publisher.push(ev(0x4100n, 0));
    await publisher.push(commitItem(0x4100n, 1));
    expect(producer.sends).toHaveLength(0); // not before the rest of the turn's messages are in
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.sends).toHaveLength(1);
    expect(producer.sends[0]!.messages).toHaveLength(2);
    // a send is in flight: the next transaction fills the next batch until it is acknowledged
    await publisher.push(ev(0x4200n, 0));
    await publisher.push(commitItem(0x4200n, 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.sends).toHaveLength(1);
    producer.sends[0]!.resolve();
    await settle();
    expect(acks).toEqual([0x4130n]);
    expect(producer.sends).toHaveLength(2);
    producer.sends[1]!.resolve();
    await settle();
    expect(acks).toEqual([0x4130n, 0x4230n]);
    publisher.close();
  });

  it('events without their commit are sent but acknowledge nothing', async () => {
    const { acks, producer, publisher } = setup({ batchMaxMessages: 2 });
    await publisher.push(ev(0x5000n, 0));
    await publisher.push(ev(0x5000n, 1));
    await publisher.push(ev(0x5000n, 2));
    await publisher.flush();
    expect(producer.durable).toHaveLength(3);
    expect(acks).toEqual([]);
  });

  it('a failed send acknowledges nothing, and every later push and flush rejects with its error', async () => {
    const { acks, producer, publisher } = setup({ auto: false });
    const boom = new Error('KafkaJSNumberOfRetriesExceeded');
    await publisher.push(ev(0x6000n, 0));
    await publisher.push(commitItem(0x6000n, 1));
    const flushed = publisher.flush();
    await settle();
    producer.sends[0]!.reject(boom);
    await expect(flushed).rejects.toBe(boom);
    await expect(publisher.push(ev(0x7000n, 0))).rejects.toBe(boom);
    await expect(publisher.push(commitItem(0x7000n, 1))).rejects.toBe(boom);
    await expect(publisher.flush()).rejects.toBe(boom);
    expect(producer.sends).toHaveLength(1);
    expect(acks).toEqual([]);
  });

  it('a send failing on the linger timer surfaces at the next push; later batches are not sent', async () => {
    vi.useFakeTimers();
    const { acks, producer, publisher } = setup({ lingerMs: 5, auto: false });
    const boom = new Error('broker down');
    await publisher.push(ev(0x8000n, 0));
    await publisher.push(commitItem(0x8000n, 1));
    await vi.advanceTimersByTimeAsync(5);
    expect(producer.sends).toHaveLength(1);
    producer.sends[0]!.reject(boom);
    await vi.advanceTimersByTimeAsync(0);
    await expect(publisher.push(ev(0x9000n, 0))).rejects.toBe(boom);
    expect(acks).toEqual([]);
    expect(producer.sends).toHaveLength(1);
  });

  it('a batch after a failed one is never sent, even if it was queued before the failure', async () => {
    const { acks, producer, publisher } = setup({ auto: false });
    await publisher.push(ev(0xa000n, 0));
    await publisher.push(commitItem(0xa000n, 1));
    const first = publisher.flush();
    await publisher.push(ev(0xb000n, 0));
    await publisher.push(commitItem(0xb000n, 1));
    const second = publisher.flush();
    await settle();
    expect(producer.sends).toHaveLength(1); // strictly sequential
    producer.sends[0]!.reject(new Error('x'));
    await expect(first).rejects.toThrow('x');
    await expect(second).rejects.toThrow('x');
    expect(producer.sends).toHaveLength(1);
    expect(acks).toEqual([]);
  });

  it('a heartbeat after a commit acknowledges the heartbeat LSN', async () => {
    const { acks, producer, publisher } = setup();
    await publisher.push(ev(0xc000n, 0));
    await publisher.push(commitItem(0xc000n, 1));
    await publisher.flush();
    await publisher.push(heartbeat(0xd000n));
    await publisher.flush();
    expect(acks).toEqual([0xc030n, 0xd000n]);
    expect(producer.sends.map((s) => s.messages.length)).toEqual([1, 0]);
  });

  it('commit and heartbeat in one batch acknowledge the highest position once', async () => {
    const { acks, publisher } = setup();
    await publisher.push(ev(0xe000n, 0));
    await publisher.push(commitItem(0xe000n, 1));
    await publisher.push(heartbeat(0xe100n));
    await publisher.push(ev(0xf000n, 0));
    await publisher.push(commitItem(0xf000n, 1));
    await publisher.flush();
    expect(acks).toEqual([0xf030n]);
  });

  it('a truncate is one message under its table key with the truncate header, no tombstone; its commit acknowledges', async () => {
    const { acks, producer, publisher } = setup();
    const event = changeEvent({
      before: null,
      after: null,
      op: 't',
      source: { lsn: 0x10n, commit_lsn: 0x20n, seq: 1n },
      event_id: '0/20:1',
    });
    await publisher.push({ kind: 'truncate', commitLsn: 0x20n, event });
    await publisher.flush();
    expect(acks).toEqual([]); // not a position by itself: its commit is
    const [m, ...rest] = producer.sends.flatMap((s) => s.messages);
    expect(rest).toEqual([]);
    expect(m!.key.toString()).toBe('pgcdc-truncate:public.users');
    expect(m!.value).not.toBeNull();
    expect(m!.headers).toEqual({ 'pgcdc-event-id': '0/20:1', 'pgcdc-truncate': '1' });
    await publisher.push(commitItem(0x20n, 2));
    await publisher.flush();
    expect(acks).toEqual([0x50n]);
  });

  // Model: random WAL-ordered transactions and heartbeats, random batch size, flushes at random
  // points. Each acknowledgement must be higher than the previous one and cover only transactions
  // whose events Kafka already acknowledged; the last position is acknowledged in the end.
  it('acknowledges increasing positions, each covering only durable events (property)', async () => {
    const item = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({ kind: fc.constant('txn' as const), events: fc.integer({ min: 0, max: 6 }) }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const) }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(item, fc.boolean()), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 5 }),
        async (steps, batchMaxMessages) => {
          const acks: Lsn[] = [];
          const producer = new FakeProducer(acks, true);
          /** for each acknowledgement: the event ids durable at that moment */
          const durableAtAck: Set<string>[] = [];
          const publisher = new AckingPublisher({
            producer,
            codec: eventIdCodec,
            topic: 't',
            table: 'public.users',
            batchMaxMessages,
            lingerMs: 10_000, // only explicit flushes and full batches send
            ackAfterPublish: (lsn) => {
              acks.push(lsn);
              durableAtAck.push(new Set(producer.durable));
            },
          });
          /** ack position -> event ids that must be durable by then */
          const required: { lsn: Lsn; ids: string[] }[] = [];
          let lsn = 0x1000n;
          let last: Lsn | undefined;
          for (const [step, flushAfter] of steps) {
            lsn += 0x100n;
            if (step.kind === 'txn') {
              const ids: string[] = [];
              for (let i = 0; i < step.events; i++) {
                const change = ev(lsn, i);
                if (change.kind === 'event') ids.push(change.event.event_id);
                await publisher.push(change);
              }
              await publisher.push(commitItem(lsn, step.events));
              last = lsn + 0x30n;
              required.push({ lsn: last, ids });
            } else {
              await publisher.push(heartbeat(lsn));
              last = lsn;
              required.push({ lsn: last, ids: [] });
            }
            if (flushAfter) await publisher.flush();
          }
          await publisher.flush();
          publisher.close();

          for (let i = 1; i < acks.length; i++) expect(acks[i]!).toBeGreaterThan(acks[i - 1]!);
          expect(acks.at(-1)).toBe(last);
          acks.forEach((ack, i) => {
            for (const r of required.filter((x) => x.lsn <= ack)) {
              for (const id of r.ids) expect(durableAtAck[i]!.has(id)).toBe(true);
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
