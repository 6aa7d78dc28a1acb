// A faster decoder for the record batches of kafkajs's fetch responses, giving the same objects as
// its own. kafkajs 2.2.4 (its last release) decodes each record through a new Decoder over a slice
// of its bytes, reads the timestamp delta as a BigInt-backed Long and adds it to the batch's first
// timestamp parsed from a string again for every record (the offset the same), and folds the
// headers into an object by spreading it once per header: in the consumer's profile that is a
// large part of its fetch handling. This one reads the batch's bytes in place, computes offsets and
// timestamps in double arithmetic while they are safe integers (BigInt beyond), and builds the
// headers object once per record.
//
// How it is installed: kafkajs's fetch responses (v4..v11) take the record batch decoder
// `require('../../../recordBatch/v0/decoder')` when `fetch/v4/decodeMessages.js` is first loaded,
// at the first fetch; `installRecordBatchDecoder` replaces that module's export in Node's module
// cache before then. Guarded: only for kafkajs 2.2.4, only if decodeMessages is not loaded yet;
// otherwise kafkajs keeps its own. A compressed batch, and a batch in a shape ours does not read
// (a varint longer than safe-integer arithmetic, bytes that do not add up), goes to kafkajs's own
// decoder from its first byte. The unit test compares the results of both for every shape.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** kafkajs's Decoder as far as the record batch decoder uses it. */
interface DecoderLike {
  buffer: Buffer;
  offset: number;
}

type BatchDecoder = (decoder: DecoderLike) => Promise<unknown>;

const TIMESTAMP_TYPE_FLAG_MASK = 0x8;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;
const COMPRESSION_CODEC_MASK = 0x07;
/** kafkajs's TimestampTypes */
const CREATE_TIME = 0;
const LOG_APPEND_TIME = 1;
/** bytes from the batch's length field to its records count (the v2 batch header after the length) */
const HEADER_AFTER_LENGTH = 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4;

/** Thrown inside the fast path when kafkajs's own decoder must take the batch. */
class NotOurs extends Error {}

/** A zig-zag varint of at most 49 bits (a varlong beyond that is not ours). */
function readVarInt(buf: Buffer, at: { i: number }): number {
  let b = buf[at.i++]!;
  if (b < 0x80) return b & 1 ? -(b + 1) / 2 : b / 2;
  let n = b & 0x7f;
  let scale = 128;
  for (;;) {
    if (at.i >= buf.length || scale > 2 ** 42) throw new NotOurs('varint');
    b = buf[at.i++]!;
    n += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

/** `base` (a decimal int64 text) + delta, as kafkajs's Long would print it. */
function plus(base: string, baseNumber: number, delta: number): string {
  const sum = baseNumber + delta;
  if (Number.isSafeInteger(baseNumber) && Number.isSafeInteger(sum)) return String(sum);
  return (BigInt(base) + BigInt(delta)).toString();
}

/** kafkajs's header fold, kept for names an object literal treats specially ('__proto__', 'toString', null). */
function kafkajsHeaders(list: { key: string | null; value: Buffer | null }[]): Record<string, unknown> {
  return list.reduce<Record<string, unknown>>(
    (obj, { key, value }) => ({
      ...obj,
      [key as string]:
        obj[key as string] === undefined
          ? value
          : Array.isArray(obj[key as string])
            ? (obj[key as string] as unknown[]).concat([value])
            : [obj[key as string], value],
    }),
    {},
  );
}

function readRecords(
  buf: Buffer,
  start: number,
  end: number,
  ctx: { firstOffset: string; firstTimestamp: string; maxTimestamp: string; timestampType: number },
  batchContext: { isControlBatch: boolean; magicByte: number },
): unknown[] {
  const at = { i: start };
  if (at.i + 4 > end) throw new NotOurs('count');
  const count = buf.readInt32BE(at.i);
  at.i += 4;
  if (count === -1) return [];
  if (count < 0) throw new NotOurs('count');
  const firstOffset = Number(ctx.firstOffset);
  const firstTimestamp = Number(ctx.firstTimestamp);
  const appendTime = ctx.timestampType === LOG_APPEND_TIME && ctx.maxTimestamp;
  const bytes = (): Buffer | null => {
    const n = readVarInt(buf, at);
    if (n === -1) return null;
    if (n < 0 || at.i + n > end) throw new NotOurs('bytes');
    const b = buf.subarray(at.i, at.i + n);
    at.i += n;
    return b;
  };
  const records = new Array<unknown>(count);
  for (let r = 0; r < count; r++) {
    const length = readVarInt(buf, at);
    const recordEnd = at.i + length;
    if (length < 0 || recordEnd > end) throw new NotOurs('record');
    const attributes = buf.readInt8(at.i++);
    const timestampDelta = readVarInt(buf, at);
    const offsetDelta = readVarInt(buf, at);
    const key = bytes();
    const value = bytes();
    const headerCount = readVarInt(buf, at);
    let headers: Record<string, unknown> = {};
    if (headerCount > 0) {
      const list: { key: string | null; value: Buffer | null }[] = [];
      let plain = true;
      for (let h = 0; h < headerCount; h++) {
        const name = bytes();
        const text = name === null ? null : name.toString('utf8');
        if (text === null || text in headers || text in Object.prototype) plain = false;
        const v = bytes();
        list.push({ key: text, value: v });
        if (plain) headers[text!] = v;
      }
      if (!plain) headers = kafkajsHeaders(list);
    }
    if (at.i > recordEnd) throw new NotOurs('record length');
    at.i = recordEnd;
    records[r] = {
      magicByte: batchContext.magicByte,
      attributes,
      timestamp: appendTime ? ctx.maxTimestamp : plus(ctx.firstTimestamp, firstTimestamp, timestampDelta),
      offset: plus(ctx.firstOffset, firstOffset, offsetDelta),
      key,
      value,
      headers,
      isControlRecord: batchContext.isControlBatch,
      batchContext,
    };
  }
  return records;
}

/**
 * The record batch decoder: ours for uncompressed batches, kafkajs's (`original`) for the rest.
 * `partialError` is kafkajs's KafkaJSPartialMessageError (the end of a fetch's last batch).
 */
export function fastRecordBatchDecoder(
  original: BatchDecoder,
  partialError: new (message: string) => Error,
): BatchDecoder {
  return (decoder) => {
    const { buffer: buf, offset: start } = decoder;
    if (start + 12 + HEADER_AFTER_LENGTH > buf.length) return original(decoder);
    const attributes = buf.readInt16BE(start + 12 + 4 + 1 + 4);
    if ((attributes & COMPRESSION_CODEC_MASK) !== 0) return original(decoder);
    try {
      const firstOffset = buf.readBigInt64BE(start).toString();
      const length = buf.readInt32BE(start + 8);
      if (length < HEADER_AFTER_LENGTH + 4) throw new NotOurs('length');
      const body = start + 12;
      // as kafkajs: the fetch decoder moves past the batch even when it is cut short
      decoder.offset = body + length;
      const end = Math.min(buf.length, body + length);
      if (end - body < length) {
        return Promise.reject(
          new partialError(
            `Tried to decode a partial record batch: remainingBytes(${end - body}) < recordBatchLength(${length})`,
          ),
        );
      }
      let i = body;
      const partitionLeaderEpoch = buf.readInt32BE(i);
      const magicByte = buf.readInt8(i + 4);
      i += 4 + 1 + 4 + 2; // epoch, magic, crc (kafkajs does not check it either), attributes
      const lastOffsetDelta = buf.readInt32BE(i);
      const firstTimestamp = buf.readBigInt64BE(i + 4).toString();
      const maxTimestamp = buf.readBigInt64BE(i + 12).toString();
      const producerId = buf.readBigInt64BE(i + 20).toString();
      const producerEpoch = buf.readInt16BE(i + 28);
      const firstSequence = buf.readInt32BE(i + 30);
      i += 34;
      const recordContext = {
        firstOffset,
        firstTimestamp,
        partitionLeaderEpoch,
        inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
        isControlBatch: (attributes & CONTROL_FLAG_MASK) > 0,
        lastOffsetDelta,
        producerId,
        producerEpoch,
        firstSequence,
        maxTimestamp,
        timestampType: (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? LOG_APPEND_TIME : CREATE_TIME,
      };
      const records = readRecords(buf, i, end, recordContext, { ...recordContext, magicByte });
      return Promise.resolve({ ...recordContext, records });
    } catch (err) {
      if (!(err instanceof NotOurs) && !(err instanceof RangeError)) throw err;
      decoder.offset = start; // kafkajs's decoder reads the batch again from its first byte
      return original(decoder);
    }
  };
}

const BATCH_DECODER = 'kafkajs/src/protocol/recordBatch/v0/decoder.js';
const DECODE_MESSAGES = 'kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js';
const ERRORS = 'kafkajs/src/errors.js';

/** kafkajs's own record batch decoder and the parts it needs (for tests and the installation). */
export function kafkajsBatchParts(): {
  original: BatchDecoder;
  partialError: new (message: string) => Error;
  version: string;
} {
  const { version } = require('kafkajs/package.json') as { version: string };
  const original = require(BATCH_DECODER) as BatchDecoder;
  const { KafkaJSPartialMessageError } = require(ERRORS) as {
    KafkaJSPartialMessageError: new (message: string) => Error;
  };
  return { original, partialError: KafkaJSPartialMessageError, version };
}

let installed: boolean | undefined;

/**
 * Puts the fast decoder in place of kafkajs's, process-wide, before the first fetch response is
 * decoded; true if it is in place (idempotent). False (kafkajs keeps its own) for another kafkajs
 * version or when a fetch response decoder was already loaded with the original.
 */
export function installRecordBatchDecoder(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  try {
    const parts = kafkajsBatchParts();
    if (parts.version !== '2.2.4') return false;
    if (require.cache[require.resolve(DECODE_MESSAGES)]) return false;
    const entry = require.cache[require.resolve(BATCH_DECODER)];
    if (!entry) return false;
    entry.exports = fastRecordBatchDecoder(parts.original, parts.partialError);
    installed = true;
  } catch {
    installed = false; // kafkajs laid out differently: its own decoder stays
  }
  return installed;
}
