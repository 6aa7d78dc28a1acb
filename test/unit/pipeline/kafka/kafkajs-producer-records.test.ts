// The fast record encoder of the kafkajs producer (pipeline/kafka/kafkajs-producer-records.ts)
// writes exactly the bytes kafkajs 2.2.4's own record encoder writes, for every shape of message
// the publisher sends (events, tombstones with their headers, truncates), and hands every other
// shape to kafkajs's encoder.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fastRecordEncoder,
  kafkajsRecordParts,
  type RecordInput,
} from '../../../../pipeline/kafka/kafkajs-producer-records.ts';

const { original, encoderPrototype, version } = kafkajsRecordParts();
const fast = fastRecordEncoder(original, encoderPrototype);
const bytes = (r: RecordInput) => Buffer.from(original(r).buffer);

describe('fast kafkajs record encoder', () => {
  it('is built against kafkajs 2.2.4', () => {
    expect(version).toBe('2.2.4');
  });

  it('writes the same bytes as kafkajs for the messages the publisher sends', () => {
    const header = fc.string({ unit: 'grapheme', maxLength: 40 });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 20 }),
        fc.option(fc.uint8Array({ minLength: 0, maxLength: 9000 }), { nil: null }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 30 }), header, { maxKeys: 5 }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: -100_000, max: 100_000 }),
        (key, value, headers, offsetDelta, timestampDelta) => {
          const r: RecordInput = {
            key: Buffer.from(key),
            value: value === null ? null : Buffer.from(value),
            headers,
            offsetDelta,
            timestampDelta,
          };
          const ours = fast(r);
          expect(Object.getPrototypeOf(ours)).toBe(encoderPrototype);
          expect(ours.buffer.equals(bytes(r))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles defaults, an empty header value and a slice of a larger buffer', () => {
    const slab = Buffer.from('xxxxKEYVALUEyyyy');
    const shapes: RecordInput[] = [
      { key: slab.subarray(4, 7), value: slab.subarray(7, 12) },
      { key: Buffer.alloc(0), value: null, headers: { a: '' } },
      { key: Buffer.from([1]), value: Buffer.alloc(5000, 7), headers: { 'pgcdc-event-id': '0/16B3748:0' } },
    ];
    for (const r of shapes) expect(fast(r).buffer.equals(bytes(r))).toBe(true);
  });

  it("hands other shapes to kafkajs's encoder", () => {
    const shapes: RecordInput[] = [
      { key: 'text key', value: Buffer.from('v') },
      { key: Buffer.from('k'), value: 'text value' },
      { key: Buffer.from('k'), value: null, headers: { a: ['1', '2'] } },
      { key: Buffer.from('k'), value: null, headers: { a: Buffer.from('x') } },
      { key: Buffer.from('k'), value: null, timestampDelta: 2 ** 40 },
    ];
    for (const r of shapes) expect(fast(r).buffer.equals(bytes(r))).toBe(true);
  });
});
