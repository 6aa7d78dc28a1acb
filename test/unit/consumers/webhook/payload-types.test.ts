// Webhook JSON of every column kind (docs/contracts.md, the type table): numbers where JSON holds
// them exactly, PostgreSQL's text otherwise; json/jsonb spliced verbatim, also inside arrays.
import { describe, expect, it } from 'vitest';
import { renderRow, stringifyPayload } from '../../../../consumers/webhook/payload.ts';
import type { ColumnSpec, PgType, Row } from '../../../../schemas/contract.ts';
import { DATE_POS_INFINITY, TS_POS_INFINITY } from '../../../../schemas/values.ts';

const col = (name: string, pgType: PgType): ColumnSpec => ({ name, sqlType: pgType, pgType, nullable: true });

describe('renderRow: every kind', () => {
  const columns = [
    col('i2', 'smallint'),
    col('i4', 'integer'),
    col('i8', 'bigint'),
    col('n', 'numeric'),
    col('f4', 'real'),
    col('f8', 'double precision'),
    col('nan', 'double precision'),
    col('negzero', 'double precision'),
    col('b', 'boolean'),
    col('d', 'date'),
    col('dinf', 'date'),
    col('t', 'time'),
    col('ts', 'timestamp'),
    col('tsinf', 'timestamp'),
    col('tz', 'timestamptz'),
    col('iv', 'interval'),
    col('u', 'uuid'),
    col('j', 'json'),
    col('jb', 'jsonb[]'),
    col('by', 'bytea'),
    col('ip', 'inet'),
    col('e', 'enum'),
    col('ia', 'integer[]'),
    col('da', 'date[]'),
  ];
  const row: Row = {
    i2: -32768,
    i4: 2147483647,
    i8: 9007199254740993n,
    n: 'NaN',
    f4: 1.5,
    f8: 0.1,
    nan: NaN,
    negzero: -0,
    b: true,
    d: -719163,
    dinf: DATE_POS_INFINITY,
    t: 45_296_500_000n,
    ts: 0n,
    tsinf: TS_POS_INFINITY,
    tz: 0n,
    iv: 'P1Y2M3DT4H5M6.5S',
    u: '0e37df36-f698-11e6-8dd4-cb9ced3df976',
    j: '{"a": 1, "a": 12345678901234567890}',
    jb: ['{"x": [1]}', null],
    by: Buffer.from([0, 255]),
    ip: '10.0.0.1/8',
    e: 'in progress',
    ia: [1, null, -2],
    da: [0, null],
  };

  it('renders each as documented', () => {
    const text = stringifyPayload(renderRow(columns, row));
    expect(text).toBe(
      '{"i2":-32768,"i4":2147483647,"i8":"9007199254740993","n":"NaN","f4":1.5,"f8":0.1,"nan":"NaN","negzero":"-0",' +
        '"b":true,"d":"0000-12-31","dinf":"infinity","t":"12:34:56.500000","ts":"1970-01-01T00:00:00.000000",' +
        '"tsinf":"infinity","tz":"1970-01-01T00:00:00.000000Z","iv":"P1Y2M3DT4H5M6.5S",' +
        '"u":"0e37df36-f698-11e6-8dd4-cb9ced3df976","j":{"a": 1, "a": 12345678901234567890},"jb":[{"x": [1]},null],' +
        '"by":"\\\\x00ff","ip":"10.0.0.1/8","e":"in progress","ia":[1,null,-2],"da":["1970-01-01",null]}',
    );
  });
});
