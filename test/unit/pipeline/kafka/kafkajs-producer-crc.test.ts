// The record batch checksum of the kafkajs producer (pipeline/kafka/kafkajs-producer-crc.ts): the
// same CRC32C as kafkajs 2.2.4's own for every input, and the standard check value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, kafkajsCrc32c } from '../../../../pipeline/kafka/kafkajs-producer-crc.ts';

const theirs = kafkajsCrc32c();

describe('CRC32C, eight bytes per step', () => {
  it('has the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(theirs(Buffer.alloc(0)));
  });

  it('equals kafkajs for any bytes, lengths and offsets into a larger buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(7), (bytes, skip) => {
        const buf = Buffer.from(bytes).subarray(Math.min(skip, bytes.length));
        expect(crc32c(buf)).toBe(theirs(buf));
      }),
      { numRuns: 500 },
    );
  });

  it('equals kafkajs on a record batch sized buffer', () => {
    const buf = Buffer.alloc(600_000);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
    expect(crc32c(buf)).toBe(theirs(buf));
  });
});
