// producers/snapshot/watermark.ts: watermark content, pg_snapshot text and the visibility rule the
// window relies on (32-bit pgoutput xids against 64-bit snapshot xids, across wraparound).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chunkId,
  finishedBefore,
  formatWatermark,
  parsePgSnapshot,
  parseWatermark,
  visibleIn,
  widenXid,
} from '../../../../producers/snapshot/watermark.ts';

describe('watermark content', () => {
  it('formats <snapshotId>:<run>.<n>:<edge> and parses it back', () => {
    const w = { snapshotId: 'mwzm4a1b2c3d', chunk: chunkId(2, 17), edge: 'high' as const };
    expect(formatWatermark(w)).toBe('mwzm4a1b2c3d:2.17:high');
    expect(parseWatermark('mwzm4a1b2c3d:2.17:high')).toEqual(w);
    expect(parseWatermark('s_1-x:0.1:low')).toEqual({ snapshotId: 's_1-x', chunk: '0.1', edge: 'low' });
  });

  it('rejects anything else (it then only marks a position)', () => {
    for (const bad of ['', 'x', 'a:1:low', 'a:1.2:middle', 'a b:1.2:low', 'a:1.2:low:x', 'a:.2:low']) {
      expect(parseWatermark(bad), bad).toBeUndefined();
    }
    expect(() => formatWatermark({ snapshotId: 'a:b', chunk: '0.1', edge: 'low' })).toThrow(/snapshot id/);
    expect(() => formatWatermark({ snapshotId: 'a', chunk: '1', edge: 'low' })).toThrow(/chunk id/);
  });

  it('round-trips any valid id, chunk and edge (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        fc.nat({ max: 1e9 }),
        fc.nat({ max: 1e9 }),
        fc.constantFrom('low' as const, 'high' as const),
        (snapshotId, run, n, edge) => {
          const w = { snapshotId, chunk: chunkId(run, n), edge };
          expect(parseWatermark(formatWatermark(w))).toEqual(w);
        },
      ),
    );
  });
});

describe('pg_snapshot visibility', () => {
  it('parses xmin:xmax:xip', () => {
    expect(parsePgSnapshot('100:105:100,102')).toEqual({
      xmin: 100n,
      xmax: 105n,
      xip: new Set([100n, 102n]),
    });
    expect(parsePgSnapshot('7:7:')).toEqual({ xmin: 7n, xmax: 7n, xip: new Set() });
    expect(() => parsePgSnapshot('nonsense')).toThrow(/pg_snapshot/);
  });

  it('sees transactions finished before it, not those in progress or started after it', () => {
    const s = parsePgSnapshot('100:105:100,102');
    const table: [number, boolean][] = [
      [99, true], // finished before xmin
      [100, false], // in progress
      [101, true], // finished between xmin and xmax
      [102, false], // in progress
      [104, true],
      [105, false], // started after the snapshot
      [200, false],
    ];
    for (const [xid, seen] of table) expect(visibleIn(s, BigInt(xid)), String(xid)).toBe(seen);
    expect(finishedBefore(s, 99n)).toBe(true);
    expect(finishedBefore(s, 100n)).toBe(false);
  });

  it('maps 32-bit xids to the epoch of the snapshot, across wraparound', () => {
    const epoch1 = 1n << 32n;
    expect(widenXid(5n, epoch1 + 10n)).toBe(epoch1 + 5n);
    expect(widenXid(0xfffffff0n, epoch1 + 10n)).toBe(0xfffffff0n); // previous epoch
    expect(widenXid(20n, 0xfffffff0n)).toBe(epoch1 + 20n); // next epoch
    const s = { xmin: epoch1 - 5n, xmax: epoch1 + 3n, xip: new Set([epoch1 + 1n]) };
    expect(visibleIn(s, 0xfffffff0n)).toBe(true);
    expect(visibleIn(s, 0xfffffffen)).toBe(true);
    expect(visibleIn(s, 1n)).toBe(false);
    expect(visibleIn(s, 2n)).toBe(true);
    expect(visibleIn(s, 3n)).toBe(false);
  });
});
