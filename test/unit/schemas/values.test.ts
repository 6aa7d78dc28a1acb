// schemas/values.ts: PostgreSQL text <-> domain values <-> SQL parameters. Expected values were
// worked out independently of the code under test (proleptic Gregorian day counts, PostgreSQL's
// documented text output with DateStyle=ISO), so a shared mistake cannot hide.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PgType } from '../../../schemas/contract.ts';
import {
  TS_NEG_INFINITY,
  TS_POS_INFINITY,
  decodePgText,
  formatTimestamptz,
  parseTimestamptz,
  toSqlParam,
} from '../../../schemas/values.ts';

/** What PostgreSQL prints for a formatTimestamptz() literal: trailing fractional zeros are trimmed. */
const asPgPrints = (formatted: string) => formatted.replace(/\.?0+(?=\+00)/, '');

describe('parseTimestamptz / formatTimestamptz', () => {
  // input: as PostgreSQL prints it in some session time zone (DateStyle=ISO);
  // utc: what PostgreSQL prints for the same instant with TimeZone=UTC (the walsender's setting).
  const table: { what: string; input: string; micros: bigint; utc: string }[] = [
    { what: 'epoch', input: '1970-01-01 00:00:00+00', micros: 0n, utc: '1970-01-01 00:00:00+00' },
    {
      what: 'one microsecond before the epoch',
      input: '1969-12-31 23:59:59.999999+00',
      micros: -1n,
      utc: '1969-12-31 23:59:59.999999+00',
    },
    {
      what: 'PostgreSQL epoch',
      input: '2000-01-01 00:00:00+00',
      micros: 946684800000000n,
      utc: '2000-01-01 00:00:00+00',
    },
    {
      what: 'microseconds, +05:30 (Asia/Kolkata), leap day',
      input: '2024-02-29 12:34:56.789012+05:30',
      micros: 1709190296789012n,
      utc: '2024-02-29 07:04:56.789012+00',
    },
    {
      what: '-08 (PST)',
      input: '2024-01-01 00:00:00-08',
      micros: 1704096000000000n,
      utc: '2024-01-01 08:00:00+00',
    },
    {
      what: 'trimmed fraction, -07 (PDT)',
      input: '2024-07-01 09:30:00.5-07',
      micros: 1719851400500000n,
      utc: '2024-07-01 16:30:00.5+00',
    },
    {
      what: '-03:30 (Newfoundland), sign applies to the minutes too',
      input: '2021-06-01 12:00:00.5-03:30',
      micros: 1622561400500000n,
      utc: '2021-06-01 15:30:00.5+00',
    },
    {
      what: 'seconds in the offset (Paris LMT)',
      input: '1900-01-01 00:00:00+00:09:21',
      micros: -2208989361000000n,
      utc: '1899-12-31 23:50:39+00',
    },
    {
      what: 'negative offset with seconds (New York LMT)',
      input: '1883-11-18 12:00:00-04:56:02',
      micros: -2717651038000000n,
      utc: '1883-11-18 16:56:02+00',
    },
    {
      what: 'year 1',
      input: '0001-01-01 00:00:00+00',
      micros: -62135596800000000n,
      utc: '0001-01-01 00:00:00+00',
    },
    {
      what: 'last microsecond of 1 BC (there is no year 0)',
      input: '0001-12-31 23:59:59.999999+00 BC',
      micros: -62135596800000001n,
      utc: '0001-12-31 23:59:59.999999+00 BC',
    },
    {
      what: 'Ides of March 44 BC',
      input: '0044-03-15 12:00:00+00 BC',
      micros: -63517780800000000n,
      utc: '0044-03-15 12:00:00+00 BC',
    },
    {
      what: 'BC with an offset',
      input: '0044-03-15 13:00:00+01 BC',
      micros: -63517780800000000n,
      utc: '0044-03-15 12:00:00+00 BC',
    },
    {
      what: "PostgreSQL's minimum (4714-11-24 BC)",
      input: '4714-11-24 00:00:00+00 BC',
      micros: -210866803200000000n,
      utc: '4714-11-24 00:00:00+00 BC',
    },
    {
      what: 'year 9999',
      input: '9999-12-31 23:59:59.999999+00',
      micros: 253402300799999999n,
      utc: '9999-12-31 23:59:59.999999+00',
    },
    {
      what: 'five-digit year',
      input: '10000-01-01 00:00:00+00',
      micros: 253402300800000000n,
      utc: '10000-01-01 00:00:00+00',
    },
    {
      what: 'a single fractional digit is tenths',
      input: '2024-05-06 07:08:09.1+00',
      micros: 1714979289100000n,
      utc: '2024-05-06 07:08:09.1+00',
    },
    {
      what: 'one microsecond',
      input: '2024-05-06 07:08:09.000001+00',
      micros: 1714979289000001n,
      utc: '2024-05-06 07:08:09.000001+00',
    },
  ];

  it.each(table)('$what: $input', ({ input, micros, utc }) => {
    expect(parseTimestamptz(input)).toBe(micros);
    expect(parseTimestamptz(utc)).toBe(micros);
    const formatted = formatTimestamptz(micros);
    // Always UTC, six fractional digits, BC suffix: a literal PostgreSQL reads back exactly.
    expect(formatted).toMatch(/^\d{4,}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00( BC)?$/);
    expect(asPgPrints(formatted)).toBe(utc);
    expect(parseTimestamptz(formatted)).toBe(micros);
  });

  it("maps 'infinity' / '-infinity' to the extremes of Avro long, and back", () => {
    expect(parseTimestamptz('infinity')).toBe(TS_POS_INFINITY);
    expect(parseTimestamptz('-infinity')).toBe(TS_NEG_INFINITY);
    expect(TS_POS_INFINITY).toBe(2n ** 63n - 1n);
    expect(TS_NEG_INFINITY).toBe(-(2n ** 63n));
    expect(formatTimestamptz(TS_POS_INFINITY)).toBe('infinity');
    expect(formatTimestamptz(TS_NEG_INFINITY)).toBe('-infinity');
  });

  it('accepts the T separator and a missing offset (UTC)', () => {
    expect(parseTimestamptz('2000-01-01T00:00:00+00')).toBe(946684800000000n);
    expect(parseTimestamptz('2000-01-01 00:00:00')).toBe(946684800000000n);
  });

  // PostgreSQL's range ends at 294276-12-31 23:59:59.999999 UTC, but microseconds since 1970 fit a
  // signed 64-bit long (the contract's Avro type) only up to 294247-01-10 04:00:54.775807, and that
  // last value is the 'infinity' sentinel.
  it('formats the far end of PostgreSQL range (pure bigint arithmetic)', () => {
    expect(formatTimestamptz(9224318015999999999n)).toBe('294276-12-31 23:59:59.999999+00');
    expect(formatTimestamptz(TS_POS_INFINITY - 1n)).toBe('294247-01-10 04:00:54.775806+00');
  });

  it('rejects finite timestamps the contract cannot carry instead of turning them into infinity', () => {
    expect(parseTimestamptz('294247-01-10 04:00:54.775806+00')).toBe(TS_POS_INFINITY - 1n);
    expect(() => parseTimestamptz('294247-01-10 04:00:54.775807+00')).toThrow(/beyond the range/);
    expect(() => parseTimestamptz('294276-12-31 23:59:59.999999+00')).toThrow(/beyond the range/);
  });

  it.each([
    '',
    'now',
    'epoch',
    '2024-01-01',
    '2024-01-01 00:00:00 PST',
    '24-01-01 00:00:00+00',
    '2024-01-01 00:00+00',
  ])('rejects %j', (text) => {
    expect(() => parseTimestamptz(text)).toThrow(/timestamptz/);
  });

  const micros = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n });

  it('round-trips any instant within ±2^62 µs (property)', () => {
    fc.assert(
      fc.property(micros, (us) => {
        const text = formatTimestamptz(us);
        expect(parseTimestamptz(text)).toBe(us);
        expect(formatTimestamptz(parseTimestamptz(text))).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the same instant written in any UTC offset (property)', () => {
    // PostgreSQL prints offsets down to the second (LMT zones) and accepts up to ±15:59:59.
    const offsetSecs = fc.integer({ min: -(16 * 3600 - 1), max: 16 * 3600 - 1 });
    fc.assert(
      fc.property(micros, offsetSecs, (us, off) => {
        const local = formatTimestamptz(us + BigInt(off) * 1_000_000n);
        const abs = Math.abs(off);
        const hh = String(Math.floor(abs / 3600)).padStart(2, '0');
        const mm = String(Math.floor((abs % 3600) / 60)).padStart(2, '0');
        const ss = String(abs % 60).padStart(2, '0');
        const text = local.replace('+00', `${off < 0 ? '-' : '+'}${hh}:${mm}:${ss}`);
        expect(parseTimestamptz(text)).toBe(us);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('decodePgText', () => {
  it('bigint: exact beyond 2^53, both extremes', () => {
    expect(decodePgText('bigint', '9007199254740993')).toBe(9007199254740993n);
    expect(decodePgText('bigint', '9223372036854775807')).toBe(9223372036854775807n);
    expect(decodePgText('bigint', '-9223372036854775808')).toBe(-9223372036854775808n);
    expect(decodePgText('bigint', '0')).toBe(0n);
  });

  it("boolean: PostgreSQL's t/f, nothing else", () => {
    expect(decodePgText('boolean', 't')).toBe(true);
    expect(decodePgText('boolean', 'f')).toBe(false);
    expect(() => decodePgText('boolean', 'true')).toThrow(/boolean/);
    expect(() => decodePgText('boolean', '')).toThrow(/boolean/);
  });

  it.each([
    '{}',
    '[]',
    '{"a": [1, 2.50, null], "b": {"c": "é😀"}, "d": "\\u0000-free \\"quoted\\""}',
    '"just a string"',
    '12345678901234567890.000000000000000000001',
    'null',
  ])('jsonb: keeps the text verbatim: %s', (json) => {
    expect(decodePgText('jsonb', json)).toBe(json);
  });

  it.each([
    '0.00',
    '-0.01',
    '1234567890.12',
    'NaN',
    'Infinity',
    '-Infinity',
    '123456789012345678901234567890.123456789012345678901234567890',
  ])('numeric: keeps the exact decimal text: %s', (num) => {
    expect(decodePgText('numeric', num)).toBe(num);
  });

  it.each(['', ' ', 'plain', "O'Reilly", 'back\\slash', 'line\nbreak\ttab', 'héllo wörld', '😀👩‍👩‍👧', 'NULL'])(
    'text: verbatim %j',
    (s) => {
      expect(decodePgText('text', s)).toBe(s);
    },
  );

  // Left: PostgreSQL's array_out text (it quotes empty strings, NULL look-alikes, delimiters, quotes,
  // backslashes, braces and whitespace; it does not quote non-ASCII).
  it.each<[string, (string | null)[]]>([
    ['{}', []],
    ['{a}', ['a']],
    ['{a,b,c}', ['a', 'b', 'c']],
    ['{NULL}', [null]],
    ['{a,NULL,b}', ['a', null, 'b']],
    ['{NULL,"NULL","null"}', [null, 'NULL', 'null']],
    ['{""}', ['']],
    ['{"",""}', ['', '']],
    ['{"a,b","c d"}', ['a,b', 'c d']],
    ['{"say \\"hi\\""}', ['say "hi"']],
    ['{"back\\\\slash"}', ['back\\slash']],
    ['{"\\\\"}', ['\\']],
    ['{"\\""}', ['"']],
    ['{"{braces}"}', ['{braces}']],
    ['{" lead","trail "}', [' lead', 'trail ']],
    ['{héllo,😀,日本語}', ['héllo', '😀', '日本語']],
    ['{"a\\\\\\"b",NULL,""}', ['a\\"b', null, '']],
  ])('text[]: %s', (text, expected) => {
    expect(decodePgText('text[]', text)).toEqual(expected);
  });

  it('text[]: an array with explicit bounds keeps its elements (the bounds are not carried)', () => {
    expect(decodePgText('text[]', '[0:1]={a,b}')).toEqual(['a', 'b']);
  });

  it('text[]: rejects multi-dimensional arrays', () => {
    expect(() => decodePgText('text[]', '{{a,b},{c,d}}')).toThrow(/multi-dimensional/);
  });

  it('timestamptz: parses to micros, sentinels included', () => {
    expect(decodePgText('timestamptz', '2024-02-29 07:04:56.789012+00')).toBe(1709190296789012n);
    expect(decodePgText('timestamptz', 'infinity')).toBe(TS_POS_INFINITY);
    expect(decodePgText('timestamptz', '-infinity')).toBe(TS_NEG_INFINITY);
  });
});

describe('toSqlParam', () => {
  const types: PgType[] = ['bigint', 'text', 'boolean', 'jsonb', 'text[]', 'numeric', 'timestamptz'];

  it.each(types)('%s: SQL NULL stays null', (t) => {
    expect(toSqlParam(t, null)).toBeNull();
  });

  it('bigint: decimal text (exact beyond 2^53)', () => {
    expect(toSqlParam('bigint', 9007199254740993n)).toBe('9007199254740993');
    expect(toSqlParam('bigint', -9223372036854775808n)).toBe('-9223372036854775808');
  });

  it('timestamptz: a UTC literal, sentinels as infinity', () => {
    expect(toSqlParam('timestamptz', 0n)).toBe('1970-01-01 00:00:00.000000+00');
    expect(toSqlParam('timestamptz', -63517780800000000n)).toBe('0044-03-15 12:00:00.000000+00 BC');
    expect(toSqlParam('timestamptz', TS_POS_INFINITY)).toBe('infinity');
    expect(toSqlParam('timestamptz', TS_NEG_INFINITY)).toBe('-infinity');
  });

  it('text, jsonb, numeric, boolean, text[] pass through unchanged', () => {
    const arr = ['a', null, '', 'c,d'];
    expect(toSqlParam('text', 'x')).toBe('x');
    expect(toSqlParam('jsonb', '{"a": 1}')).toBe('{"a": 1}');
    expect(toSqlParam('numeric', 'NaN')).toBe('NaN');
    expect(toSqlParam('boolean', false)).toBe(false);
    expect(toSqlParam('text[]', arr)).toBe(arr);
  });

  it.each<[PgType, string]>([
    ['bigint', '-9223372036854775808'],
    ['boolean', 't'],
    ['numeric', '123456789012345678901234567890.000000000000000000001'],
    ['jsonb', '{"k": [true, null]}'],
    ['timestamptz', '2024-02-29 07:04:56.789012+00'],
    ['timestamptz', '0044-03-15 12:00:00+00 BC'],
  ])('pgoutput text -> value -> parameter denotes the same %s', (t, text) => {
    const param = toSqlParam(t, decodePgText(t, text));
    if (t === 'timestamptz') expect(parseTimestamptz(param as string)).toBe(parseTimestamptz(text));
    else if (t === 'boolean') expect(param).toBe(true);
    else expect(param).toBe(text);
  });
});
