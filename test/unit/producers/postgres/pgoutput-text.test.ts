// The pgoutput reader's text decoding (producers/postgres/pgoutput-text.ts): the same strings as
// the TextDecoder it replaces, for any bytes (valid UTF-8, invalid sequences, a leading BOM), and
// installed on the reader the replication stream parses with.
import fc from 'fast-check';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeUtf8, installPgoutputTextDecoder } from '../../../../producers/postgres/pgoutput-text.ts';

const decoder = new TextDecoder();

describe('pgoutput text decoding', () => {
  it('equals TextDecoder for arbitrary bytes, including invalid UTF-8', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        expect(decodeUtf8(buf)).toBe(decoder.decode(buf));
      }),
      { numRuns: 3000 },
    );
  });

  it('equals TextDecoder for any string, with or without a byte order mark, in a larger buffer', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.boolean(), (s, bom) => {
        const whole = Buffer.from(`xx${bom ? '\uFEFF' : ''}${s}`, 'utf8');
        const view = whole.subarray(2);
        expect(decodeUtf8(view)).toBe(decoder.decode(view));
      }),
      { numRuns: 2000 },
    );
    expect(decodeUtf8(Buffer.from('\uFEFFa'))).toBe('a'); // as TextDecoder: the BOM is dropped
    expect(decodeUtf8(new Uint8Array([0x61, 0xc3, 0xa9]))).toBe('aé');
  });

  it('is installed on the reader pg-logical-replication parses pgoutput with', () => {
    expect(installPgoutputTextDecoder()).toBe(true);
    const require = createRequire(import.meta.url);
    const main = require.resolve('pg-logical-replication');
    const { BinaryReader } = require(
      path.join(path.dirname(main), 'output-plugins/pgoutput/binary-reader.js'),
    ) as { BinaryReader: { prototype: { decodeText: unknown } } };
    expect(BinaryReader.prototype.decodeText).toBe(decodeUtf8);
  });
});
