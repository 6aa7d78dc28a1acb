// Every column type the contract carries (schemas/types.ts), for tests: the SQL type, what a test
// database needs for it (an extension, an enum), generated values as PostgreSQL input text and the
// awkward values every run includes (NaN/±Infinity, infinity timestamps, empty arrays, NULL,
// quotes and backslashes in arrays, 4-byte UTF-8, bytea with zero bytes).
import fc from 'fast-check';
import { arrayLiteral } from '../../consumers/postgres/sql.ts';

export interface TypeCase {
  /** column name in the all-types table */
  column: string;
  sqlType: string;
  /** values as PostgreSQL input text (never NULL: tests add NULL themselves) */
  values: fc.Arbitrary<string>;
  awkward: string[];
}

/** Run once per database before the types are used. */
export const TYPES_SETUP_SQL = [
  'CREATE EXTENSION IF NOT EXISTS citext',
  `DO $$ BEGIN CREATE TYPE mood AS ENUM ('sad', 'ok', 'in progress', 'O''Brien', 'é🚀', 'with "quotes"', 'back\\slash', 'NULL', '{curly}'); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
];

export const MOOD_LABELS = [
  'sad',
  'ok',
  'in progress',
  "O'Brien",
  'é🚀',
  'with "quotes"',
  'back\\slash',
  'NULL',
  '{curly}',
];

const noNul = (s: string) => !s.includes('\u0000');
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).filter(noNul),
  fc.constantFrom('', ' ', 'NULL', '"', '\\', '{a,b}', "O'Reilly", '😀👩‍👩‍👧', '\t\n'),
);
const pad2 = (n: number) => String(n).padStart(2, '0');

const decimal = (intDigits: number, scale: number) =>
  fc
    .tuple(
      fc.boolean(),
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: intDigits }),
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: scale, maxLength: scale }),
    )
    .map(([neg, i, f]) => `${neg ? '-' : ''}${i}${scale > 0 ? `.${f}` : ''}`);

const floatText = (n: number) => (Object.is(n, -0) ? '-0' : String(n));
const micros = (min: bigint, max: bigint) => fc.bigInt(min, max);
const TS_MIN = -210866803200000000n; // 4714-11-24 00:00:00 BC, PostgreSQL's first timestamp
const TS_MAX = 9223371331200000000n; // 294247-01-01: the contract's last microsecond is before 294247-01-10
const tsLiteral = (us: bigint, zone: string) => {
  // epoch + interval: PostgreSQL computes the calendar date itself (no shared formatter)
  const secs = us / 1_000_000n;
  const frac = us % 1_000_000n;
  return `epoch+${secs}s${frac}us${zone}`;
};

export const TYPE_CASES: TypeCase[] = [
  {
    column: 'c_smallint',
    sqlType: 'smallint',
    values: fc.integer({ min: -32768, max: 32767 }).map(String),
    awkward: ['-32768', '32767', '0'],
  },
  {
    column: 'c_integer',
    sqlType: 'integer',
    values: fc.integer().map(String),
    awkward: ['-2147483648', '2147483647'],
  },
  {
    column: 'c_bigint',
    sqlType: 'bigint',
    values: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String),
    awkward: ['-9223372036854775808', '9223372036854775807', '9007199254740993'],
  },
  {
    column: 'c_numeric',
    sqlType: 'numeric',
    values: fc.oneof(
      decimal(40, 0),
      decimal(20, 10),
      fc.constantFrom('NaN', 'Infinity', '-Infinity', '0.000000'),
    ),
    awkward: [
      'NaN',
      'Infinity',
      '-Infinity',
      '-0.0100',
      '123456789012345678901234567890.123456789012345678901234567890',
    ],
  },
  {
    column: 'c_numeric_p',
    sqlType: 'numeric(12,2)',
    values: decimal(10, 2),
    awkward: ['0.00', '-0.01', '9999999999.99', '-9999999999.99'],
  },
  {
    column: 'c_numeric_p0',
    sqlType: 'numeric(20,0)',
    values: decimal(20, 0),
    awkward: ['0', '-99999999999999999999'],
  },
  {
    column: 'c_real',
    sqlType: 'real',
    values: fc.float().map(floatText),
    awkward: ['NaN', 'Infinity', '-Infinity', '-0', '1.1', '3.4028235e+38', '1e-45'],
  },
  {
    column: 'c_double',
    sqlType: 'double precision',
    values: fc.double().map(floatText),
    awkward: ['NaN', 'Infinity', '-Infinity', '-0', '0.1', '1.7976931348623157e+308', '5e-324'],
  },
  { column: 'c_text', sqlType: 'text', values: text, awkward: ['', '🚀𝄞', 'x'.repeat(10_000)] },
  {
    column: 'c_varchar',
    sqlType: 'character varying(20)',
    values: text.filter((s) => [...s].length <= 20),
    awkward: ['', '🚀'.repeat(20)],
  },
  {
    column: 'c_char',
    sqlType: 'character(5)',
    values: text.filter((s) => [...s].length <= 5 && !/\s$/.test(s)),
    awkward: ['', 'ab', '🚀🚀🚀🚀🚀'],
  },
  { column: 'c_citext', sqlType: 'citext', values: text, awkward: ['MiXeD', ''] },
  {
    column: 'c_boolean',
    sqlType: 'boolean',
    values: fc.boolean().map((b) => (b ? 't' : 'f')),
    awkward: ['t', 'f'],
  },
  {
    column: 'c_date',
    sqlType: 'date',
    values: fc.integer({ min: -2440000, max: 2_140_000_000 }).map((d) => `epoch+${d}d`),
    awkward: ['infinity', '-infinity', '0001-01-01 BC', '4714-11-24 BC', '2000-02-29', '5874897-12-31'],
  },
  {
    column: 'c_time',
    sqlType: 'time without time zone',
    values: fc.bigInt(0n, 86_400_000_000n).map((us) => {
      const s = Number(us / 1_000_000n);
      return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}.${String(us % 1_000_000n).padStart(6, '0')}`;
    }),
    awkward: ['00:00:00', '24:00:00', '23:59:59.999999'],
  },
  {
    column: 'c_time3',
    sqlType: 'time(3) without time zone',
    values: fc.integer({ min: 0, max: 86_399_999 }).map((ms) => {
      const s = Math.floor(ms / 1000);
      return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}.${String(ms % 1000).padStart(3, '0')}`;
    }),
    awkward: ['12:00:00.5'],
  },
  {
    column: 'c_timestamp',
    sqlType: 'timestamp without time zone',
    values: micros(TS_MIN, TS_MAX).map((us) => tsLiteral(us, '')),
    awkward: [
      'infinity',
      '-infinity',
      '4714-11-24 00:00:00 BC',
      '0044-03-15 12:00:00.000001 BC',
      '294246-12-31 23:59:59.999999',
    ],
  },
  {
    column: 'c_timestamptz',
    sqlType: 'timestamp with time zone',
    values: micros(TS_MIN, TS_MAX).map((us) => tsLiteral(us, 'tz')),
    awkward: ['infinity', '-infinity', '2000-02-29 12:34:56.5+05:30', '1999-12-31 23:59:59.999999-08'],
  },
  {
    column: 'c_interval',
    sqlType: 'interval',
    values: fc
      .tuple(
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.bigInt(-(10n ** 15n), 10n ** 15n),
      )
      .map(([m, d, us]) => `${m} months ${d} days ${us} microseconds`),
    awkward: ['0', '-1 year -2 months +3 days -04:05:06.5', '1 day -1 second', '178000000 years'],
  },
  {
    column: 'c_uuid',
    sqlType: 'uuid',
    values: fc.uuid(),
    awkward: ['00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'],
  },
  {
    column: 'c_json',
    sqlType: 'json',
    values: fc.json().filter((j) => !j.includes('\\u0000')),
    awkward: [
      '{"b": 1,   "a": [1, 2.50, null], "a": "dup"}',
      '  "  spaced "  ',
      '12345678901234567890.5',
      '{"🚀": "\\ud83d\\ude80"}',
    ],
  },
  {
    column: 'c_jsonb',
    sqlType: 'jsonb',
    values: fc.json().filter((j) => !j.includes('\\u0000')),
    awkward: ['{}', '[]', 'null', '{"n": 12345678901234567890.5, "s": "é\\"\\\\"}'],
  },
  {
    column: 'c_bytea',
    sqlType: 'bytea',
    values: fc.uint8Array({ maxLength: 64 }).map((b) => `\\x${Buffer.from(b).toString('hex')}`),
    awkward: ['\\x', '\\x00', '\\x0000ff00', `\\x${'00'.repeat(5000)}`],
  },
  {
    column: 'c_inet',
    sqlType: 'inet',
    values: fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, m]) => `${ip}/${m}`),
    ),
    awkward: ['::1', '::ffff:1.2.3.4', '10.0.0.1/8', '2001:db8::/32'],
  },
  {
    column: 'c_cidr',
    sqlType: 'cidr',
    values: fc
      .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
      .map(([n, m]) => {
        const net = m === 0 ? 0 : (n >>> (32 - m)) << (32 - m);
        const u = net >>> 0;
        return `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}/${m}`;
      }),
    awkward: ['0.0.0.0/0', '2001:db8::/32', '::/0', '10.1.2.3/32'],
  },
  { column: 'c_enum', sqlType: 'mood', values: fc.constantFrom(...MOOD_LABELS), awkward: MOOD_LABELS },
];

/** The array variant of a case: one-dimensional arrays (empty, NULL elements) of its values. */
export function arrayCase(c: TypeCase): TypeCase {
  const items = fc.array(fc.option(fc.oneof(c.values, fc.constantFrom(...c.awkward)), { nil: null }), {
    maxLength: 6,
  });
  return {
    column: `${c.column}_arr`,
    sqlType: `${c.sqlType}[]`,
    values: items.map(arrayLiteral),
    awkward: ['{}', '{NULL}', arrayLiteral([null, ...c.awkward.slice(0, 3).filter((a) => a.length < 200)])],
  };
}

export const ALL_TYPE_CASES: TypeCase[] = [...TYPE_CASES, ...TYPE_CASES.map(arrayCase)];

/** An SQL expression of a case's input text `x` (`epoch+...` forms computed by PostgreSQL, also in arrays). */
export function valueSql(x: string, sqlType: string): string {
  return sqlType.endsWith('[]')
    ? `ARRAY(SELECT pgcdc_test_value(y) FROM unnest(${x}::text[]) WITH ORDINALITY AS w(y, j) ORDER BY j)::${sqlType}`
    : `pgcdc_test_value(${x})::${sqlType}`;
}

/** Turns the `epoch+<n>d` / `epoch+<s>s<us>us[tz]` shorthands into literals, other text as is. */
export const TEST_VALUE_FUNCTION = `
CREATE OR REPLACE FUNCTION pgcdc_test_value(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE m text[];
BEGIN
  m := regexp_match(t, '^epoch\\+(-?\\d+)d$');
  IF m IS NOT NULL THEN RETURN (DATE '1970-01-01' + m[1]::int)::text; END IF;
  m := regexp_match(t, '^epoch\\+(-?\\d+)s(-?\\d+)us(tz)?$');
  IF m IS NOT NULL THEN
    RETURN CASE WHEN m[3] IS NULL
      THEN (TIMESTAMP '1970-01-01' + make_interval(secs => m[1]::double precision) + make_interval(secs => m[2]::int / 1e6))::text
      ELSE (TIMESTAMPTZ '1970-01-01 00:00:00+00' + make_interval(secs => m[1]::double precision) + make_interval(secs => m[2]::int / 1e6))::text
    END;
  END IF;
  RETURN t;
END $f$`;
