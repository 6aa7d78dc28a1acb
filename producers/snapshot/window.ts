// The DBLog watermark window, inside the producer's stream. Pure: items in (WAL order), items out.
//
// For each chunk the snapshot runner arms a window, emits the low watermark, SELECTs the chunk
// (handing the rows and the SELECT's pg_snapshot over with fill()), then emits the high watermark.
// When the high watermark comes through the stream, the chunk's rows are emitted as `op = r`
// events positioned just before it (snapshotPosition), followed by the watermark item itself (a position the publisher
// acknowledges once Kafka has everything before it, which is when the runner checkpoints).
//
// Which live changes win over a chunk row: a change to the same key by a transaction the SELECT
// did not see (not visible in its pg_snapshot) that comes through the stream before the high
// watermark. Those are the transactions that committed inside the window, and also the rare one
// whose commit record precedes the low watermark but which was not yet visible when the SELECT
// started (PostgreSQL writes the commit record before it publishes the commit). Changes by
// transactions the SELECT saw are already in the row, so the row stays: the chunk then carries
// the full row even when the live change was an update without its unchanged TOAST columns.
// A key whose winning live change is such a partial update is handed back to the runner
// (`requeue`) to be read again in a later chunk, so a target that never had the row gets it whole.
//
// To know those transactions, the window records the keys each transaction touched while a
// snapshot runs, and forgets every transaction the latest chunk's SELECT saw: a transaction visible
// to one snapshot is visible to every later one (it had committed before), and chunks are read one
// after the other, so it can never win over a later chunk's row. (Forgetting only transactions
// older than the snapshot's xmin kept everything while an idle-in-transaction session held xmin
// back.) What is left is what committed since the latest SELECT: bounded by the write rate over
// one chunk's round trip.
//
// Memory bound (maxTrackedKeys): should the keys remembered still exceed it (one transaction
// changing millions of rows inside a window), the largest transactions are kept only as "touched
// some keys" (coarse). A chunk whose window holds a coarse transaction the SELECT did not see
// cannot tell which of its rows lost, so it emits none of them and asks to be read again (`reread`);
// the next read sees that transaction and emits the rows. Correct at the price of a re-read; a
// stream of such transactions pauses the scan (warned by the loop), it never feeds a stale row.
import type { SourceItem } from '../postgres/assembler.ts';
import type { Lsn } from '../../schemas/lsn.ts';
import type { SnapshotRow } from './events.ts';
import { visibleIn, type PgSnapshot } from './watermark.ts';

export interface ChunkRows {
  snapshotId: string;
  chunk: string;
  /** Rows in the order they are emitted (key order). */
  rows: SnapshotRow[];
  /** Visibility of the SELECT; undefined when it returned no rows. */
  snapshot: PgSnapshot | undefined;
  /** When the rows were read (microseconds since the epoch): the events' ts_us. */
  readAtUs: bigint;
}

export interface SnapshotPosition {
  /** The high watermark's LSN (source.lsn). */
  lsn: Lsn;
  /** commit_lsn of the chunk's events: just before the high watermark's LSN. */
  commitLsn: Lsn;
  seq: bigint;
}

/**
 * Where the i-th row of a chunk sorts among the changes. PostgreSQL reports a logical message at
 * the END of its WAL record, and the next transaction's commit record may start right there, with
 * that same LSN as its commit_lsn. So the rows take `high watermark - 1`: after every transaction
 * committed before the watermark (whose commit record ends before the watermark's record starts)
 * and before every transaction committed after it (commit_lsn >= the watermark's LSN).
 */
export function snapshotPosition(highLsn: Lsn, i: bigint): SnapshotPosition {
  return { lsn: highLsn, commitLsn: highLsn - 1n, seq: i };
}

export interface ChunkOutcome {
  snapshotId: string;
  chunk: string;
  highLsn: Lsn;
  lowSeen: boolean;
  emitted: number;
  /** Rows left out because a live change the SELECT did not see won. */
  dropped: number;
  /** Keys to read again: their winning live change was an update without all columns. */
  requeue: string[];
  /** No row was emitted: a coarse transaction the SELECT did not see; read the chunk again. */
  reread: boolean;
}

/** Default bound of the keys remembered per window (about 100 bytes each). */
export const MAX_TRACKED_KEYS = 200_000;

export interface WindowOptions {
  keyText: (item: Extract<SourceItem, { kind: 'event' }>) => string;
  /** Builds the `op = r` event of a row at its position (snapshotPosition). */
  makeEvent: (
    chunk: ChunkRows,
    row: SnapshotRow,
    position: SnapshotPosition,
  ) => Extract<SourceItem, { kind: 'event' }>;
  onClosed: (outcome: ChunkOutcome) => void;
  /** Bound of the keys remembered (default MAX_TRACKED_KEYS); beyond it, coarse transactions. */
  maxTrackedKeys?: number;
}

/** A transaction remembered only as having touched keys (too many to keep). */
const COARSE = 'coarse';

interface Armed {
  snapshotId: string;
  chunk: string;
  lowSeen: boolean;
  rows: ChunkRows | undefined;
}

export class SnapshotWindow {
  private armed: Armed | undefined;
  private recording = false;
  /** xid (32-bit, as pgoutput has it) -> key -> some change of it was a partial update */
  private readonly touched = new Map<bigint, Map<string, boolean> | typeof COARSE>();
  /** Keys held in `touched` (coarse transactions count none). */
  private keys = 0;
  private readonly maxKeys: number;

  constructor(private readonly opts: WindowOptions) {
    this.maxKeys = Math.max(1, opts.maxTrackedKeys ?? MAX_TRACKED_KEYS);
  }

  /** From now on, remember which keys each transaction changed (call before the first chunk). */
  startRecording(): void {
    this.recording = true;
  }

  stopRecording(): void {
    this.recording = false;
    this.touched.clear();
    this.keys = 0;
  }

  /** Transactions remembered (for tests and diagnostics). */
  get rememberedTransactions(): number {
    return this.touched.size;
  }

  /** Keys remembered (bounded by maxTrackedKeys; for tests and diagnostics). */
  get rememberedKeys(): number {
    return this.keys;
  }

  /** Expect the watermarks of this chunk. Call before emitting its low watermark. */
  arm(snapshotId: string, chunk: string): void {
    this.armed = { snapshotId, chunk, lowSeen: false, rows: undefined };
  }

  /** Hand over the chunk's rows. Call before emitting its high watermark. */
  fill(rows: ChunkRows): void {
    const a = this.armed;
    if (!a || a.snapshotId !== rows.snapshotId || a.chunk !== rows.chunk) {
      throw new Error(`snapshot window: fill for chunk ${rows.snapshotId}:${rows.chunk} that is not armed`);
    }
    a.rows = rows;
  }

  disarm(): void {
    this.armed = undefined;
  }

  /** One stream item in, the items to publish out (in order). */
  process(item: SourceItem): SourceItem[] {
    switch (item.kind) {
      case 'event':
        if (this.recording && item.event.source.tx_id !== null) this.remember(item);
        return [item];
      case 'watermark':
        return this.watermark(item);
      case 'commit':
      case 'heartbeat':
      case 'truncate':
      case 'signal':
        return [item];
      default:
        return item satisfies never;
    }
  }

  private remember(item: Extract<SourceItem, { kind: 'event' }>): void {
    const xid = item.event.source.tx_id!;
    let keys = this.touched.get(xid);
    if (keys === COARSE) return;
    if (!keys) this.touched.set(xid, (keys = new Map<string, boolean>()));
    const key = this.opts.keyText(item);
    const partial = item.event.op === 'u' && item.event.unchanged.length > 0;
    const had = keys.get(key);
    if (had === undefined) this.keys++;
    keys.set(key, (had ?? false) || partial);
    if (this.keys > this.maxKeys) this.coarsen();
  }

  /** Over the bound: the largest transactions become coarse until half of it is left. */
  private coarsen(): void {
    const bySize = [...this.touched].flatMap(([xid, k]) => (k === COARSE ? [] : [{ xid, n: k.size }]));
    bySize.sort((a, b) => b.n - a.n);
    for (const { xid, n } of bySize) {
      if (this.keys <= this.maxKeys / 2) break;
      this.touched.set(xid, COARSE);
      this.keys -= n;
    }
  }

  private watermark(item: Extract<SourceItem, { kind: 'watermark' }>): SourceItem[] {
    const a = this.armed;
    // Another snapshot's, an earlier run's, or one re-read after a restart: only a position.
    if (!a || a.snapshotId !== item.snapshotId || a.chunk !== item.chunk) return [item];
    if (item.edge === 'low') {
      a.lowSeen = true;
      return [item];
    }
    const chunk = a.rows;
    if (!chunk) {
      throw new Error(`snapshot window: high watermark of ${item.snapshotId}:${item.chunk} before its rows`);
    }
    this.armed = undefined;
    const snap = chunk.snapshot;
    const lost = new Map<string, boolean>();
    let reread = false;
    if (snap) {
      for (const [xid, keys] of this.touched) {
        if (visibleIn(snap, xid)) {
          // Seen by this SELECT, so by every later one: it cannot win over a later chunk's row.
          this.touched.delete(xid);
          if (keys !== COARSE) this.keys -= keys.size;
        } else if (keys === COARSE) {
          reread = true;
        } else {
          for (const [key, partial] of keys) lost.set(key, (lost.get(key) ?? false) || partial);
        }
      }
    }
    const out: SourceItem[] = [];
    const requeue: string[] = [];
    let seq = 0n;
    for (const row of reread ? [] : chunk.rows) {
      const partial = lost.get(row.keyText);
      if (partial === undefined) {
        out.push(this.opts.makeEvent(chunk, row, snapshotPosition(item.lsn, seq++)));
      } else if (partial) {
        requeue.push(row.keyText);
      }
    }
    out.push(item);
    this.opts.onClosed({
      snapshotId: item.snapshotId,
      chunk: item.chunk,
      highLsn: item.lsn,
      lowSeen: a.lowSeen,
      emitted: Number(seq),
      dropped: chunk.rows.length - Number(seq),
      requeue,
      reread,
    });
    return out;
  }
}
