// producers/postgres/assembler.ts: pgoutput messages -> change events, commit and heartbeat marks.
// Every event any scenario produces must be a valid Avro value of the contract and survive
// encoding; a property test does the same over random rows.
import fc from 'fast-check';
import type { Pgoutput } from 'pg-logical-replication';
import { describe, expect, it } from 'vitest';
import {
  HEARTBEAT_PREFIX,
  SchemaMismatchError,
  TransactionAssembler,
  UncarriableChangeError,
  eventId,
  type SourceItem,
} from '../../../../producers/postgres/assembler.ts';
import { formatLsn } from '../../../../schemas/lsn.ts';
import { assertValid, avroType } from '../../../../schemas/avro.ts';
import { loadContract, type ChangeEvent, type Row } from '../../../../schemas/contract.ts';
import { formatTimestamptz, TS_POS_INFINITY } from '../../../../schemas/values.ts';
import {
  begin,
  commit,
  del,
  insert,
  logicalMessage,
  otherRelation,
  truncate,
  update,
  usersRelation,
  usersRow,
  type RawTuple,
} from '../../support/pgoutput.ts';

const contract = loadContract();
const NOW_MS = 1_717_000_000_123;
const COMMIT_TIME_US = 1_709_190_296_789_012n;

function assembler(now = () => NOW_MS): TransactionAssembler {
  return new TransactionAssembler({ contract, db: 'sourcedb', name: 'pgcdc', version: '0.1.0', now });
}

type Step = [Pgoutput.Message, string];

function feed(asm: TransactionAssembler, steps: Step[]): SourceItem[] {
  return steps.flatMap(([msg, lsn]) => asm.push(msg, lsn));
}

function events(items: SourceItem[]): { key: Row; event: ChangeEvent }[] {
  return items.flatMap((i) => (i.kind === 'event' ? [{ key: i.key, event: i.event }] : []));
}

/** One transaction at commit LSN 0/3000100 (begin 0/3000028 .. commit end 0/3000130). */
function txn(rel: Pgoutput.MessageRelation, changes: Pgoutput.Message[], xid = 742): Step[] {
  return [
    [rel, '0/3000000'],
    [begin(xid, '0/3000100', COMMIT_TIME_US), '0/3000028'],
    ...changes.map((m, i): Step => [m, formatLsn(0x3000040n + BigInt(i) * 8n)]),
    [commit('0/3000100', '0/3000130'), '0/3000100'],
  ];
}

const rel = usersRelation();
const fullRel = usersRelation({ full: true });

/** Decoded form of usersRow(id) (the expected `after`). */
function decodedRow(id: bigint, overrides: Row = {}): Row {
  return {
    id,
    email: `user${id}@example.com`,
    username: `user${id}`,
    first_name: 'Ada',
    middle_name: null,
    last_name: 'Lovelace',
    password_hash: '$2b$12$abcdefghijklmnopqrstuv',
    phone: '+44 20 7946 0958',
    company: 'Analytical Engines "Ltd"',
    address: '12 St James’s Square',
    zip: 'SW1Y 4JH',
    city: 'London',
    country: 'GB',
    is_active: true,
    is_blocked: false,
    bio: 'Wrote the first program. 😀',
    preferences: '{"theme": "dark", "langs": ["en", "fr"], "n": 1.50}',
    tags: ['admin', 'with space', null, '', 'héllo'],
    balance: '1234567890.12',
    created_at: 1709190296789012n,
    updated_at: 1709251200000000n,
    last_login_at: null,
    ...overrides,
  };
}

// Named scenarios: each test checks its own; the Avro test replays them all.
const scenarios: Record<string, () => SourceItem[]> = {
  insert: () => feed(assembler(), txn(rel, [insert(rel, usersRow(1))])),
  threeInserts: () =>
    feed(
      assembler(),
      txn(rel, [insert(rel, usersRow(1)), insert(rel, usersRow(2)), insert(rel, usersRow(3))]),
    ),
  toastUnchanged: () => feed(assembler(), txn(rel, [update(rel, usersRow(1, { bio: undefined }))])),
  fullIdentityUpdate: () =>
    feed(assembler(), txn(fullRel, [update(fullRel, usersRow(1, { city: 'Paris' }), { old: usersRow(1) })])),
  keyChange: () => feed(assembler(), txn(rel, [update(rel, usersRow(2), { key: { id: '1' } })])),
  keyChangeFullIdentity: () =>
    feed(assembler(), txn(fullRel, [update(fullRel, usersRow(2), { old: usersRow(1) })])),
  keyUnchangedKeyTuple: () =>
    feed(assembler(), txn(rel, [update(rel, usersRow(1, { zip: '0000' }), { key: { id: '1' } })])),
  deleteKeyOnly: () => feed(assembler(), txn(rel, [del(rel, { key: { id: '7' } })])),
  deleteFullIdentity: () => feed(assembler(), txn(fullRel, [del(fullRel, { old: usersRow(7) })])),
  extremes: () =>
    feed(
      assembler(),
      txn(rel, [
        insert(
          rel,
          usersRow('9223372036854775807', {
            created_at: 'infinity',
            updated_at: '-infinity',
            last_login_at: '0044-03-15 12:00:00+00 BC',
            balance: 'NaN',
            tags: '{}',
            preferences: null,
            bio: null,
          }),
        ),
        insert(
          rel,
          usersRow('-9223372036854775808', { tags: null, last_login_at: '9999-12-31 23:59:59.999999+00' }),
        ),
      ]),
    ),
};

describe('TransactionAssembler', () => {
  it('begin/insert/commit: a create event keyed by id, then a commit mark at the end LSN', () => {
    const items = scenarios.insert!();
    expect(items).toHaveLength(2);
    const [ev, end] = items;
    expect(ev).toEqual({
      kind: 'event',
      key: { id: 1n },
      event: {
        op: 'c',
        before: null,
        after: decodedRow(1n),
        unchanged: [],
        source: {
          version: '0.1.0',
          connector: 'pgcdc',
          name: 'pgcdc',
          db: 'sourcedb',
          schema: 'public',
          table: 'users',
          lsn: 0x3000040n,
          commit_lsn: 0x3000100n,
          seq: 0n,
          tx_id: 742n,
          ts_us: COMMIT_TIME_US,
          snapshot: false,
        },
        ts_ms: BigInt(NOW_MS),
        event_id: '0/3000100:0',
      },
    });
    expect(end).toEqual({ kind: 'commit', endLsn: 0x3000130n, commitLsn: 0x3000100n, events: 1 });
  });

  it('numbers the changes of a transaction 0,1,2 and restarts in the next one', () => {
    const asm = assembler();
    const first = feed(
      asm,
      txn(rel, [insert(rel, usersRow(1)), insert(rel, usersRow(2)), insert(rel, usersRow(3))]),
    );
    const evs = events(first);
    expect(evs.map((e) => e.event.source.seq)).toEqual([0n, 1n, 2n]);
    expect(evs.map((e) => e.event.event_id)).toEqual(['0/3000100:0', '0/3000100:1', '0/3000100:2']);
    expect(evs.map((e) => e.key)).toEqual([{ id: 1n }, { id: 2n }, { id: 3n }]);
    expect(evs.map((e) => e.event.source.lsn)).toEqual([0x3000040n, 0x3000048n, 0x3000050n]);
    expect(new Set(evs.map((e) => e.event.source.commit_lsn))).toEqual(new Set([0x3000100n]));
    expect(first.at(-1)).toEqual({ kind: 'commit', endLsn: 0x3000130n, commitLsn: 0x3000100n, events: 3 });

    const second = feed(asm, [
      [begin(743, '0/4000200', COMMIT_TIME_US + 1n), '0/4000000'],
      [insert(rel, usersRow(4)), '0/4000010'],
      [commit('0/4000200', '0/4000230'), '0/4000200'],
    ]);
    const [ev] = events(second);
    expect(ev?.event.source).toMatchObject({
      seq: 0n,
      commit_lsn: 0x4000200n,
      tx_id: 743n,
      ts_us: COMMIT_TIME_US + 1n,
    });
    expect(ev?.event.event_id).toBe('0/4000200:0');
  });

  it('event ids are stable across replays, whatever the wall clock', () => {
    const steps = txn(rel, [
      insert(rel, usersRow(1)),
      update(rel, usersRow(1)),
      del(rel, { key: { id: '1' } }),
    ]);
    const a = events(
      feed(
        assembler(() => 1),
        steps,
      ),
    );
    const b = events(
      feed(
        assembler(() => 2),
        steps,
      ),
    );
    expect(a.map((e) => e.event.event_id)).toEqual(['0/3000100:0', '0/3000100:1', '0/3000100:2']);
    expect(b.map((e) => e.event.event_id)).toEqual(a.map((e) => e.event.event_id));
    expect(a.map((e) => e.event.ts_ms)).toEqual([1n, 1n, 1n]);
    expect(b.map((e) => e.event.ts_ms)).toEqual([2n, 2n, 2n]);
    expect(eventId(0x16b374d848n, 12n)).toBe('16/B374D848:12');
  });

  it('falls back to the XLogData position when Begin/Commit carry no LSN', () => {
    const items = feed(assembler(), [
      [begin(1, null, 0n), '0/500'],
      [insert(rel, usersRow(1)), '0/510'],
      [commit('0/500', null), '0/5FF'],
    ]);
    expect(events(items)[0]?.event.source.commit_lsn).toBe(0x500n);
    expect(items.at(-1)).toMatchObject({ kind: 'commit', endLsn: 0x5ffn });
  });

  it('update with an unchanged TOAST value: lists it in `unchanged`, null in `after`', () => {
    const [ev] = events(scenarios.toastUnchanged!());
    expect(ev?.event.op).toBe('u');
    expect(ev?.event.unchanged).toEqual(['bio']);
    expect(ev?.event.after).toEqual(decodedRow(1n, { bio: null }));
    expect(ev?.event.before).toBeNull();
    expect(ev?.key).toEqual({ id: 1n });
  });

  it('update with unchanged TOAST values in NOT NULL columns: placeholders in `after`, listed in `unchanged`, encodable', () => {
    const unchangedAll = {
      username: undefined,
      email: undefined,
      is_active: undefined,
      created_at: undefined,
      bio: undefined,
    };
    const [ev] = events(feed(assembler(), txn(rel, [update(rel, usersRow(1, unchangedAll))])));
    expect(ev?.event.unchanged).toEqual(['email', 'username', 'is_active', 'bio', 'created_at']);
    expect(ev?.event.after).toMatchObject({
      email: '',
      username: '',
      is_active: false,
      bio: null,
      created_at: 0n,
    });
    const valueType = avroType(contract.valueSchema);
    assertValid(valueType, ev!.event);
    expect(valueType.fromBuffer(valueType.toBuffer(ev!.event))).toEqual(ev!.event);
  });

  it('update under REPLICA IDENTITY FULL carries the old row as `before`', () => {
    const [ev] = events(scenarios.fullIdentityUpdate!());
    expect(ev?.event.op).toBe('u');
    expect(ev?.event.before).toEqual(decodedRow(1n));
    expect(ev?.event.after).toEqual(decodedRow(1n, { city: 'Paris' }));
    expect(ev?.event.unchanged).toEqual([]);
  });

  it('update with a key-only old tuple of the same key is a plain update without `before`', () => {
    const evs = events(scenarios.keyUnchangedKeyTuple!());
    expect(evs).toHaveLength(1);
    expect(evs[0]?.event.op).toBe('u');
    expect(evs[0]?.event.before).toBeNull();
  });

  it('primary key change: delete of the old key, then create of the new one, in order', () => {
    const items = scenarios.keyChange!();
    const evs = events(items);
    expect(evs.map((e) => [e.event.op, e.key])).toEqual([
      ['d', { id: 1n }],
      ['c', { id: 2n }],
    ]);
    expect(evs[0]?.event.before).toBeNull(); // a key-only image is not a row
    expect(evs[0]?.event.after).toBeNull();
    expect(evs[1]?.event.before).toBeNull();
    expect(evs[1]?.event.after).toEqual(decodedRow(2n));
    expect(evs.map((e) => e.event.source.seq)).toEqual([0n, 1n]);
    expect(evs.map((e) => e.event.source.lsn)).toEqual([0x3000040n, 0x3000040n]);
    expect(items.at(-1)).toMatchObject({ kind: 'commit', events: 2 });
  });

  it('primary key change under REPLICA IDENTITY FULL (old tuple, no key tuple) also deletes the old key', () => {
    const evs = events(scenarios.keyChangeFullIdentity!());
    expect(evs.map((e) => [e.event.op, e.key])).toEqual([
      ['d', { id: 1n }],
      ['c', { id: 2n }],
    ]);
    expect(evs[0]?.event.before).toEqual(decodedRow(1n));
    expect(evs[1]?.event.after).toEqual(decodedRow(2n));
  });

  it('primary key change with an unchanged TOAST value: the create cannot carry it (not in the WAL)', () => {
    const evs = events(
      feed(assembler(), txn(rel, [update(rel, usersRow(2, { bio: undefined }), { key: { id: '1' } })])),
    );
    expect(evs.map((e) => e.event.op)).toEqual(['d', 'c']);
    expect(evs[1]?.event.unchanged).toEqual(['bio']);
  });

  it('primary key change under REPLICA IDENTITY FULL with an unchanged TOAST value: the create takes it from the old row', () => {
    const evs = events(
      feed(
        assembler(),
        txn(fullRel, [
          update(fullRel, usersRow(2, { bio: undefined, username: undefined }), { old: usersRow(1) }),
        ]),
      ),
    );
    expect(evs.map((e) => e.event.op)).toEqual(['d', 'c']);
    expect(evs[1]?.event.unchanged).toEqual([]);
    expect(evs[1]?.event.after).toEqual(
      decodedRow(2n, { bio: decodedRow(1n).bio ?? null, username: decodedRow(1n).username ?? null }),
    );
  });

  it('delete with a key-only old tuple: no `before`, key from the key tuple', () => {
    const items = scenarios.deleteKeyOnly!();
    const [ev] = events(items);
    expect(ev?.key).toEqual({ id: 7n });
    expect(ev?.event).toMatchObject({
      op: 'd',
      before: null,
      after: null,
      unchanged: [],
      event_id: '0/3000100:0',
    });
  });

  it('delete under REPLICA IDENTITY FULL carries the old row', () => {
    const [ev] = events(scenarios.deleteFullIdentity!());
    expect(ev?.key).toEqual({ id: 7n });
    expect(ev?.event).toMatchObject({ op: 'd', before: decodedRow(7n), after: null });
  });

  it('ignores changes of other tables, also a users table in another schema', () => {
    const orders = otherRelation();
    const auditUsers = usersRelation({ oid: 16600, schema: 'audit', drop: ['bio'] });
    const items = feed(assembler(), [
      [orders, '0/100'],
      [auditUsers, '0/100'],
      [begin(9, '0/200', 0n), '0/110'],
      [insert(orders, { id: '1', total: '9.99' }), '0/120'],
      [update(orders, { id: '1', total: '10.00' }, { key: { id: '1' } }), '0/128'],
      [del(orders, { key: { id: '1' } }), '0/130'],
      [insert(auditUsers, usersRow(1)), '0/138'],
      [truncate(orders), '0/140'],
      [commit('0/200', '0/230'), '0/200'],
    ]);
    expect(items).toEqual([{ kind: 'commit', endLsn: 0x230n, commitLsn: 0x200n, events: 0 }]);
  });

  it('heartbeat: a non-transactional message with our prefix yields its LSN', () => {
    const asm = assembler();
    expect(asm.push(logicalMessage(HEARTBEAT_PREFIX, '0/6000058'), '0/6000000')).toEqual([
      { kind: 'heartbeat', lsn: 0x6000058n },
    ]);
    expect(asm.push(logicalMessage(HEARTBEAT_PREFIX, null), '0/6000100')).toEqual([
      { kind: 'heartbeat', lsn: 0x6000100n },
    ]);
    expect(HEARTBEAT_PREFIX).toBe('pgcdc.heartbeat');
  });

  it('ignores other logical messages, and transactional ones with our prefix', () => {
    const asm = assembler();
    expect(asm.push(logicalMessage('other.app', '0/10'), '0/10')).toEqual([]);
    expect(asm.push(logicalMessage(`${HEARTBEAT_PREFIX}.x`, '0/10'), '0/10')).toEqual([]);
    asm.push(begin(1, '0/30', 0n), '0/18');
    expect(asm.push(logicalMessage(HEARTBEAT_PREFIX, '0/20', true), '0/20')).toEqual([]);
  });

  it('truncate of the captured table yields one truncate event (op t, no rows) at the next seq', () => {
    const asm = assembler();
    asm.push(rel, '0/1');
    asm.push(begin(5, '0/900', 0n), '0/800');
    asm.push(insert(rel, usersRow(1)), '0/808');
    const [item, ...rest] = asm.push(truncate(otherRelation(), rel), '0/810');
    expect(rest).toEqual([]);
    expect(item).toMatchObject({
      kind: 'truncate',
      commitLsn: 0x900n,
      event: {
        op: 't',
        before: null,
        after: null,
        unchanged: [],
        event_id: '0/900:1',
        source: { schema: 'public', table: 'users', lsn: 0x810n, commit_lsn: 0x900n, seq: 1n, tx_id: 5n },
      },
    });
    expect(asm.push(truncate(otherRelation()), '0/820')).toEqual([]);
  });

  it('origin and type messages produce nothing', () => {
    const asm = assembler();
    expect(asm.push({ tag: 'origin', originLsn: '0/1', originName: 'n' }, '0/1')).toEqual([]);
    expect(asm.push({ tag: 'type', typeOid: 1, typeSchema: 'public', typeName: 'mood' }, '0/1')).toEqual([]);
  });

  it('a relation lacking a NOT NULL contract column is a non-retriable SchemaMismatchError naming it', () => {
    const lacking = () => assembler().push(usersRelation({ drop: ['username', 'bio'] }), '0/1');
    expect(lacking).toThrow(SchemaMismatchError);
    expect(lacking).toThrow(/public\.users lacks NOT NULL columns of the event schema: username;/);
    try {
      lacking();
    } catch (err) {
      expect((err as SchemaMismatchError).retriable).toBe(false);
      expect((err as SchemaMismatchError).hint).toMatch(/evolve schemas\/avro/);
    }
  });

  it('extra source columns are ignored; dropped NULLABLE columns are carried as null, not as unchanged', () => {
    const drift: unknown[] = [];
    const asm = new TransactionAssembler({
      contract,
      db: 'sourcedb',
      name: 'pgcdc',
      version: '0.1.0',
      now: () => NOW_MS,
      onSchemaDrift: (d) => drift.push(d),
    });
    const altered = usersRelation({ drop: ['middle_name'], extra: ['nickname'] });
    const row: RawTuple = { ...usersRow(1, { city: 'Oslo' }), nickname: 'nick' };
    delete row.middle_name;
    const [ins, upd] = events(feed(asm, txn(altered, [insert(altered, row), update(altered, row)])));
    expect(drift).toEqual([
      { table: 'public.users', missingNullable: ['middle_name'], ignored: ['nickname'] },
    ]);
    for (const e of [ins!, upd!]) {
      expect(e.event.after?.middle_name).toBeNull();
      expect(e.event.after).not.toHaveProperty('nickname');
      expect(e.event.unchanged).toEqual([]);
      assertValid(avroType(contract.valueSchema), e.event);
    }
    expect(ins!.event.after?.city).toBe('Oslo');
  });

  it('a relation re-sent after ALTER TABLE (same oid) is checked again', () => {
    const asm = assembler();
    expect(asm.push(usersRelation(), '0/1')).toEqual([]);
    expect(() => asm.push(usersRelation({ drop: ['email'] }), '0/2')).toThrow(SchemaMismatchError);
    // and a column that comes back is no longer carried as null
    const drifting = assembler();
    drifting.push(usersRelation({ drop: ['city'] }), '0/1');
    const [e] = events(feed(drifting, txn(rel, [insert(rel, usersRow(1, { city: 'Rome' }))])));
    expect(e!.event.after?.city).toBe('Rome');
  });

  it('changes outside a transaction and a change without key value are errors', () => {
    expect(() => assembler().push(insert(rel, usersRow(1)), '0/1')).toThrow(/outside a transaction/);
    expect(() => assembler().push(commit('0/1', '0/2'), '0/1')).toThrow(/outside a transaction/);
    const asm = assembler();
    asm.push(begin(1, '0/9', 0n), '0/1');
    expect(() => asm.push(del(rel, { key: { id: undefined } }), '0/2')).toThrow(SchemaMismatchError);
  });
});

describe('changes the contract cannot carry', () => {
  const cases: [string, RawTuple, RegExp][] = [
    ['a two-dimensional array', usersRow(5, { tags: '{{a,b},{c,d}}' }), /column tags: multi-dimensional/],
    [
      'a timestamptz beyond the contract',
      usersRow(5, { created_at: '294270-01-01 00:00:00+00' }),
      /column created_at: timestamptz .* beyond the range/,
    ],
    [
      'a NULL in a NOT NULL column',
      usersRow(5, { username: null }),
      /column username is NULL but the contract says NOT NULL/,
    ],
  ];
  it.each(cases)('%s: a non-retriable error naming table, key and LSN', (_what, row, why) => {
    const asm = assembler();
    asm.push(rel, '0/1');
    asm.push(begin(1, '0/90', 0n), '0/10');
    let err: unknown;
    try {
      asm.push(insert(rel, row), '0/20');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UncarriableChangeError);
    expect((err as UncarriableChangeError).retriable).toBe(false);
    expect((err as Error).message).toMatch(/public\.users key \{"id":"5"\} at LSN 0\/20 \(commit 0\/90\)/);
    expect((err as Error).message).toMatch(why);
  });
});

describe('every event fits the Avro contract', () => {
  const valueType = avroType(contract.valueSchema);
  const keyType = avroType(contract.keySchema);

  function checkAvro(key: Row, event: ChangeEvent): void {
    assertValid(valueType, event);
    assertValid(keyType, key);
    expect(valueType.fromBuffer(valueType.toBuffer(event))).toEqual(event);
    expect(keyType.fromBuffer(keyType.toBuffer(key))).toEqual(key);
  }

  it.each(Object.keys(scenarios))('scenario %s', (name) => {
    const evs = events(scenarios[name]!());
    expect(evs.length).toBeGreaterThan(0);
    for (const { key, event } of evs) checkAvro(key, event);
  });

  it('extreme values survive: ids at both ends of bigint, infinity, BC, NaN, empty array', () => {
    const [a, b] = events(scenarios.extremes!());
    expect(a?.key).toEqual({ id: 9223372036854775807n });
    expect(a?.event.after).toMatchObject({
      created_at: TS_POS_INFINITY,
      last_login_at: -63517780800000000n,
      balance: 'NaN',
      tags: [],
    });
    expect(b?.key).toEqual({ id: -9223372036854775808n });
  });

  // Random rows in PostgreSQL text form, with the values they must decode to.
  const str = fc.string({ unit: 'binary', maxLength: 40 });
  const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
  const pgArray = fc.array(opt(str), { maxLength: 6 }).map((els) => ({
    text: `{${els.map((e) => (e === null ? 'NULL' : `"${e.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`,
    value: els,
  }));
  // Within PostgreSQL's range (4714-11-24 BC .. the contract's 64-bit limit), or the sentinels.
  const ts = fc.oneof(
    fc
      .bigInt({ min: -210866803200000000n, max: TS_POS_INFINITY - 1n })
      .map((us) => ({ text: formatTimestamptz(us), value: us })),
    fc.constantFrom({ text: 'infinity', value: TS_POS_INFINITY }, { text: '-infinity', value: -(2n ** 63n) }),
  );
  const numeric = fc.oneof(
    fc.constant('NaN'),
    fc
      .tuple(fc.bigInt({ min: -(10n ** 10n), max: 10n ** 10n }), fc.integer({ min: 0, max: 99 }))
      .map(([i, f]) => `${i}.${String(f).padStart(2, '0')}`),
  );
  const row = fc.record({
    id: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    email: str,
    username: str,
    nullableText: fc.array(opt(str), { minLength: 10, maxLength: 10 }),
    is_active: fc.boolean(),
    is_blocked: fc.boolean(),
    bio: fc.oneof(opt(str), fc.constant(undefined)),
    preferences: opt(fc.json()),
    tags: opt(pgArray),
    balance: opt(numeric),
    created_at: ts,
    updated_at: ts,
    last_login_at: opt(ts),
  });
  const nullableTextColumns = [
    'first_name',
    'middle_name',
    'last_name',
    'password_hash',
    'phone',
    'company',
    'address',
    'zip',
    'city',
    'country',
  ];
  const pgBool = (b: boolean) => (b ? 't' : 'f');

  it('random rows through insert, update (TOAST), key change and delete (property)', () => {
    fc.assert(
      fc.property(row, fc.constantFrom('insert', 'update', 'keyChange', 'delete'), (r, kind) => {
        const tuple: RawTuple = {
          id: r.id.toString(),
          email: r.email,
          username: r.username,
          is_active: pgBool(r.is_active),
          is_blocked: pgBool(r.is_blocked),
          bio: r.bio,
          preferences: r.preferences,
          tags: r.tags?.text ?? null,
          balance: r.balance,
          created_at: r.created_at.text,
          updated_at: r.updated_at.text,
          last_login_at: r.last_login_at?.text ?? null,
        };
        nullableTextColumns.forEach((c, i) => (tuple[c] = r.nullableText[i] ?? null));
        const expected: Row = {
          id: r.id,
          email: r.email,
          username: r.username,
          is_active: r.is_active,
          is_blocked: r.is_blocked,
          bio: r.bio ?? null,
          preferences: r.preferences,
          tags: r.tags?.value ?? null,
          balance: r.balance,
          created_at: r.created_at.value,
          updated_at: r.updated_at.value,
          last_login_at: r.last_login_at?.value ?? null,
        };
        nullableTextColumns.forEach((c, i) => (expected[c] = r.nullableText[i] ?? null));
        if (kind === 'insert') tuple.bio ??= null; // an insert always carries every column

        const change =
          kind === 'insert'
            ? insert(rel, tuple)
            : kind === 'update'
              ? update(rel, tuple)
              : kind === 'keyChange'
                ? update(rel, tuple, { key: { id: (r.id === 0n ? 1n : 0n).toString() } })
                : del(rel, { key: { id: tuple.id } });
        const evs = events(feed(assembler(), txn(rel, [change])));
        for (const { key, event } of evs) checkAvro(key, event);
        const last = evs.at(-1)!;
        expect(last.key).toEqual({ id: r.id });
        if (kind !== 'delete') {
          expect(last.event.after).toEqual(expected);
          expect(last.event.unchanged).toEqual(kind !== 'insert' && r.bio === undefined ? ['bio'] : []);
        }
      }),
      { numRuns: 300 },
    );
  });
});
