// The snapshot's checkpoint state machine, as pure functions: what the checkpoint row asks the
// feed to do next (planJob), and how the scan advances when a chunk's window closed (advanceScan).
// The runner (runner.ts) and the chunk loop (chunks.ts) do the I/O these decide; table tests pin
// every transition (test/unit/producers/snapshot/plan.test.ts).
//
// Row lifecycle: (none) -> requested -> running -> done, and back to requested on a request
// (`pgcdc snapshot`), a restart, a new slot in mode `initial`, or a filter changed since the
// running snapshot began. Only a `running` row begun with the configured filter is resumed.
import type { Checkpoint, CheckpointStatus, ChunkDone } from './checkpoint.ts';

/** A key whose live partial updates keep winning is given up after this many re-reads. */
export const MAX_REQUEUES = 10;

export type JobStep =
  /** Nothing to do: no row, or the last snapshot is done. */
  | { kind: 'idle' }
  /** Mode `initial` and this slot never had a snapshot of the table: write the request. */
  | { kind: 'request-initial' }
  /** Ask again from the first key (the running or finished snapshot does not count any more). */
  | {
      kind: 'restart';
      reason: 'initial' | 'filter-changed';
      previous: string | null;
      status: CheckpointStatus;
    }
  /** Carry on with the interrupted snapshot. */
  | { kind: 'resume'; snapshotId: string }
  /** requested -> running: a new snapshot id, the scan's end and the row estimate. */
  | { kind: 'begin' };

export interface PlanContext {
  mode: 'initial' | 'never';
  /** The producer created the slot just now: the WAL before it is lost to the targets. */
  slotIsNew: boolean;
  /** Fingerprint of the configured filter (checkpoint.ts filterFingerprint); null: no filter. */
  filterFingerprint: string | null;
  /** A request was already written in this look: act on the row as it is now. */
  requested: boolean;
}

export function planJob(cp: Checkpoint | undefined, ctx: PlanContext): JobStep {
  if (!ctx.requested) {
    if (!cp && ctx.mode === 'initial') return { kind: 'request-initial' };
    if (cp && ctx.slotIsNew && ctx.mode === 'initial' && cp.status !== 'requested') {
      return { kind: 'restart', reason: 'initial', previous: cp.snapshotId, status: cp.status };
    }
  }
  if (!cp) return { kind: 'idle' };
  switch (cp.status) {
    case 'done':
      return { kind: 'idle' };
    case 'requested':
      return { kind: 'begin' };
    case 'running':
      if (cp.snapshotId === null) return { kind: 'begin' };
      // Chunks read with another filter than the configured one would leave the targets with
      // neither selection: start again. (The row keeps only a fingerprint, never the SQL.)
      if (cp.filterFingerprint !== ctx.filterFingerprint) {
        return { kind: 'restart', reason: 'filter-changed', previous: cp.snapshotId, status: cp.status };
      }
      return { kind: 'resume', snapshotId: cp.snapshotId };
    default:
      return cp.status satisfies never;
  }
}

/** Where the scan of a running snapshot stands (what the checkpoint holds, plus requeue counts). */
export interface ScanState {
  /** Last key of the key scan read so far (null: none yet). */
  lastKey: string | null;
  /** Keys to read again in the next chunk. */
  pending: readonly string[];
  /** How often each key was handed back (a key past MAX_REQUEUES is given up). */
  requeues: ReadonlyMap<string, number>;
}

export interface ChunkRead {
  snapshotId: string;
  /** The feed limit the chunk's key scan ran with. */
  limit: number;
  /** Keys of the key-scan rows, in key order. */
  scanKeys: readonly string[];
  /** Keys of the rows read again (pending keys that still exist and match the filter). */
  pendingKeys: readonly string[];
}

export interface ChunkResult {
  /** Rows the window emitted. */
  emitted: number;
  /** Keys whose winning live change was a partial update: read them again. */
  requeue: readonly string[];
  /** The window withheld the whole chunk (window.ts, coarse guard): read the same keys again. */
  reread: boolean;
}

export interface ScanStep {
  next: ScanState;
  /** What to checkpoint once Kafka acknowledged the chunk's high watermark. */
  done: ChunkDone;
  /** Nothing left to read: finish once this chunk is checkpointed. */
  finished: boolean;
  /** Keys requeued too often: not read again (logged by the loop). */
  givenUp: string[];
}

export function advanceScan(s: ScanState, read: ChunkRead, result: ChunkResult): ScanStep {
  if (result.reread) {
    // Nothing of this chunk was emitted: the next chunk reads the same keys again.
    return {
      next: s,
      done: {
        snapshotId: read.snapshotId,
        lastKey: null,
        pendingKeys: [...s.pending],
        rows: 0,
        events: 0,
        batch: { size: 0, firstKey: null, lastKey: null },
      },
      finished: false,
      givenUp: [],
    };
  }
  const requeues = new Map(s.requeues);
  const givenUp: string[] = [];
  const pending = result.requeue.filter((k) => {
    const times = (requeues.get(k) ?? 0) + 1;
    requeues.set(k, times);
    if (times <= MAX_REQUEUES) return true;
    givenUp.push(k);
    return false;
  });
  const scanned = read.scanKeys.length;
  const lastKey = scanned > 0 ? read.scanKeys[scanned - 1]! : s.lastKey;
  const all = [...read.pendingKeys, ...read.scanKeys];
  return {
    next: { lastKey, pending, requeues },
    done: {
      snapshotId: read.snapshotId,
      lastKey: scanned > 0 ? lastKey : null,
      pendingKeys: pending,
      rows: scanned,
      events: result.emitted,
      batch: { size: all.length, firstKey: all[0] ?? null, lastKey: all.at(-1) ?? null },
    },
    finished: scanned < read.limit && pending.length === 0,
    givenUp,
  };
}
