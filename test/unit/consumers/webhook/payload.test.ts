// consumers/webhook/payload.ts: change event -> versioned JSON payload. Values must survive
// losslessly: 64-bit ids and numerics as strings, timestamps as ISO-8601 with microseconds, jsonb
// spliced in verbatim (a JSON.parse round trip would round big numbers).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildPayload,
  eventType,
  isoTimestamp,
  renderBody,
  stringifyPayload,
} from '../../../../consumers/webhook/payload.ts';
import { loadContract, type ChangeEvent, type Row } from '../../../../schemas/contract.ts';
import { TS_NEG_INFINITY, TS_POS_INFINITY } from '../../../../schemas/values.ts';
import { changeEvent } from '../../support/events.ts';

const { columns } = loadContract();

const row = (over: Partial<Row> = {}): Row => ({
  id: 9007199254740993n, // 2^53 + 1: not representable as a JS number
  email: 'ada@example.com',
  username: 'ada',
  first_name: 'Ada',
  middle_name: null,
  last_name: 'Lovelace "the first"',
  password_hash: null,
  phone: null,
  company: null,
  address: null,
  zip: null,
  city: 'Reykjavík',
  country: null,
  is_active: true,
  is_blocked: false,
  bio: null,
  preferences: '{"big": 12345678901234567890123, "nested": {"a": [1, 2.50, null]}, "s": "x\\u0000y"}',
  tags: ['a', null, 'c,d'],
  balance: '12345678901.10',
  created_at: 1709190296789012n,
  updated_at: -1n,
  last_login_at: null,
  ...over,
});

const event = (over: Partial<ChangeEvent> = {}): ChangeEvent =>
  changeEvent({
    after: row(),
    source: {
      db: 'sourcedb',
      lsn: 0x16b374d848n,
      commit_lsn: 0x16b374d900n,
      seq: 3n,
      tx_id: 742n,
      ts_us: 1709190296789012n,
    },
    ts_ms: 1717000000123n,
    event_id: 'evt_0123',
    ...over,
  });

const key: Row = { id: 9007199254740993n };
const delivery = { target: 'hooks', attempt: 2, sentAtMs: 1717000000456 };

describe('isoTimestamp', () => {
  it.each([
    [0n, '1970-01-01T00:00:00.000000Z'],
    [-1n, '1969-12-31T23:59:59.999999Z'],
    [1709190296789012n, '2024-02-29T07:04:56.789012Z'],
    [-62135596800000000n, '0001-01-01T00:00:00.000000Z'],
    [-62135596800000001n, '0000-12-31T23:59:59.999999Z'], // 1 BC is astronomical year 0
    [-63517780800000000n, '-0043-03-15T12:00:00.000000Z'], // 44 BC
    [253402300800000000n, '+10000-01-01T00:00:00.000000Z'],
    [TS_POS_INFINITY, 'infinity'],
    [TS_NEG_INFINITY, '-infinity'],
  ])('%s -> %s', (us, iso) => {
    expect(isoTimestamp(us)).toBe(iso);
  });

  it('agrees with Date#toISOString for years 1..9999 (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -62135596800000000n, max: 253402300799999999n }), (us) => {
        const ms = Number(us >= 0n ? us / 1000n : -((-us + 999n) / 1000n));
        const iso = new Date(ms).toISOString();
        const micros = (((us % 1_000_000n) + 1_000_000n) % 1_000_000n).toString().padStart(6, '0');
        expect(isoTimestamp(us)).toBe(iso.replace(/\.\d{3}Z$/, `.${micros}Z`));
      }),
    );
  });
});

describe('buildPayload', () => {
  it('renders an insert: version, ids, op and type, lossless values, source, delivery', () => {
    const body = renderBody(columns, [{ key, event: event() }], delivery, false);
    const p = JSON.parse(body) as Record<string, unknown>;
    expect(p).toMatchObject({
      version: 1,
      id: 'evt_0123',
      type: 'created',
      op: 'c',
      table: 'public.users',
      key: { id: '9007199254740993' },
      before: null,
      unchanged: [],
      source: {
        db: 'sourcedb',
        schema: 'public',
        table: 'users',
        lsn: '16/B374D848',
        commit_lsn: '16/B374D900',
        seq: '3',
        transaction_id: '742',
        commit_time: '2024-02-29T07:04:56.789012Z',
        snapshot: false,
      },
      emitted_at: '2024-05-29T16:26:40.123000Z',
      delivery: { target: 'hooks', attempt: 2, sent_at: '2024-05-29T16:26:40.456000Z' },
    });
    expect(p.after).toMatchObject({
      id: '9007199254740993',
      last_name: 'Lovelace "the first"',
      middle_name: null,
      is_active: true,
      tags: ['a', null, 'c,d'],
      balance: '12345678901.10',
      created_at: '2024-02-29T07:04:56.789012Z',
      updated_at: '1969-12-31T23:59:59.999999Z',
      last_login_at: null,
    });
    // jsonb is embedded as JSON, byte for byte: the 23-digit number keeps every digit.
    expect(body).toContain(
      '"preferences":{"big": 12345678901234567890123, "nested": {"a": [1, 2.50, null]}, "s": "x\\u0000y"}',
    );
  });

  it('maps every op to its type', () => {
    expect((['c', 'u', 'd', 'r', 't'] as const).map(eventType)).toEqual([
      'created',
      'updated',
      'deleted',
      'snapshot',
      'truncated',
    ]);
  });

  it('renders a truncate as type truncated of the table, without key or rows', () => {
    const p = buildPayload(
      columns,
      { key: {}, event: event({ op: 't', before: null, after: null }) },
      delivery,
    );
    expect(p).toMatchObject({ version: 1, type: 'truncated', op: 't', table: 'public.users', key: null });
    expect(p).toMatchObject({ before: null, after: null, unchanged: [] });
  });

  it('renders a delete with the key and the before image, and a partial update with unchanged', () => {
    const del = buildPayload(
      columns,
      { key, event: event({ op: 'd', before: row(), after: null }) },
      delivery,
    );
    expect(del).toMatchObject({ type: 'deleted', key: { id: '9007199254740993' }, after: null });
    const upd = buildPayload(
      columns,
      { key, event: event({ op: 'u', before: null, after: row({ bio: null }), unchanged: ['bio'] }) },
      delivery,
    );
    expect(upd).toMatchObject({ type: 'updated', unchanged: ['bio'] });
  });

  it("never shows an unchanged column's placeholder as a value: unchanged columns are null in `after`", () => {
    const upd = buildPayload(
      columns,
      {
        key,
        event: event({ op: 'u', after: row({ username: '', bio: null }), unchanged: ['username', 'bio'] }),
      },
      delivery,
    );
    expect(upd).toMatchObject({
      unchanged: ['username', 'bio'],
      after: { username: null, bio: null, email: 'ada@example.com' },
    });
  });

  it('renders a null transaction id (snapshot) as null', () => {
    const e = event({ op: 'r' });
    e.source = { ...e.source, tx_id: null, snapshot: true };
    expect(buildPayload(columns, { key, event: e }, delivery)).toMatchObject({
      type: 'snapshot',
      source: { transaction_id: null, snapshot: true },
    });
  });

  it('a batch body is a JSON array of payloads in order', () => {
    const a = { key, event: event({ event_id: 'a' }) };
    const b = { key, event: event({ event_id: 'b', after: row({ preferences: null }) }) };
    const arr = JSON.parse(renderBody(columns, [a, b], delivery, true)) as { id: string }[];
    expect(arr.map((p) => p.id)).toEqual(['a', 'b']);
  });

  it('the body is valid JSON that keeps every string and number (property)', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.jsonValue(),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        (s, j, n) => {
          const json = JSON.stringify(j);
          const body = stringifyPayload(
            buildPayload(
              columns,
              { key: { id: n }, event: event({ after: row({ bio: s, preferences: json, id: n }) }) },
              delivery,
            ),
          );
          const p = JSON.parse(body) as { after: { bio: string; preferences: unknown; id: string } };
          expect(p.after.bio).toBe(s);
          expect(p.after.id).toBe(n.toString());
          expect(p.after.preferences).toEqual(JSON.parse(json));
        },
      ),
    );
  });
});
