// schemas/types.ts, the new kinds of schemas/values.ts and temporal.ts, and the Avro decimal: the
// pure half of "every type round-trips" (the PostgreSQL half: test/pipeline/types-roundtrip.int.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { avroType, decimalFromBytes, decimalToBytes } from '../../../schemas/avro.ts';
import {
  DATE_NEG_INFINITY,
  DATE_POS_INFINITY,
  formatDate,
  formatTime,
  formatTimestamp,
  parseDate,
  parseTime,
  parseTimestamp,
} from '../../../schemas/temporal.ts';
import { PG_SCALAR_TYPES, PG_TYPES, parseSqlType, pgTypeOf, type PgType } from '../../../schemas/types.ts';
import { decodeColumn, decodePgText, toSqlParam, unchangedPlaceholder } from '../../../schemas/values.ts';

describe('parseSqlType', () => {
  it.each<[string, PgType, number[]]>([
    ['bigint', 'bigint', []],
    ['int8', 'bigint', []],
    ['INTEGER', 'integer', []],
    ['int4[]', 'integer[]', []],
    ['numeric(12,2)', 'numeric', [12, 2]],
    ['numeric(20, 0)[]', 'numeric[]', [20, 0]],
    ['character varying(100)', 'varchar', [100]],
    ['character(5)[]', 'char[]', [5]],
    ['timestamp(3) with time zone', 'timestamptz', [3]],
    ['timestamptz', 'timestamptz', []],
    ['timestamp without time zone', 'timestamp', []],
    ['time(6) without time zone', 'time', [6]],
    ['double precision', 'double precision', []],
    ['float4', 'real', []],
    ['text[]', 'text[]', []],
    ['citext', 'citext', []],
    ['bytea', 'bytea', []],
  ])('%s -> %s', (sql, kind, typmod) => {
    const p = parseSqlType(sql);
    expect(pgTypeOf(p)).toBe(kind);
    expect(p.typmod).toEqual(typmod);
  });

  it('an enum is whatever its name when the contract marks it', () => {
    expect(pgTypeOf(parseSqlType('public."My Mood"[]', true))).toBe('enum[]');
  });

  it('refuses what it cannot carry, by name', () => {
    expect(() => parseSqlType('money')).toThrow(/unsupported column type "money"/);
    expect(() => parseSqlType('timetz')).toThrow(/unsupported/);
    expect(() => parseSqlType('integer[][]')).toThrow(/multi-dimensional/);
  });

  it('every kind has a descriptor; spellings are unambiguous', () => {
    const names = PG_SCALAR_TYPES.flatMap((k) => PG_TYPES[k].names);
    expect(new Set(names).size).toBe(names.length);
    for (const k of PG_SCALAR_TYPES) expect(PG_TYPES[k].kind).toBe(k);
  });
});

describe('temporal forms', () => {
  it('date: days since 1970, BC, infinities', () => {
    expect(parseDate('1970-01-01')).toBe(0);
    expect(parseDate('2000-02-29')).toBe(11016);
    expect(parseDate('0001-12-31 BC')).toBe(-719163);
    expect(parseDate('infinity')).toBe(DATE_POS_INFINITY);
    expect(parseDate('-infinity')).toBe(DATE_NEG_INFINITY);
    expect(formatDate(-719163)).toBe('0001-12-31 BC');
    expect(formatDate(DATE_NEG_INFINITY)).toBe('-infinity');
  });

  it("date: format . parse is the identity over PostgreSQL's range", () => {
    fc.assert(
      fc.property(fc.integer({ min: -2440588, max: 2145031948 }), (d) => {
        expect(parseDate(formatDate(d))).toBe(d);
      }),
      { numRuns: 2000 },
    );
  });

  it('time: micros since midnight, 24:00:00 included', () => {
    expect(parseTime('00:00:00')).toBe(0n);
    expect(parseTime('24:00:00')).toBe(86_400_000_000n);
    expect(parseTime('12:34:56.5')).toBe(45_296_500_000n);
    expect(formatTime(45_296_500_000n)).toBe('12:34:56.500000');
    fc.assert(
      fc.property(fc.bigInt(0n, 86_400_000_000n), (us) => {
        expect(parseTime(formatTime(us))).toBe(us);
      }),
    );
  });

  it('timestamp: no zone accepted, none printed', () => {
    expect(parseTimestamp('1970-01-01 00:00:00')).toBe(0n);
    expect(() => parseTimestamp('1970-01-01 00:00:00+00')).toThrow(/timestamp/);
    expect(formatTimestamp(-1n)).toBe('1969-12-31 23:59:59.999999');
    expect(formatTimestamp(9223372036854775807n)).toBe('infinity');
    fc.assert(
      fc.property(fc.bigInt(-210866803200000000n, 9223371331200000000n), (us) => {
        expect(parseTimestamp(formatTimestamp(us))).toBe(us);
      }),
    );
  });
});

describe('values of the new kinds', () => {
  it('integers are numbers, range-checked', () => {
    expect(decodePgText('smallint', '-32768')).toBe(-32768);
    expect(decodePgText('integer', '2147483647')).toBe(2147483647);
    expect(() => decodePgText('smallint', '40000')).toThrow(/smallint/);
    expect(toSqlParam('integer', -5)).toBe('-5');
  });

  it('floats: shortest text, NaN, infinities and -0 survive', () => {
    for (const t of ['NaN', 'Infinity', '-Infinity', '-0', '1.1', '5e-324', '1.7976931348623157e+308'])
      expect(toSqlParam('double precision', decodePgText('double precision', t))).toBe(t);
    expect(Object.is(decodePgText('real', '-0'), -0)).toBe(true);
  });

  it('bytea: hex and escape formats in, hex out; zero bytes kept', () => {
    expect(decodePgText('bytea', '\\x00ff00')).toEqual(Buffer.from([0, 255, 0]));
    expect(decodePgText('bytea', 'a\\000\\\\b\\377')).toEqual(Buffer.from([0x61, 0, 0x5c, 0x62, 0xff]));
    expect(toSqlParam('bytea', Buffer.from([0, 1]))).toBe('\\x0001');
    expect(toSqlParam('bytea[]', [Buffer.alloc(0), null])).toEqual(['\\x', null]);
  });

  it('arrays: elements by their kind, NULL elements kept; string kinds pass through', () => {
    expect(decodePgText('integer[]', '{1,NULL,-3}')).toEqual([1, null, -3]);
    expect(decodePgText('date[]', '{1970-01-02,infinity}')).toEqual([1, DATE_POS_INFINITY]);
    expect(decodePgText('boolean[]', '{t,f}')).toEqual([true, false]);
    expect(toSqlParam('boolean[]', [true, null])).toEqual(['t', null]);
    expect(toSqlParam('timestamp[]', [0n])).toEqual(['1970-01-01 00:00:00.000000']);
    expect(() => decodePgText('integer[]', '{{1},{2}}')).toThrow(/multi-dimensional/);
  });

  it('decodeColumn refuses what an Avro decimal cannot hold, and names the way out', () => {
    const spec = { pgType: 'numeric' as const, decimal: { precision: 12, scale: 2 } };
    expect(decodeColumn(spec, '-0.50')).toBe('-0.50');
    expect(() => decodeColumn(spec, 'NaN')).toThrow(/no Avro decimal\(scale 2\) form.*"string"/);
    expect(() => decodeColumn({ ...spec, pgType: 'numeric[]' }, '{1.00,NaN}')).toThrow(/NaN/);
    expect(() => decodeColumn(spec, '1.234')).toThrow(/scale 2/);
    expect(decodeColumn({ pgType: 'numeric' }, 'NaN')).toBe('NaN');
  });

  it.each(PG_SCALAR_TYPES.flatMap((k): PgType[] => [k, `${k}[]`]))(
    '%s: the unchanged placeholder is a valid value of the generated Avro type',
    (t) => {
      const p = parseSqlType(t.replace('enum', 'text'), t.startsWith('enum'));
      const item = PG_TYPES[p.kind].avro(p.kind === 'numeric' ? [12, 2] : []);
      const schema = p.array ? { type: 'array', items: ['null', item] } : item;
      expect(avroType(schema as object).isValid(unchangedPlaceholder(t))).toBe(true);
    },
  );
});

describe('Avro decimal', () => {
  it.each<[string, number, string]>([
    ['0.00', 2, '00'],
    ['1.27', 2, '7f'],
    ['1.28', 2, '0080'],
    ['-1.28', 2, '80'],
    ['-1.29', 2, 'ff7f'],
    ['-0.01', 2, 'ff'],
    ['256', 0, '0100'],
  ])("%s (scale %i) is two's complement %s", (text, scale, hex) => {
    expect(decimalToBytes(text, scale)!.toString('hex')).toBe(hex);
    expect(decimalFromBytes(Buffer.from(hex, 'hex'), scale)).toBe(text);
  });

  it('text -> bytes -> text is the identity (PostgreSQL prints exactly `scale` digits)', () => {
    fc.assert(
      fc.property(fc.bigInt(-(10n ** 40n), 10n ** 40n), fc.integer({ min: 0, max: 20 }), (n, scale) => {
        const digits = (n < 0n ? -n : n).toString().padStart(scale + 1, '0');
        const text = `${n < 0n ? '-' : ''}${digits.slice(0, digits.length - scale)}${scale ? `.${digits.slice(-scale)}` : ''}`;
        expect(decimalFromBytes(decimalToBytes(text, scale)!, scale)).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('an envelope-free decimal field encodes the text and decodes it back', () => {
    const t = avroType({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'd', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }] },
      ],
    });
    expect(t.fromBuffer(t.toBuffer({ d: '-1234567890.12' }))).toEqual({ d: '-1234567890.12' });
    expect(t.isValid({ d: 'NaN' })).toBe(false);
  });
});
