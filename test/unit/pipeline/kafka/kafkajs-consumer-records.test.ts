// The fast record batch decoder of the kafkajs consumer (pipeline/kafka/kafkajs-consumer-records.ts)
// gives exactly the objects kafkajs 2.2.4's own decoder gives, for every shape of batch: records
// with and without keys, values and headers (repeated names, names an object literal treats
// specially), offsets and timestamps beyond safe integers, log-append time, control and
// transactional batches, batches cut short at the end of a fetch, and compressed batches (which it
// hands to kafkajs's decoder). The fetch decoder is left at the same position.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fastRecordBatchDecoder,
  installRecordBatchDecoder,
  kafkajsBatchParts,
} from '../../../../pipeline/kafka/kafkajs-consumer-records.ts';

const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => {
  buffer: Buffer;
  offset: number;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (b: object) => Promise<{ buffer: Buffer }>;
};
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): unknown };

const { original, partialError, version } = kafkajsBatchParts();
const fast = fastRecordBatchDecoder(original, partialError);

interface Rec {
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, string][];
  offsetDelta: number;
  timestampDelta: number;
}

async function batchBytes(
  recs: Rec[],
  opts: { firstOffset: bigint; firstTimestamp: bigint; compression?: number; attributes?: number },
): Promise<Buffer> {
  const records = recs.map((r) =>
    Record({
      key: r.key,
      value: r.value,
      // kafkajs's record encoder takes an object; repeated names are written as arrays
      headers: r.headers.reduce<Record<string, string | string[]>>((o, [k, v]) => {
        const had = Object.hasOwn(o, k) ? o[k] : undefined;
        const next = had === undefined ? v : ([] as string[]).concat(had, v);
        Object.defineProperty(o, k, { value: next, enumerable: true, writable: true, configurable: true });
        return o;
      }, {}),
      offsetDelta: r.offsetDelta,
      timestampDelta: r.timestampDelta,
    }),
  );
  const enc = await RecordBatch({
    firstOffset: Long.fromValue(opts.firstOffset),
    firstTimestamp: Long.fromValue(opts.firstTimestamp),
    maxTimestamp: Long.fromValue(opts.firstTimestamp + 7n),
    lastOffsetDelta: Math.max(0, recs.length - 1),
    compression: opts.compression ?? 0,
    records,
  });
  const buf = Buffer.from(enc.buffer);
  // attributes (int16) after firstOffset, length, leader epoch, magic and crc
  if (opts.attributes !== undefined) buf.writeInt16BE(buf.readInt16BE(21) | opts.attributes, 21);
  return buf;
}

/** Decodes every batch in `buf` like decodeMessages does; the results and the final offsets. */
async function decodeAll(decode: typeof fast, buf: Buffer) {
  const d = new Decoder(buf);
  const out: unknown[] = [];
  while (d.buffer.length - d.offset >= 49) {
    try {
      out.push(await decode(d));
    } catch (err) {
      out.push({ error: (err as Error).name, message: (err as Error).message });
      break;
    }
  }
  return { out, offset: d.offset };
}

const same = async (buf: Buffer) => {
  const ours = await decodeAll(fast, buf);
  expect(ours).toStrictEqual(await decodeAll(original, buf));
  return ours;
};

const rec = fc.record({
  key: fc.option(
    fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
    { nil: null },
  ),
  value: fc.option(
    fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
    { nil: null },
  ),
  headers: fc.array(
    fc.tuple(
      // 'constructor' has its own test: an own 'constructor' defeats toStrictEqual's type check
      fc.constantFrom('pgcdc-event-id', 'a', 'toString', '__proto__', 'hasOwnProperty', 'é', ''),
      fc.string({ maxLength: 20 }),
    ),
    { maxLength: 4 },
  ),
  offsetDelta: fc.nat(1_000_000),
  timestampDelta: fc.integer({ min: -1_000_000, max: 1_000_000 }),
});

describe('fast kafkajs record batch decoder', () => {
  it('is built against kafkajs 2.2.4', () => {
    expect(version).toBe('2.2.4');
  });

  it("gives kafkajs's objects for every shape of uncompressed batch", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(rec, { maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        fc.oneof(
          fc.bigInt({ min: 0n, max: 2n ** 40n }),
          fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 2n ** 21n }),
        ),
        fc.oneof(
          fc.constant(-1n),
          fc.bigInt({ min: 1_600_000_000_000n, max: 1_900_000_000_000n }),
          fc.bigInt({ min: 2n ** 53n, max: 2n ** 62n }),
        ),
        fc.constantFrom(undefined, 0x8, 0x10, 0x20, 0x38),
        async (batches, firstOffset, firstTimestamp, attributes) => {
          const parts = await Promise.all(
            batches.map((recs, i) =>
              batchBytes(recs, {
                firstOffset: firstOffset + BigInt(i * 1000),
                firstTimestamp,
                ...(attributes !== undefined && { attributes }),
              }),
            ),
          );
          const { out } = await same(Buffer.concat(parts));
          expect(out).toHaveLength(batches.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("folds a header named 'constructor' as kafkajs does", async () => {
    const buf = await batchBytes(
      [
        {
          key: null,
          value: null,
          headers: [
            ['constructor', 'x'],
            ['a', 'y'],
          ],
          offsetDelta: 0,
          timestampDelta: 0,
        },
      ],
      { firstOffset: 1n, firstTimestamp: 1_700_000_000_000n },
    );
    const ours = await decodeAll(fast, buf);
    expect(ours).toEqual(await decodeAll(original, buf));
    const headers = (ours.out[0] as { records: { headers: Record<string, unknown> }[] }).records[0]!.headers;
    expect(headers.constructor).toEqual([Object, Buffer.from('x')]); // kafkajs's fold, quirk included
  });

  it('reads a batch cut short at the end of a fetch as kafkajs does (partial message error, same position)', async () => {
    const whole = await batchBytes(
      [
        {
          key: Buffer.from('k'),
          value: Buffer.alloc(500, 1),
          headers: [['a', 'b']],
          offsetDelta: 0,
          timestampDelta: 0,
        },
      ],
      { firstOffset: 10n, firstTimestamp: 1_700_000_000_000n },
    );
    const two = Buffer.concat([whole, whole]);
    for (const cut of [two.length - 1, two.length - 300, whole.length + 60]) {
      const { out } = await same(two.subarray(0, cut));
      expect(out.at(-1)).toMatchObject({ error: 'KafkaJSPartialMessageError' });
    }
  });

  it("hands compressed batches to kafkajs's decoder", async () => {
    const recs: Rec[] = [
      {
        key: Buffer.from('k1'),
        value: Buffer.from('v1'),
        headers: [['h', 'x']],
        offsetDelta: 0,
        timestampDelta: 0,
      },
      { key: Buffer.from('k2'), value: null, headers: [], offsetDelta: 1, timestampDelta: 3 },
    ];
    const gzip = await batchBytes(recs, {
      firstOffset: 5n,
      firstTimestamp: 1_700_000_000_000n,
      compression: 1,
    });
    const { out } = await same(gzip);
    expect((out[0] as { records: unknown[] }).records).toHaveLength(2);
  });

  it('is installed before the first fetch response decoder loads, and that decoder uses it', async () => {
    expect(installRecordBatchDecoder()).toBe(true);
    expect(installRecordBatchDecoder()).toBe(true); // idempotent
    const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as (
      d: unknown,
    ) => Promise<{ offset: string; headers: Record<string, unknown> }[]>;
    const batch = await batchBytes(
      [
        {
          key: Buffer.from('k'),
          value: Buffer.from('v'),
          headers: [['pgcdc-event-id', '0/1:0']],
          offsetDelta: 0,
          timestampDelta: 1,
        },
      ],
      { firstOffset: 42n, firstTimestamp: 1_700_000_000_000n },
    );
    const size = Buffer.alloc(4);
    size.writeInt32BE(batch.length);
    const messages = await decodeMessages(new Decoder(Buffer.concat([size, batch])));
    expect(messages).toHaveLength(1);
    expect(messages[0]!.offset).toBe('42');
    expect(String(messages[0]!.headers['pgcdc-event-id'])).toBe('0/1:0');
    const installed = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as unknown;
    expect(installed).not.toBe(original);
  });
});
