// consumers/group/decode.ts: a truncate (schemas/truncate.ts) is recognised by its header before
// its key, which is not an Avro row key; rows and tombstones decode as before.
import { describe, expect, it } from 'vitest';
import { decodeChunk } from '../../../../consumers/group/decode.ts';
import type { InMessage } from '../../../../pipeline/kafka/port.ts';
import { DecodeError, type EventCodec } from '../../../../schemas/codec.ts';
import type { ChangeEvent, Row } from '../../../../schemas/contract.ts';
import { truncateHeaders, truncateKey } from '../../../../schemas/truncate.ts';
import { changeEvent } from '../../support/events.ts';

const where = { schema: 'public', table: 'users' };

/** A codec over JSON (bigints as strings): enough to see which bytes decodeChunk decodes how. */
function fakeCodec(): EventCodec & { keysDecoded: string[] } {
  const keysDecoded: string[] = [];
  const json = (v: unknown) =>
    Buffer.from(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)));
  const parse = (b: Buffer) =>
    JSON.parse(b.toString(), (_k, x: unknown) =>
      typeof x === 'string' && /^\d+n$/.test(x) ? BigInt(x.slice(0, -1)) : x,
    ) as unknown;
  return {
    keysDecoded,
    keySchemaId: 1,
    valueSchemaId: 2,
    encodeKey: (key) => json(key),
    encodeValue: (event) => json(event),
    decodeKey: (buf) => {
      keysDecoded.push(buf.toString());
      if (buf[0] !== 0x7b) return Promise.reject(new DecodeError('not a key'));
      return Promise.resolve(parse(buf) as Row);
    },
    decodeValue: (buf) => Promise.resolve(parse(buf) as ChangeEvent),
  };
}

const msg = (offset: bigint, key: Buffer, value: Buffer | null, headers: Record<string, string> = {}) =>
  ({ partition: 0, offset, key, value, timestampMs: 0, headers }) satisfies InMessage;

describe('decodeChunk', () => {
  it('decodes a truncate by its header (empty key, op t) without decoding its raw key', async () => {
    const codec = fakeCodec();
    const t = changeEvent({ op: 't', event_id: '0/20:1', source: { commit_lsn: 0x20n, seq: 1n } });
    const row = changeEvent({ op: 'c', after: { id: 1n }, source: { commit_lsn: 0x30n } });
    const out = await decodeChunk(
      codec,
      [
        msg(5n, truncateKey(where), codec.encodeValue(t), {
          'pgcdc-event-id': t.event_id,
          ...truncateHeaders(),
        }),
        msg(6n, codec.encodeKey({ id: 1n }), codec.encodeValue(row)),
      ],
      where,
    );
    expect(out.undecodable).toEqual([]);
    expect(out.events).toEqual([
      { offset: 5n, partition: 0, key: {}, event: t },
      { offset: 6n, partition: 0, key: { id: 1n }, event: row },
    ]);
    expect(codec.keysDecoded).toEqual(['{"id":"1n"}']);
  });

  it('sets aside a message marked as a truncate that carries another op, or no value', async () => {
    const codec = fakeCodec();
    const c = changeEvent({ op: 'c', after: { id: 1n } });
    const out = await decodeChunk(
      codec,
      [msg(1n, truncateKey(where), codec.encodeValue(c), truncateHeaders())],
      where,
    );
    expect(out.events).toEqual([]);
    expect(out.undecodable.map((u) => u.error)).toEqual(['message marked as a truncate carries op c']);
  });

  it('a raw truncate key without the header is undecodable, not a row (the header decides)', async () => {
    const codec = fakeCodec();
    const t = changeEvent({ op: 't' });
    const out = await decodeChunk(codec, [msg(1n, truncateKey(where), codec.encodeValue(t))], where);
    expect(out.events).toEqual([]);
    expect(out.undecodable).toHaveLength(1);
  });

  it('the truncate key is never an Avro-framed row key (magic byte 0), so compaction keeps it', () => {
    const k = truncateKey(where);
    expect(k.toString()).toBe('pgcdc-truncate:public.users');
    expect(k[0]).not.toBe(0);
  });
});
