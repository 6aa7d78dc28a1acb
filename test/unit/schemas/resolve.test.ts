// Decoding resolves the writer schema (the id in the message) to the reader schema (the contract's
// current one): after a BACKWARD-compatible change that added a field with a default, old events
// carry the default; a field the contract no longer has is dropped; bytes written with a schema
// that is not the contract's (another record, the key schema) are undecodable, not retried.
import { describe, expect, it } from 'vitest';
import { avroType } from '../../../schemas/avro.ts';
import { createReaderDecoder, DecodeError } from '../../../schemas/codec.ts';
import { loadContract, type AvroRecordSchema } from '../../../schemas/contract.ts';
import { changeEvent } from '../support/events.ts';

const contract = loadContract();
const reader = avroType(contract.valueSchema);
const row = {
  id: 5n,
  email: 'a@b.io',
  username: 'ab',
} as const;

/** the contract's value schema with `change` applied to its row record's fields */
function withRowFields(change: (fields: AvroRecordSchema['fields']) => AvroRecordSchema['fields']): object {
  const copy = JSON.parse(JSON.stringify(contract.valueSchema)) as AvroRecordSchema;
  const after = copy.fields.find((f) => f.name === 'before')!;
  const rec = (after.type as unknown[])[1] as AvroRecordSchema;
  rec.fields = change(rec.fields);
  return copy;
}

describe('createReaderDecoder', () => {
  const fullRow = (): Record<string, unknown> => {
    const r: Record<string, unknown> = {};
    for (const c of contract.columns) r[c.name] = null;
    return { ...r, ...row, is_active: true, is_blocked: false, created_at: 1n, updated_at: 1n };
  };

  it('an old event (written before a field with a default was added) carries the default', () => {
    // the "old" writer schema lacks first_name, which the contract (reader) has with default null
    const writer = avroType(withRowFields((fs) => fs.filter((f) => f.name !== 'first_name')));
    const old = fullRow();
    delete old.first_name;
    const event = changeEvent({ op: 'c', after: old as never });
    const decode = createReaderDecoder(reader, 'value schema of users');
    const got = decode(41, writer, writer.toBuffer(event)) as typeof event;
    expect(got.after).toHaveProperty('first_name', null);
    expect(reader.isValid(got)).toBe(true);
    // the same bytes read with the writer schema alone lack it: the defect this guards against
    expect((writer.fromBuffer(writer.toBuffer(event)) as typeof event).after).not.toHaveProperty(
      'first_name',
    );
  });

  it('a field the contract no longer has is dropped', () => {
    const writer = avroType(
      withRowFields((fs) => [...fs, { name: 'nickname', type: ['null', 'string'], default: null }]),
    );
    const event = changeEvent({ op: 'c', after: { ...fullRow(), nickname: 'nick' } });
    const got = createReaderDecoder(reader, 'value')(42, writer, writer.toBuffer(event)) as typeof event;
    expect(got.after).not.toHaveProperty('nickname');
    expect(reader.isValid(got)).toBe(true);
  });

  it('the reader itself decodes without resolution', () => {
    const event = changeEvent({ op: 'c', after: fullRow() as never });
    expect(createReaderDecoder(reader, 'value')(1, reader, reader.toBuffer(event))).toEqual(event);
  });

  it('bytes written with another schema are undecodable (not a change event)', () => {
    const other = avroType({ type: 'record', name: 'Invoice', fields: [{ name: 'n', type: 'long' }] });
    const decode = createReaderDecoder(reader, 'value schema of public.users');
    expect(() => decode(77, other, other.toBuffer({ n: 3n }))).toThrow(DecodeError);
    expect(() => decode(77, other, other.toBuffer({ n: 3n }))).toThrow(
      /schema id 77 is not the value schema of public\.users/,
    );
    const key = avroType(contract.keySchema);
    expect(() => decode(2, key, key.toBuffer({ id: 1n }))).toThrow(/schema id 2 is not the value schema/);
  });

  it('a corrupt body is undecodable', () => {
    expect(() => createReaderDecoder(reader, 'value')(1, reader, Buffer.from([0x02, 0xff, 0xff]))).toThrow(
      /Avro decoding with schema id 1 failed/,
    );
  });
});
