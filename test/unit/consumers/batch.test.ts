// Batch shaping shared by the database sinks (consumers/batch.ts): truncates set apart, partial
// updates grouped by the columns they leave unchanged (order kept) and chunked.
import { describe, expect, it } from 'vitest';
import { groupByUnchanged, splitTruncates } from '../../../consumers/batch.ts';
import { positionedChanges } from '../support/events.ts';

describe('batch shaping', () => {
  const ev = positionedChanges();
  it('sets truncates apart from the row events, each in batch order', () => {
    const b = [ev('c', 1n, 10n, {}), ev('t', 0n, 11n), ev('u', 2n, 12n, {}), ev('t', 0n, 13n)];
    const { truncates, rows } = splitTruncates(b);
    expect(truncates.map((e) => e.offset)).toEqual([b[1]!.offset, b[3]!.offset]);
    expect(rows.map((e) => e.offset)).toEqual([b[0]!.offset, b[2]!.offset]);
    expect(splitTruncates(rows).rows).toBe(rows);
  });

  it('groups partial updates by their unchanged columns (in any order) and chunks each group', () => {
    const p = [
      ev('u', 1n, 10n, {}, ['bio']),
      ev('u', 2n, 10n, {}, ['bio', 'tags']),
      ev('u', 3n, 10n, {}, ['bio']),
      ev('u', 4n, 10n, {}, ['tags', 'bio']),
      ev('u', 5n, 10n, {}, ['bio']),
    ];
    const ids = (gs: (typeof p)[]) => gs.map((g) => g.map((e) => e.key.id));
    expect(ids(groupByUnchanged(p))).toEqual([
      [1n, 3n, 5n],
      [2n, 4n],
    ]);
    expect(ids(groupByUnchanged(p, 2))).toEqual([[1n, 3n], [5n], [2n, 4n]]);
  });
});
