// schemas/avro.ts framedEncoder: the producer's allocation-free Confluent framing gives exactly the
// bytes of toWire(id, type.toBuffer(value)) for any event of the contract, also for values larger
// than a slab, and a message once returned never changes when later ones are encoded. And the
// fast path of schemas/temporal.ts timestamp parsing (doubles for four-digit years) against Date.UTC.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { avroType, framedEncoder, fromWire, toWire } from '../../../schemas/avro.ts';
import { parseTimestamp, parseTimestamptz } from '../../../schemas/temporal.ts';

const type = avroType({
  type: 'record',
  name: 'Framed',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'lsn', type: { type: 'long', logicalType: 'pg-lsn' } },
    { name: 'text', type: ['null', 'string'] },
    { name: 'n', type: 'int' },
  ],
});

const value = fc.record({
  id: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  lsn: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
  text: fc.option(fc.string({ maxLength: 2000 }), { nil: null }),
  n: fc.integer(),
});

describe('framedEncoder', () => {
  it('writes the bytes toWire(id, type.toBuffer(value)) writes; earlier messages stay intact (property)', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 60 }), (values) => {
        const encode = framedEncoder(7, type);
        const out = values.map((v) => encode(v));
        const expected = values.map((v) => toWire(7, type.toBuffer(v)));
        expect(out.map((b) => b.toString('hex'))).toEqual(expected.map((b) => b.toString('hex')));
      }),
    );
  });

  it('a value larger than a slab gets a slab of its own; the next ones follow', () => {
    const encode = framedEncoder(1_000_001, type);
    const big = { id: 1n, lsn: 2n, text: 'x'.repeat(600_000), n: 3 };
    const small = { id: -5n, lsn: 9n, text: 'é', n: -1 };
    const [a, b, c] = [encode(small), encode(big), encode(small)];
    for (const [buf, v] of [
      [a, small],
      [b, big],
      [c, small],
    ] as const) {
      const { schemaId, payload } = fromWire(buf);
      expect(schemaId).toBe(1_000_001);
      expect(type.fromBuffer(payload)).toEqual(v);
    }
  });
});

describe('parseTimestamptz / parseTimestamp fast path (years 0001..9999)', () => {
  const two = (n: number) => String(n).padStart(2, '0');
  it('equals the calendar arithmetic of Date.UTC for any instant, offset and fraction (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 28 }),
        fc.integer({ min: 0, max: 86_399 }),
        fc.option(fc.integer({ min: 0, max: 999_999 }), { nil: undefined }),
        fc.option(fc.integer({ min: -15 * 60, max: 15 * 60 }), { nil: undefined }),
        (y, mo, d, daySecs, micros, offsetMin) => {
          const [h, mi, s] = [Math.floor(daySecs / 3600), Math.floor(daySecs / 60) % 60, daySecs % 60];
          const frac = micros === undefined ? '' : `.${String(micros).padStart(6, '0')}`;
          const zone =
            offsetMin === undefined
              ? ''
              : `${offsetMin < 0 ? '-' : '+'}${two(Math.floor(Math.abs(offsetMin) / 60))}:${two(Math.abs(offsetMin) % 60)}`;
          const text = `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)} ${two(h)}:${two(mi)}:${two(s)}${frac}`;
          const utcMs = BigInt(Date.UTC(y, mo - 1, d, h, mi, s));
          const wall = utcMs * 1000n + BigInt(micros ?? 0);
          expect(parseTimestamp(text)).toBe(wall);
          expect(parseTimestamptz(`${text}${zone}`)).toBe(wall - BigInt(offsetMin ?? 0) * 60_000_000n);
        },
      ),
    );
  });
});
