// Reconcile's pure core: the row a target should hold comes from the sink's own mapping (renames,
// computed fields, filter), values compare in one canonical form per type, a key range is judged
// missing / extra / differing (soft-deleted rows are absent, foreign rows told apart, extras not
// drift under deletePolicy ignore), and the settle step's verdict never calls a moving row drift.
// A property test checks rangeComparison against a plain model on random ranges.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MappingSchema } from '../../../../pipeline/config/mapping.ts';
import { PostgresTargetSchema } from '../../../../pipeline/config/schema.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { planTable, type TablePlan } from '../../../../ops/reconcile/plan.ts';
import {
  canonical,
  expectedOf,
  rangeComparison,
  targetRowOf,
  type Expected,
  type RawRow,
  type TargetRow,
} from '../../../../ops/reconcile/rows.ts';
import { judge, sourceMoved, writtenAfter } from '../../../../ops/reconcile/settle.ts';

const contract = loadContract();
const at = { schema: 'public', table: 'users' };

function plan(mapping?: unknown): TablePlan {
  const target = PostgresTargetSchema.parse({
    name: 'peer',
    type: 'postgres',
    url: 'postgres://x@h/db',
    ...(mapping ? { mapping: MappingSchema.parse(mapping) } : {}),
  });
  return planTable(contract, target, at);
}

/** A source row as PostgreSQL prints it, in contract column order. */
function sourceRaw(over: Record<string, string | null> = {}): RawRow {
  const base: Record<string, string | null> = {
    id: '7',
    email: 'ada@x.io',
    username: 'ada',
    first_name: 'Ada',
    last_name: 'Lovelace',
    is_active: 't',
    is_blocked: 'f',
    preferences: '{"b": 1, "a": [1, 2]}',
    tags: '{x,y}',
    balance: '12.50',
    created_at: '2026-01-02 03:04:05.123456+00',
    updated_at: '2026-01-02 03:04:05+00',
    ...over,
  };
  return contract.columns.map((c) => base[c.name] ?? null);
}

describe('reconcile rows', () => {
  it('plans sql hashes only for plain column shapes', () => {
    expect(plan().sqlHashes).toBe(true);
    expect(plan({ include: ['id', 'email'], rename: { email: 'mail' } }).sqlHashes).toBe(true);
    expect(plan({ filter: 'is_active' }).sqlHashes).toBe(false);
    expect(plan({ computed: { name: 'username + "!"' } }).sqlHashes).toBe(false);
    expect(plan({ deletePolicy: 'ignore' }).extrasAreDrift).toBe(false);
    // a matched target is read through its links table, row by row
    expect(plan({ match: { column: 'email', targetKey: 'uid' }, include: ['email'] }).sqlHashes).toBe(false);
  });

  it('maps a source row as the sink would: rename, computed, filter', () => {
    const p = plan({
      include: ['id', 'username', 'is_active'],
      rename: { username: 'login' },
      computed: { shout: 'username + "!"' },
      filter: 'is_active',
    });
    expect(expectedOf(p, sourceRaw())).toEqual({
      key: '7',
      expected: { id: 7n, login: 'ada', is_active: true, shout: 'ada!' },
    });
    expect(expectedOf(p, sourceRaw({ is_active: 'f' })).expected).toBeNull();
  });

  it('compares values canonically: numeric scale, jsonb key order, timestamps', () => {
    expect(canonical('numeric', '12.50')).toBe(canonical('numeric', '12.5'));
    expect(canonical('jsonb', '{"b": 1, "a": 2}')).toBe(canonical('jsonb', '{"a":2,"b":1}'));
    expect(canonical('text[]', ['x', null])).toBe('["x",null]');
    expect(canonical('text', null)).toBeNull();
    const p = plan();
    const e = expectedOf(p, sourceRaw()).expected as Record<string, unknown>;
    const raw = [
      '7',
      ...p.columns.map((c) => sourceRaw()[contract.columns.findIndex((x) => x.name === c.name)] ?? null),
    ];
    raw[1 + p.columns.findIndex((c) => c.name === 'balance')] = '12.5';
    raw[1 + p.columns.findIndex((c) => c.name === 'created_at')] = '2026-01-02 04:04:05.123456+01';
    const t = targetRowOf(p, raw, false, '1');
    const cmp = rangeComparison(p, new Map([['7', e as Expected]]));
    cmp.target(t);
    expect(cmp.finish()).toMatchObject({ compared: 1, missing: [], extra: [], differing: [] });
  });

  it('judges a range: missing, extra (owned or foreign), differing, soft-deleted absent', () => {
    const p = plan({ include: ['id', 'username'] });
    const row = (id: string, username: string) => ({ id: BigInt(id), username });
    const t = (id: string, username: string, removed = false, owned = true) =>
      targetRowOf(p, [id, id, username], removed, owned ? '1' : null);
    const cmp = rangeComparison(
      p,
      new Map<string, Expected>([
        ['1', row('1', 'a')],
        ['2', row('2', 'b')],
        ['3', row('3', 'c')],
        ['4', null], // outside the filter: the target must not hold it
        ['6', row('6', 'f')],
      ]),
    );
    for (const x of [t('1', 'a'), t('2', 'B'), t('4', 'd'), t('5', 'e', false, false), t('6', 'f', true)])
      cmp.target(x);
    expect(cmp.finish()).toEqual({
      compared: 4,
      missing: ['3', '6'],
      extra: [
        { key: '4', owned: true },
        { key: '5', owned: false },
      ],
      differing: [{ key: '2', columns: ['username'] }],
      unmappable: [],
    });
    const ignore = plan({ include: ['id', 'username'], deletePolicy: 'ignore' });
    const c2 = rangeComparison(ignore, new Map());
    c2.target(targetRowOf(ignore, ['9', '9', 'z'], false, '1'));
    expect(c2.finish().extra).toEqual([]);
  });

  it('settles: agreement with either source read is not drift, a moving row is not drift', () => {
    const p = plan({ include: ['id', 'username'] });
    const t = (u: string) => targetRowOf(p, ['1', '1', u], false, '1');
    const s = (u: string) => ({ id: 1n, username: u });
    expect(judge(p, s('a'), t('a'), s('b'))).toEqual({ kind: 'same' });
    expect(judge(p, s('a'), t('b'), s('b'))).toEqual({ kind: 'same' });
    expect(judge(p, s('a'), t('c'), s('b'))).toEqual({ kind: 'moving' });
    expect(judge(p, s('a'), t('c'), s('a'))).toEqual({ kind: 'differing', columns: ['username'] });
    expect(judge(p, s('a'), undefined, s('a'))).toEqual({ kind: 'missing' });
    expect(judge(p, undefined, t('a'), undefined)).toEqual({ kind: 'extra', owned: true });
    expect(judge(p, undefined, undefined, undefined)).toEqual({ kind: 'same' });
  });

  it('settles: a row that moved between the reads is never drift, on the extra side as on the others', () => {
    const p = plan({ include: ['id', 'username'] });
    const t = (u: string, position: string | null = '100') => targetRowOf(p, ['1', '1', u], false, position);
    const s = (u: string) => ({ id: 1n, username: u });
    // out of the filter (null) at S1 and at S2, but in it between: the target applied the entry only
    expect(judge(p, null, t('a'), null, true)).toEqual({ kind: 'moving' });
    expect(judge(p, undefined, t('a'), undefined, true)).toEqual({ kind: 'moving' });
    // updated and changed back between S1 and S2: the target holds the state in between
    expect(judge(p, s('a'), t('b'), s('a'), true)).toEqual({ kind: 'moving' });
    expect(judge(p, s('a'), undefined, s('a'), true)).toEqual({ kind: 'moving' });
    // agreement still decides first; nothing moved: drift as before
    expect(judge(p, null, { ...t('a'), removed: true }, null, true)).toEqual({ kind: 'same' });
    expect(judge(p, null, t('a'), null, false)).toEqual({ kind: 'extra', owned: true });

    const v = (version: string) => ({ expected: null, version });
    expect(sourceMoved(v('7'), v('7'))).toBe(false);
    expect(sourceMoved(v('7'), v('9'))).toBe(true);
    expect(sourceMoved(undefined, v('9'))).toBe(true);
    expect(sourceMoved(v('7'), undefined)).toBe(true);
    expect(sourceMoved(undefined, undefined)).toBe(false);
    expect(writtenAfter(t('a', '100'), 99n)).toBe(true);
    expect(writtenAfter(t('a', '100'), 100n)).toBe(false);
    expect(writtenAfter(t('a', null), 0n)).toBe(false);
    expect(writtenAfter(undefined, 0n)).toBe(false);
  });

  it('rangeComparison matches a plain model on random ranges', () => {
    const p = plan({ include: ['id', 'username'] });
    const cell = fc.option(fc.constantFrom('a', 'b'), { nil: undefined });
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell, fc.boolean(), fc.boolean()), { maxLength: 30 }), (cells) => {
        const expected = new Map<string, Expected>();
        const targets: TargetRow[] = [];
        const model = {
          compared: 0,
          missing: [] as string[],
          extra: [] as string[],
          differing: [] as string[],
        };
        cells.forEach(([src, tgt, removed, owned], i) => {
          const k = String(i + 1);
          if (src !== undefined) expected.set(k, { id: BigInt(i + 1), username: src });
          if (tgt !== undefined) targets.push(targetRowOf(p, [k, k, tgt], removed, owned ? '1' : null));
          const live = tgt !== undefined && !removed;
          if (src !== undefined) {
            model.compared++;
            if (!live) model.missing.push(k);
            else if (src !== tgt) model.differing.push(k);
          } else if (live) model.extra.push(k);
        });
        const cmp = rangeComparison(p, expected);
        for (const t of targets) cmp.target(t);
        const d = cmp.finish();
        expect({
          compared: d.compared,
          missing: d.missing,
          extra: d.extra.map((e) => e.key),
          differing: d.differing.map((x) => x.key),
        }).toEqual(model);
      }),
    );
  });
});
