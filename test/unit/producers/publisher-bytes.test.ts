// producers/publisher.ts: batches are bounded by bytes as well as by count (Kafka refuses a
// partition batch over max.message.bytes), and an event over maxMessageBytes is refused with an
// error naming table, key and LSN, before anything is sent or acknowledged.
import { describe, expect, it } from 'vitest';
import { AckingPublisher, OversizeEventError } from '../../../producers/publisher.ts';
import type { KafkaProducerPort, OutMessage } from '../../../pipeline/kafka/port.ts';
import type { EventCodec } from '../../../schemas/codec.ts';
import type { ChangeEvent } from '../../../schemas/contract.ts';
import type { Lsn } from '../../../schemas/lsn.ts';
import { changeEvent } from '../support/events.ts';

const sizedCodec: EventCodec = {
  keySchemaId: 1,
  valueSchemaId: 2,
  encodeKey: (key) => Buffer.from(String(key.id)),
  encodeValue: (event: ChangeEvent) => Buffer.alloc(Number(event.after?.id ?? 0n) * 1000, 'x'),
  decodeValue: () => Promise.reject(new Error('not used')),
  decodeKey: () => Promise.reject(new Error('not used')),
};

function setup(batchMaxBytes: number, maxMessageBytes: number) {
  const sends: OutMessage[][] = [];
  const producer: KafkaProducerPort = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    send: (_t, messages) => {
      sends.push(messages);
      return Promise.resolve();
    },
  };
  const acks: Lsn[] = [];
  const publisher = new AckingPublisher({
    producer,
    codec: sizedCodec,
    topic: 't',
    table: 'public.users',
    batchMaxMessages: 1000,
    batchMaxBytes,
    maxMessageBytes,
    lingerMs: 0,
    ackAfterPublish: (lsn) => acks.push(lsn),
  });
  return { publisher, sends, acks };
}

/** An event whose value is `kb` kB. */
const sized = (kb: number, lsn: Lsn) => ({
  kind: 'event' as const,
  key: { id: BigInt(kb) },
  event: changeEvent({ after: { id: BigInt(kb) }, source: { lsn, commit_lsn: lsn } }),
});

describe('AckingPublisher byte bounds', () => {
  it('a batch leaves before it would exceed batchMaxBytes; what does not fit goes in the next', async () => {
    const { publisher, sends } = setup(10_000, 100_000);
    for (let i = 0; i < 7; i++) await publisher.push(sized(3, 0x100n + BigInt(i)));
    await publisher.flush();
    expect(sends.map((s) => s.length)).toEqual([3, 3, 1]);
    for (const s of sends)
      expect(s.reduce((n, m) => n + (m.value?.length ?? 0), 0)).toBeLessThanOrEqual(10_000);
  });

  it('an event larger than batchMaxBytes but within maxMessageBytes goes alone', async () => {
    const { publisher, sends } = setup(10_000, 100_000);
    await publisher.push(sized(2, 0x100n));
    await publisher.push(sized(50, 0x101n));
    await publisher.push(sized(2, 0x102n));
    await publisher.flush();
    expect(sends.map((s) => s.map((m) => m.value?.length))).toEqual([[2000], [50_000], [2000]]);
  });

  it('an event over maxMessageBytes is refused, non-retriable, naming table, key and LSN; nothing after it is acknowledged', async () => {
    const { publisher, sends, acks } = setup(10_000, 40_000);
    await publisher.push(sized(2, 0x100n));
    const err = await publisher.push(sized(41, 0x2000n)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OversizeEventError);
    expect((err as OversizeEventError).retriable).toBe(false);
    expect((err as Error).message).toMatch(
      /public\.users key \{"id":"41"\} at LSN 0\/2000 .* over producer\.maxMessageBytes \(40000\)/,
    );
    expect(sends.flat().some((m) => (m.value?.length ?? 0) > 40_000)).toBe(false);
    expect(acks).toEqual([]);
  });
});
