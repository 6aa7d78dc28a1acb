// The matched rules (consumers/matching/decide.ts), one case per rule: stale events, removals,
// and what an upsert does with the row holding its match value.
import { describe, expect, it } from 'vitest';
import {
  isStale,
  planLostRow,
  planRemoval,
  planUpsert,
  type Holder,
  type Link,
} from '../../../../consumers/matching/decide.ts';

const names = { targetKey: 'uid', matchColumn: 'email' };
const pos = { lsn: 20n, seq: 1n };
const link = (targetKey: string | null, deleted = false, lsn = 10n): Link => ({
  targetKey,
  deleted,
  lsn,
  seq: 0n,
});
const owned = (lsn: bigint, deleted = false): Holder['owner'] => ({ deleted, lsn, seq: 0n });
const plan = (l: Link | undefined, holder: Holder | undefined, unchanged: string[] = []) =>
  planUpsert({ link: l, holder, pos, unchanged, key: [7n], names });
const write = (into: object, extra: object = {}) => ({
  kind: 'write',
  into,
  release: undefined,
  withoutMatch: false,
  ...extra,
});

describe('matched rules', () => {
  it('an event at or before the link position is applied already', () => {
    expect(isStale(undefined, pos)).toBe(false);
    expect(isStale(link('1', false, 20n), { lsn: 20n, seq: 0n })).toBe(true);
    expect(isStale({ ...link('1'), lsn: 20n, seq: 1n }, pos)).toBe(true);
    expect(isStale({ ...link('1'), lsn: 20n, seq: 0n }, pos)).toBe(false);
    expect(isStale(link('1', false, 30n), pos)).toBe(true);
  });

  it('a removal removes a live own row; a soft delete keeps it linked, a hard one does not', () => {
    expect(planRemoval(undefined, true)).toEqual({ remove: null, keep: null });
    expect(planRemoval(link('4'), true)).toEqual({ remove: '4', keep: '4' });
    expect(planRemoval(link('4'), false)).toEqual({ remove: '4', keep: null });
    expect(planRemoval(link('4', true), true)).toEqual({ remove: null, keep: '4' }); // removed already
    expect(planRemoval(link(null, true), false)).toEqual({ remove: null, keep: null });
  });

  it('no holder, or the own row holds the value: insert or update the own row', () => {
    expect(plan(undefined, undefined)).toEqual(write({ kind: 'insert' }));
    expect(plan(link('4'), undefined)).toEqual(write({ kind: 'own', targetKey: '4' }));
    expect(plan(link('4', true), undefined)).toEqual(write({ kind: 'own', targetKey: '4' })); // revived
    expect(plan(link('4'), { targetKey: '4', owner: owned(10n) })).toEqual(
      write({ kind: 'own', targetKey: '4' }),
    );
    expect(plan(link(null, true), undefined)).toEqual(write({ kind: 'insert' })); // hard-deleted before
  });

  it('a row the target made itself: adopted by a key without a row of its own, else a conflict', () => {
    const foreign = { targetKey: '9', owner: null };
    expect(plan(undefined, foreign)).toEqual(write({ kind: 'adopt', targetKey: '9' }));
    expect(plan(link(null, true), foreign)).toEqual(write({ kind: 'adopt', targetKey: '9' }));
    expect(plan(link('4'), foreign)).toMatchObject({ kind: 'dead', reason: 'match-conflict' });
    // a soft-deleted row coming back keeps its own row: never adopts the foreign one
    expect(plan(link('4', true), foreign)).toMatchObject({ kind: 'dead', reason: 'match-conflict' });
  });

  it('a row of a deleted source row gives the value up', () => {
    const h = { targetKey: '9', owner: owned(50n, true) };
    expect(plan(link('4'), h)).toEqual(write({ kind: 'own', targetKey: '4' }, { release: '9' }));
    expect(plan(undefined, h)).toEqual(write({ kind: 'insert' }, { release: '9' }));
  });

  it('a live row written later: written without the value; earlier: wait for its release', () => {
    expect(plan(link('4'), { targetKey: '9', owner: owned(30n) })).toEqual(
      write({ kind: 'own', targetKey: '4' }, { withoutMatch: true }),
    );
    expect(plan(undefined, { targetKey: '9', owner: owned(30n) })).toEqual(
      write({ kind: 'insert' }, { withoutMatch: true }),
    );
    expect(plan(link('4'), { targetKey: '9', owner: owned(15n) })).toMatchObject({ kind: 'retry' });
  });

  it('an event leaving columns unchanged only updates the own row', () => {
    expect(plan(link('4'), undefined, ['bio'])).toEqual(write({ kind: 'own', targetKey: '4' }));
    expect(plan(undefined, undefined, ['bio'])).toMatchObject({ kind: 'dead', reason: 'missing-row' });
    expect(plan(undefined, { targetKey: '9', owner: null }, ['bio'])).toMatchObject({
      kind: 'dead',
      reason: 'missing-row',
    });
    expect(planLostRow(['bio'], [7n])).toMatchObject({ kind: 'dead', reason: 'missing-row' });
    expect(planLostRow([], [7n])).toBeUndefined();
  });
});
