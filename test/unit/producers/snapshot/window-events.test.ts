// producers/snapshot/runner.ts createWindow: a chunk's rows become op=r events at its high
// watermark, positioned just before it, with the chunk's read time; the clock is read once per
// chunk (ts_ms), not once per row.
import { describe, expect, it } from 'vitest';
import { ClosedChunks } from '../../../../producers/snapshot/acks.ts';
import { decodeSnapshotRow, type RawRow } from '../../../../producers/snapshot/events.ts';
import { createWindow } from '../../../../producers/snapshot/runner.ts';
import type { PgSnapshot } from '../../../../producers/snapshot/watermark.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { usersRow, type RawTuple } from '../../support/pgoutput.ts';

const contract = loadContract();
const asRawRow = (t: RawTuple): RawRow => contract.columns.map((c) => t[c.name] ?? null);
const snap: PgSnapshot = { xmin: 10n, xmax: 10n, xip: new Set() };

describe('createWindow', () => {
  it('makes the events of one chunk with one clock reading, the next chunk with its own', () => {
    let clock = 1_000;
    const now = () => clock++;
    const window = createWindow({ contract, db: 'd', name: 'pgcdc', version: 't' }, now, new ClosedChunks());
    const chunk = (id: string, keys: number[], highLsn: bigint) => {
      window.arm('s1', id);
      window.fill({
        snapshotId: 's1',
        chunk: id,
        rows: keys.map((k) => decodeSnapshotRow(contract, asRawRow(usersRow(k)))),
        snapshot: snap,
        readAtUs: 7n,
      });
      return window.process({ kind: 'watermark', lsn: highLsn, snapshotId: 's1', chunk: id, edge: 'high' });
    };
    const first = chunk('0.1', [1, 2, 3], 500n).flatMap((i) => (i.kind === 'event' ? [i.event] : []));
    const second = chunk('0.2', [4, 5], 600n).flatMap((i) => (i.kind === 'event' ? [i.event] : []));
    expect(first.map((e) => [e.op, e.source.commit_lsn, e.source.seq, e.source.ts_us, e.event_id])).toEqual([
      ['r', 499n, 0n, 7n, 'snap:s1:1'],
      ['r', 499n, 1n, 7n, 'snap:s1:2'],
      ['r', 499n, 2n, 7n, 'snap:s1:3'],
    ]);
    expect(new Set(first.map((e) => e.ts_ms))).toEqual(new Set([1_000n]));
    expect(new Set(second.map((e) => e.ts_ms))).toEqual(new Set([1_001n]));
  });
});
