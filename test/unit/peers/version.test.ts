// The conflict order of a peers mesh (consumers/peer/version.ts): total, the same from every
// node's point of view, and each decision (apply, skip, log) for the defined conflict kinds.
import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  currentVersion,
  decide,
  type Version,
  type VersionOrder,
} from '../../../consumers/peer/version.ts';

const lww: VersionOrder = {
  policy: 'last-writer-wins',
  priorityWindowMs: 1000,
  priorities: new Map([
    ['a', 3],
    ['b', 2],
    ['c', 1],
  ]),
};
const prio: VersionOrder = { ...lww, policy: 'priority' };
const v = (node: string, ms: number, lsn = 0n): Version => ({ tsUs: BigInt(ms) * 1000n, node, lsn, seq: 0n });

describe('compareVersions', () => {
  it('last-writer-wins: later commit first, then priority, then name', () => {
    expect(compareVersions(v('c', 2000), v('a', 1000), lww)).toBeGreaterThan(0);
    expect(compareVersions(v('a', 1000), v('c', 1000), lww)).toBeGreaterThan(0);
    expect(compareVersions(v('a', 1000, 5n), v('a', 1000, 4n), lww)).toBeGreaterThan(0);
    expect(compareVersions({ ...v('a', 0), tsUs: null }, v('c', 1), lww)).toBeLessThan(0);
  });

  it('priority: within a window the higher node wins, across windows the later', () => {
    expect(compareVersions(v('a', 10_100), v('c', 10_900), prio)).toBeGreaterThan(0);
    expect(compareVersions(v('a', 10_900), v('c', 11_100), prio)).toBeLessThan(0);
  });

  it('is antisymmetric over random versions (every node decides the same)', () => {
    const nodes = ['a', 'b', 'c'];
    for (let i = 0; i < 500; i++) {
      const x = v(nodes[i % 3]!, (i * 7919) % 5000, BigInt(i % 4));
      const y = v(nodes[(i * 5) % 3]!, (i * 104729) % 5000, BigInt(i % 3));
      for (const o of [lww, prio])
        expect(Math.sign(compareVersions(x, y, o)) || 0).toBe(-Math.sign(compareVersions(y, x, o)) || 0);
    }
  });
});

describe('decide', () => {
  const live = (ver: Version) => ({ state: 'live' as const, version: ver, row: {} });
  it('defines insert/insert, update/delete and delete/update', () => {
    expect(decide('insert', v('b', 2), live(v('a', 1)), lww)).toEqual({
      apply: true,
      conflict: { kind: 'insert-insert', resolution: 'applied-remote' },
    });
    expect(decide('upsert', v('b', 1), { state: 'deleted', version: v('a', 2) }, lww)).toEqual({
      apply: false,
      conflict: { kind: 'update-delete', resolution: 'kept-local' },
    });
    expect(decide('upsert', v('b', 3), { state: 'deleted', version: v('a', 2) }, lww)).toEqual({
      apply: true,
    });
    expect(decide('delete', v('b', 1), live(v('a', 2)), lww)).toEqual({
      apply: false,
      conflict: { kind: 'delete-update', resolution: 'kept-local' },
    });
    expect(decide('delete', v('b', 1), { state: 'deleted', version: v('a', 2) }, lww)).toEqual({
      apply: false,
    });
    expect(decide('upsert', v('b', 1), live(v('b', 2)), lww)).toEqual({ apply: false });
    expect(decide('upsert', v('b', 1), { state: 'none' }, lww)).toEqual({ apply: true });
  });

  it('reads a local row by its xmin, an applied one by its stored version, a gone one by the later tombstone', () => {
    const meta = { node: 'b', tsUs: 5n, lsn: 9n, seq: 0n, deleted: false };
    expect(currentVersion('a', { row: { json: {}, tsUs: 7n, roident: 0 }, meta }, lww)).toMatchObject({
      version: { node: 'a', tsUs: 7n },
    });
    expect(currentVersion('a', { row: { json: {}, tsUs: 7n, roident: 3 }, meta }, lww)).toMatchObject({
      version: { node: 'b', tsUs: 5n },
    });
    expect(currentVersion('a', { meta: { ...meta, deleted: true }, localDeleteTsUs: 8n }, lww)).toMatchObject(
      { state: 'deleted', version: { node: 'a', tsUs: 8n } },
    );
    expect(currentVersion('a', { meta: { ...meta, deleted: true }, localDeleteTsUs: 4n }, lww)).toMatchObject(
      { state: 'deleted', version: { node: 'b' } },
    );
    expect(currentVersion('a', {}, lww)).toEqual({ state: 'none' });
  });
});
