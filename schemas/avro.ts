// avsc types for the contract: every Avro `long` is a JS bigint (lossless 64-bit), unions of
// null + one type are unwrapped, so a ChangeEvent is its own Avro value. Confluent wire format.
import avro from 'avsc';
import type { AvroRecordSchema, ChangeEvent } from './contract.ts';

const BigIntLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as string | number),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** Fresh options per call: avsc records named types into `registry`, which must not be shared. */
export function avroOptions(): Partial<avro.ForSchemaOptions> {
  return {
    registry: { long: BigIntLong },
    wrapUnions: 'auto',
    // `{"type": "long", "logicalType": ...}` bypasses the registry: map every long to bigint.
    typeHook: (schema: unknown) =>
      typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'long'
        ? BigIntLong
        : undefined,
  };
}

export function avroType(schema: AvroRecordSchema | object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, avroOptions());
}

export const MAGIC_BYTE = 0;

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary. */
export function toWire(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

export class WireFormatError extends Error {}

export function fromWire(buf: Buffer): { schemaId: number; payload: Buffer } {
  if (buf.length < 5 || buf.readUInt8(0) !== MAGIC_BYTE) {
    throw new WireFormatError('not in Confluent wire format (no magic byte 0 + schema id)');
  }
  return { schemaId: buf.readUInt32BE(1), payload: buf.subarray(5) };
}

/** Throws with the offending path when an event does not match the schema. */
export function assertValid(type: avro.Type, value: ChangeEvent | Record<string, unknown>): void {
  const paths: string[] = [];
  if (!type.isValid(value, { errorHook: (p) => paths.push(p.join('.')) })) {
    throw new Error(`value does not match schema ${type.name ?? ''} at: ${paths.join(', ')}`);
  }
}
