// avsc types for the contract: every Avro `long` is a JS bigint (lossless 64-bit), unions of
// null + one type are unwrapped, so a ChangeEvent is its own Avro value. Confluent wire format.
import avro from 'avsc';
import type { AvroRecordSchema, ChangeEvent } from './contract.ts';

/** avsc packs the 8 bytes toBuffer returns at once (Tap.packLongBytes), so one buffer serves every call. */
const longScratch = Buffer.alloc(8);

const BigIntLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    longScratch.writeBigInt64LE(n);
    return longScratch;
  },
  fromJSON: (v: unknown) => BigInt(v as string | number),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/**
 * Avro `decimal` (bytes: the big-endian two's-complement unscaled integer) whose value in the event
 * domain is the exact decimal text PostgreSQL prints for numeric(p,s): always `scale` fractional
 * digits. NaN and infinities have no decimal form: such a value is not valid for the type (the
 * producer refuses it earlier, naming the column: values.ts decodeColumn).
 */
class DecimalText extends avro.types.LogicalType {
  readonly scale: number;
  readonly precision: number;
  constructor(schema: avro.Schema, opts?: avro.ForSchemaOptions) {
    super(schema, opts);
    const s = schema as { scale?: number; precision?: number };
    this.scale = s.scale ?? 0;
    this.precision = s.precision ?? 0;
  }
  override _fromValue(buf: Buffer): string {
    return decimalFromBytes(buf, this.scale);
  }
  override _toValue(text: unknown): Buffer | undefined {
    return typeof text === 'string' ? decimalToBytes(text, this.scale) : undefined;
  }
  override _resolve(writer: avro.Type): ((v: unknown) => string) | undefined {
    if (writer instanceof DecimalText) return writer.scale === this.scale ? (v) => v as string : undefined;
    if (avro.Type.isType(writer, 'bytes')) return (v) => this._fromValue(v as Buffer);
    return undefined;
  }
}

/** `-12.50` with scale 2 -> two's complement of -1250 (minimal length); undefined if not that shape. */
export function decimalToBytes(text: string, scale: number): Buffer | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m || (m[3] ?? '').length > scale) return undefined;
  let n = BigInt(`${m[2]!}${(m[3] ?? '').padEnd(scale, '0')}`);
  if (m[1]) n = -n;
  let hex = (n < 0n ? -n : n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let len = hex.length / 2;
  if (n >= 0n) {
    if (parseInt(hex.slice(0, 2), 16) >= 0x80) len++;
  } else if (-n > 1n << BigInt(len * 8 - 1)) len++;
  const u = n < 0n ? (1n << BigInt(len * 8)) + n : n;
  return Buffer.from(u.toString(16).padStart(len * 2, '0'), 'hex');
}

export function decimalFromBytes(buf: Buffer, scale: number): string {
  if (buf.length === 0) return scale > 0 ? `0.${'0'.repeat(scale)}` : '0';
  let n = BigInt(`0x${buf.toString('hex')}`);
  if (buf[0]! >= 0x80) n -= 1n << BigInt(buf.length * 8);
  const neg = n < 0n;
  const digits = (neg ? -n : n).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = scale > 0 ? `.${digits.slice(digits.length - scale)}` : '';
  return `${neg ? '-' : ''}${int}${frac}`;
}

/** Fresh options per call: avsc records named types into `registry`, which must not be shared. */
export function avroOptions(): Partial<avro.ForSchemaOptions> {
  return {
    registry: { long: BigIntLong },
    wrapUnions: 'auto',
    logicalTypes: { decimal: DecimalText },
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

/** Slab size of framedEncoder: many events per allocation, released with the last of them. */
const SLAB_BYTES = 256 * 1024;

/**
 * toWire(schemaId, type.toBuffer(value)) without its two copies: the header and the Avro body are
 * written straight into a shared slab and the message is a view of it (one allocation per slab,
 * not two or three per message). The slab is never written again where a message was returned.
 */
export function framedEncoder(schemaId: number, type: avro.Type): (value: unknown) => Buffer {
  let slab = Buffer.allocUnsafe(SLAB_BYTES);
  let at = 0;
  return (value) => {
    for (;;) {
      if (slab.length - at >= 5) {
        slab[at] = MAGIC_BYTE;
        slab.writeUInt32BE(schemaId, at + 1);
        const end = type.encode(value, slab, at + 5);
        if (end >= 0) {
          const message = slab.subarray(at, end);
          at = end;
          return message;
        }
        // too small: `end` is minus the bytes missing
        slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, 2 * (slab.length - at - end)));
      } else slab = Buffer.allocUnsafe(SLAB_BYTES);
      at = 0;
    }
  };
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
