// A faster encoder for the records of kafkajs's produce requests, byte for byte the same as its
// own. kafkajs 2.2.4 (its last release) encodes each record with a fresh zero-filled 512-byte
// Encoder that grows by copying, one more per header, one small Buffer per varint, and its
// timestamp delta with a dozen BigInt-backed Long operations: in the producer's profile that is
// the largest single cost of a send. This one measures the record first and writes it into one
// pooled allocation.
//
// How it is installed: kafkajs's produce request (protocol/requests/produce/v3/request.js, which
// v4..v7 reuse) takes the record encoder `require('../../../recordBatch/record/v0')` when it is
// first loaded, at the first send; `installRecordEncoder` replaces that module's export in
// Node's module cache before then. Guarded: only for kafkajs 2.2.4, only if the produce request
// is not loaded yet; otherwise kafkajs keeps its own. A record outside the shapes ours handles
// (headers with arrays or non-string values, a key or value that is not a Buffer, a timestamp
// delta that is not a small integer) goes to kafkajs's own encoder. The unit test compares the
// bytes of both for every shape we send.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** What kafkajs's produce request hands the record encoder. */
export interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: unknown;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

/** kafkajs's Encoder as far as the request uses a record: `buf` and `buffer` (the written bytes). */
interface EncoderLike {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
}

type RecordEncoder = (record: RecordInput) => EncoderLike;

const zigzag = (n: number) => ((n << 1) ^ (n >> 31)) >>> 0;

function varIntSize(n: number): number {
  let v = zigzag(n);
  let bytes = 1;
  while (v >= 0x80) {
    bytes++;
    v >>>= 7;
  }
  return bytes;
}

function writeVarInt(buf: Buffer, at: number, n: number): number {
  let v = zigzag(n);
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v;
  return at;
}

const INT30 = 1 << 30;
const small = (x: unknown): x is number =>
  typeof x === 'number' && Number.isInteger(x) && Math.abs(x) < INT30;

/**
 * The record encoder: ours for Buffer keys and values and string headers, kafkajs's (`original`)
 * for anything else. `encoderPrototype` makes the result a kafkajs Encoder like the original's.
 */
export function fastRecordEncoder(original: RecordEncoder, encoderPrototype: object): RecordEncoder {
  return (record) => {
    const { offsetDelta = 0, timestampDelta = 0, key, value, headers = {} } = record;
    if (!small(offsetDelta) || !small(timestampDelta)) return original(record);
    if (key != null && !Buffer.isBuffer(key)) return original(record);
    if (value != null && !Buffer.isBuffer(value)) return original(record);
    const names = Object.keys(headers);
    const headerBytes: [number, number][] = [];
    let size =
      1 + // attributes
      varIntSize(timestampDelta) + // a varlong of a small value is its varint
      varIntSize(offsetDelta) +
      (key == null ? varIntSize(-1) : varIntSize(key.length) + key.length) +
      (value == null ? varIntSize(-1) : varIntSize(value.length) + value.length) +
      varIntSize(names.length);
    for (const name of names) {
      const v = headers[name];
      if (typeof v !== 'string') return original(record);
      const k = Buffer.byteLength(name, 'utf8');
      const n = Buffer.byteLength(v, 'utf8');
      headerBytes.push([k, n]);
      size += varIntSize(k) + k + varIntSize(n) + n;
    }
    const total = varIntSize(size) + size;
    const buf = Buffer.allocUnsafe(total);
    let at = writeVarInt(buf, 0, size);
    buf[at++] = 0; // attributes: none
    at = writeVarInt(buf, at, timestampDelta);
    at = writeVarInt(buf, at, offsetDelta);
    if (key == null) at = writeVarInt(buf, at, -1);
    else {
      at = writeVarInt(buf, at, key.length);
      at += key.copy(buf, at);
    }
    if (value == null) at = writeVarInt(buf, at, -1);
    else {
      at = writeVarInt(buf, at, value.length);
      at += value.copy(buf, at);
    }
    at = writeVarInt(buf, at, names.length);
    names.forEach((name, i) => {
      const [k, n] = headerBytes[i]!;
      at = writeVarInt(buf, at, k);
      at += buf.write(name, at, k, 'utf8');
      at = writeVarInt(buf, at, n);
      at += buf.write(headers[name] as string, at, n, 'utf8');
    });
    if (at !== total) return original(record); // cannot happen; never send a wrong record
    const encoder = Object.create(encoderPrototype) as EncoderLike;
    encoder.buf = buf;
    encoder.offset = total;
    return encoder;
  };
}

const RECORD = 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
const PRODUCE_V3 = 'kafkajs/src/protocol/requests/produce/v3/request.js';
const ENCODER = 'kafkajs/src/protocol/encoder.js';

/** kafkajs's own record encoder and its Encoder class (for tests and the installation). */
export function kafkajsRecordParts(): { original: RecordEncoder; encoderPrototype: object; version: string } {
  const { version } = require('kafkajs/package.json') as { version: string };
  const original = require(RECORD) as RecordEncoder;
  const Encoder = require(ENCODER) as { prototype: object };
  return { original, encoderPrototype: Encoder.prototype, version };
}

let installed: boolean | undefined;

/**
 * Puts the fast encoder in place of kafkajs's, process-wide, before the first produce request is
 * built; true if it is in place (idempotent). False (kafkajs keeps its own) for another kafkajs
 * version or when a produce request was already loaded with the original.
 */
export function installRecordEncoder(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  try {
    const parts = kafkajsRecordParts();
    if (parts.version !== '2.2.4') return false;
    if (require.cache[require.resolve(PRODUCE_V3)]) return false;
    const entry = require.cache[require.resolve(RECORD)];
    if (!entry) return false;
    entry.exports = fastRecordEncoder(parts.original, parts.encoderPrototype);
    installed = true;
  } catch {
    installed = false; // kafkajs laid out differently: its own encoder stays
  }
  return installed;
}
