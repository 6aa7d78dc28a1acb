// The snapshot's items on the producer's path: the assembler turns our logical messages into
// watermark / signal items; the publisher treats them as positions to acknowledge (like
// heartbeats) and follows every delete with a tombstone for the compacted topic.
import { describe, expect, it } from 'vitest';
import { TransactionAssembler, type SourceItem } from '../../../../producers/postgres/assembler.ts';
import type { Lsn } from '../../../../schemas/lsn.ts';
import type { KafkaProducerPort, OutMessage } from '../../../../pipeline/kafka/port.ts';
import type { EventCodec } from '../../../../schemas/codec.ts';
import { loadContract, type ChangeEvent, type Op } from '../../../../schemas/contract.ts';
import { logicalMessage } from '../../support/pgoutput.ts';
import { ackingPublisher } from '../../support/publisher.ts';

const contract = loadContract();

const message = (prefix: string, content: string, messageLsn = '0/700', transactional = false) =>
  logicalMessage(prefix, messageLsn, transactional, content);

describe('assembler: snapshot messages', () => {
  const asm = () => new TransactionAssembler({ contract, db: 'd', name: 'pgcdc', version: '0.1.0' });

  it('watermarks and signals become items at their message LSN', () => {
    expect(asm().push(message('pgcdc.watermark', 'mwzm1:0.3:low'), '0/600')).toEqual([
      { kind: 'watermark', lsn: 0x700n, snapshotId: 'mwzm1', chunk: '0.3', edge: 'low' },
    ]);
    expect(asm().push(message('pgcdc.signal', 'snapshot-restart'), '0/600')).toEqual([
      { kind: 'signal', lsn: 0x700n, content: 'snapshot-restart' },
    ]);
  });

  it('a malformed watermark still marks a position; transactional ones are ignored', () => {
    expect(asm().push(message('pgcdc.watermark', 'garbage'), '0/600')).toEqual([
      { kind: 'heartbeat', lsn: 0x700n },
    ]);
    const a = asm();
    a.push({ tag: 'begin', commitLsn: '0/900', commitTime: 0n, xid: 3 }, '0/800');
    expect(a.push(message('pgcdc.watermark', 'mwzm1:0.3:low', '0/810', true), '0/810')).toEqual([]);
  });
});

class RecordingProducer implements KafkaProducerPort {
  readonly sent: OutMessage[] = [];
  connect() {
    return Promise.resolve();
  }
  disconnect() {
    return Promise.resolve();
  }
  send(_topic: string, messages: OutMessage[]) {
    this.sent.push(...messages);
    return Promise.resolve();
  }
}

const codec: EventCodec = {
  keySchemaId: 1,
  valueSchemaId: 2,
  encodeKey: (key) => Buffer.from(`k${String(key.id)}`),
  encodeValue: (e: ChangeEvent) => Buffer.from(`${e.op}:${e.event_id}`),
  decodeValue: () => Promise.reject(new Error('not used')),
  decodeKey: () => Promise.reject(new Error('not used')),
};

function ev(op: Op, id: number, lsn: Lsn): SourceItem {
  const event = {
    before: null,
    after: null,
    unchanged: [],
    source: {
      version: '',
      connector: '',
      name: '',
      db: '',
      schema: '',
      table: '',
      lsn,
      commit_lsn: lsn,
      seq: 0n,
      tx_id: 1n,
      ts_us: 0n,
      snapshot: op === 'r',
    },
    op,
    ts_ms: 0n,
    event_id: `${lsn}:${id}`,
  } satisfies ChangeEvent;
  return { kind: 'event', key: { id: BigInt(id) }, event };
}

describe('publisher: snapshot markers and tombstones', () => {
  function setup() {
    const producer = new RecordingProducer();
    const { publisher, acks } = ackingPublisher(producer, { codec });
    return { producer, acks, publisher };
  }

  it('a delete is followed by a tombstone with the same key and its position; other ops are not', async () => {
    const { producer, publisher } = setup();
    for (const item of [ev('c', 1, 0x10n), ev('u', 1, 0x20n), ev('d', 1, 0x30n), ev('r', 2, 0x40n)]) {
      await publisher.push(item);
    }
    await publisher.flush();
    expect(producer.sent[3]!.headers).toEqual({
      'pgcdc-event-id': '48:1',
      'pgcdc-commit-lsn': '48',
      'pgcdc-seq': '0',
      'pgcdc-commit-ts-us': '0',
    });
    expect(producer.sent.map((m) => [m.key.toString(), m.value?.toString() ?? null])).toEqual([
      ['k1', 'c:16:1'],
      ['k1', 'u:32:1'],
      ['k1', 'd:48:1'],
      ['k1', null],
      ['k2', 'r:64:2'],
    ]);
  });

  it('the high watermark after a chunk is acknowledged once the chunk is in Kafka; signals too', async () => {
    const { producer, acks, publisher } = setup();
    await publisher.push(ev('r', 1, 0x100n));
    await publisher.push(ev('r', 2, 0x100n));
    await publisher.push({ kind: 'watermark', lsn: 0x100n, snapshotId: 's', chunk: '0.1', edge: 'high' });
    await publisher.flush();
    expect(producer.sent).toHaveLength(2);
    expect(acks).toEqual([0x100n]);
    await publisher.push({ kind: 'signal', lsn: 0x180n, content: 'snapshot' });
    await publisher.flush();
    expect(acks).toEqual([0x100n, 0x180n]);
  });
});
