// producers/publisher.ts (AckingPublisher), batching under load: transactions whose linger time runs
// out while a send is in flight are not queued as small sends of their own; they leave together,
// in one send, as soon as the send in flight is acknowledged, and are acknowledged after it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SourceItem } from '../../../producers/postgres/assembler.ts';
import type { Lsn } from '../../../schemas/lsn.ts';
import type { KafkaProducerPort, OutMessage } from '../../../pipeline/kafka/port.ts';
import { changeEvent } from '../support/events.ts';
import { ackingPublisher } from '../support/publisher.ts';

class ManualProducer implements KafkaProducerPort {
  readonly sends: { messages: OutMessage[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  connect() {
    return Promise.resolve();
  }
  disconnect() {
    return Promise.resolve();
  }
  send(_topic: string, messages: OutMessage[]): Promise<void> {
    return new Promise((resolve, reject) => this.sends.push({ messages, resolve, reject }));
  }
}

function txn(commitLsn: Lsn): SourceItem[] {
  const event = changeEvent({
    source: { lsn: commitLsn - 8n, commit_lsn: commitLsn },
    event_id: `${commitLsn}:0`,
  });
  return [
    { kind: 'event', key: { id: commitLsn }, event },
    { kind: 'commit', commitLsn, endLsn: commitLsn + 0x10n, events: 1 },
  ];
}

afterEach(() => {
  vi.useRealTimers();
});

describe('AckingPublisher batching', () => {
  it('transactions lingering behind a send in flight leave together when it is acknowledged', async () => {
    vi.useFakeTimers();
    const producer = new ManualProducer();
    const { publisher, acks } = ackingPublisher(producer, { lingerMs: 5 });
    for (const item of txn(0x100n)) await publisher.push(item);
    await vi.advanceTimersByTimeAsync(5);
    expect(producer.sends).toHaveLength(1);
    for (const lsn of [0x200n, 0x300n, 0x400n]) {
      for (const item of txn(lsn)) await publisher.push(item);
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(producer.sends).toHaveLength(1); // still one in flight; nothing queued behind it yet
    producer.sends[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(acks).toEqual([0x110n]);
    expect(producer.sends).toHaveLength(2);
    expect(producer.sends[1]!.messages.map((m) => m.headers?.['pgcdc-event-id'])).toEqual([
      '512:0',
      '768:0',
      '1024:0',
    ]);
    producer.sends[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(acks).toEqual([0x110n, 0x410n]);
    await vi.advanceTimersByTimeAsync(50);
    expect(producer.sends).toHaveLength(2); // nothing left behind
    publisher.close();
  });

  it('a failed send in flight: what lingered behind it is never sent nor acknowledged', async () => {
    vi.useFakeTimers();
    const producer = new ManualProducer();
    const { publisher, acks } = ackingPublisher(producer, { lingerMs: 5 });
    for (const item of txn(0x100n)) await publisher.push(item);
    await vi.advanceTimersByTimeAsync(5);
    for (const item of txn(0x200n)) await publisher.push(item);
    await vi.advanceTimersByTimeAsync(5);
    const boom = new Error('broker down');
    producer.sends[0]!.reject(boom);
    await vi.advanceTimersByTimeAsync(10);
    expect(producer.sends).toHaveLength(1);
    expect(acks).toEqual([]);
    await expect(publisher.flush()).rejects.toBe(boom);
    publisher.close();
  });
});
