// The chunk loop of one running snapshot: read a chunk (low watermark, SELECT, high watermark in
// one short transaction), wait for its window to close in the stream, and checkpoint it once Kafka
// acknowledged its high watermark; then the next chunk. The scan's arithmetic is plan.ts
// (advanceScan); the waits are acks.ts; the read itself is reader.ts.
//
// Guarantee: a chunk is checkpointed only after Kafka acknowledged every event of it (its high
// watermark's position), in chunk order; so a killed producer resumes after the last durable chunk
// and re-reads at most the chunks after it. At most two chunks are published and not checkpointed:
// a chunk's rows enter the stream only once the checkpoint of the chunk two before it is written
// (the gate, which the stream awaits at the chunk's high watermark). The next chunk is read as
// soon as the previous window closed, while its rows are encoded and that checkpoint is written:
// the read no longer waits for Kafka's acknowledgement and the checkpoint write.
import type pg from 'pg';
import type { SourceConfig } from '../../pipeline/config/schema.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { TableContract } from '../../schemas/contract.ts';
import { formatLsn } from '../../schemas/lsn.ts';
import type { AckTracker, ClosedChunks } from './acks.ts';
import {
  finishSnapshot,
  saveChunk,
  type Checkpoint,
  type CheckpointKey,
  type CheckpointTable,
} from './checkpoint.ts';
import { advanceScan, type ScanState } from './plan.ts';
import { formatProgressLine, progressOf, RateMeter } from './progress.ts';
import type { ChunkReader } from './reader.ts';
import type { StageTimings } from './timings.ts';
import { chunkId } from './watermark.ts';
import type { SnapshotWindow } from './window.ts';

export interface ChunkLoopDeps {
  /** Reads the chunks (and emits the watermarks). */
  client: pg.Client;
  /** Writes the checkpoint while `client` reads the next chunk. */
  saver: pg.Client;
  ref: CheckpointTable;
  key: CheckpointKey;
  contract: TableContract;
  cfg: SourceConfig['snapshot'];
  window: SnapshotWindow;
  acks: AckTracker;
  closed: ClosedChunks;
  log: Logger;
  now: () => number;
  stopping: () => boolean;
  /** Progress figures (metrics and the feed's state). */
  setGauges: (done: number, total: number | null) => void;
  /** Where the scan stands once a chunk's window closed (unread.ts). */
  setScan?: (scan: ScanState) => void;
  /**
   * The stream publishes `chunk`'s rows only once `wait` settled (the checkpoint two chunks back);
   * undefined: no gate. See the header.
   */
  setGate?: (chunk: string, wait: Promise<unknown> | undefined) => void;
  /** where the snapshot's time goes (timings.ts); reported with its end */
  timings?: StageTimings;
}

/** Runs one snapshot from its checkpoint to its end (or until stopped / superseded). */
export async function runSnapshot(d: ChunkLoopDeps, reader: ChunkReader, cp: Checkpoint): Promise<void> {
  const { cfg, log, now, window } = d;
  const snapshotId = cp.snapshotId!;
  const run = cp.resumes;
  let scan: ScanState = { lastKey: cp.lastKey, pending: cp.pendingKeys, requeues: new Map() };
  let rowsDone = cp.rowsDone;
  const meter = new RateMeter(30_000);
  const started = now();
  let lastLog = started;
  let dropped = 0;
  let events = 0;
  let rereads = 0;
  /** the checkpoint writes of the last two chunks read (older first) */
  let olderSave: Promise<boolean> | undefined;
  let saving: Promise<boolean> | undefined;
  const superseded = () => {
    log.info({ snapshotId }, 'snapshot superseded (restart requested); looking at the checkpoint again');
  };
  meter.observe(started, rowsDone);
  d.setGauges(rowsDone, cp.rowsTotal);
  if (run > 0) {
    log.info(
      {
        snapshotId,
        run,
        fromKey: scan.lastKey,
        rowsDone,
        rowsTotal: cp.rowsTotal,
        pendingKeys: scan.pending.length,
      },
      `resuming snapshot ${snapshotId} after key ${scan.lastKey ?? '(none)'}`,
    );
  }
  d.timings?.reset();
  window.startRecording();
  try {
    if (cp.maxKey === null && scan.pending.length === 0) {
      // The table was empty when the snapshot started: later rows come through the stream.
      await finishSnapshot(d.client, d.ref, d.key, snapshotId);
      d.setGauges(0, 0);
      log.info({ snapshotId }, 'snapshot finished (the table was empty)');
      return;
    }
    for (let n = 1; !d.stopping(); n++) {
      const id = chunkId(run, n);
      const limit = cfg.batchSize;
      // this chunk's rows go out once the checkpoint two chunks back is written (header)
      const gate = olderSave;
      d.setGate?.(id, gate);
      const { scanRows, pendingRows } = await reader.read(snapshotId, id, {
        contract: d.contract,
        afterKey: scan.lastKey,
        maxKey: cp.maxKey ?? scan.lastKey ?? '0',
        limit,
        pendingKeys: [...scan.pending],
        // From the configuration only: the checkpoint row never holds SQL to execute.
        filter: cfg.filter,
      });
      const waited = d.timings?.now();
      const outcome = await d.closed.until(id);
      const closedAt = d.timings?.now();
      if (waited !== undefined) d.timings!.since('window', waited);
      const step = advanceScan(
        scan,
        {
          snapshotId,
          limit,
          scanKeys: scanRows.map((r) => r.keyText),
          pendingKeys: pendingRows.map((r) => r.keyText),
        },
        outcome,
      );
      scan = step.next;
      d.setScan?.(scan);
      if (outcome.reread) {
        rereads++;
        log.warn(
          { snapshotId, chunk: id, rereads, rememberedKeys: window.rememberedKeys },
          'chunk read again: a transaction inside its window changed more keys than the window remembers (maxTrackedKeys); its rows wait for a read that sees it',
        );
      }
      for (const k of step.givenUp) {
        log.warn(
          { snapshotId, key: k },
          'row keeps changing with partial updates during its chunk; not read again (a later snapshot repairs a target that lacks it)',
        );
      }
      // The checkpoint follows Kafka's acknowledgement of the high watermark, in chunk order, on
      // its own connection, while the next chunks are read (the gate bounds how far: header).
      const save = d.acks.until(outcome.highLsn).then(async () => {
        if (closedAt !== undefined) d.timings!.since('ack', closedAt);
        const writing = d.timings?.now();
        const ok = await saveChunk(d.saver, d.ref, d.key, step.done);
        if (writing !== undefined) d.timings!.since('checkpoint', writing);
        if (ok) {
          rowsDone += step.done.rows;
          d.setGauges(rowsDone, cp.rowsTotal);
          meter.observe(now(), rowsDone);
        }
        return ok;
      });
      save.catch(() => undefined); // awaited below or by a later chunk
      // the gate passed before this window closed: its checkpoint is written (or failed)
      if (gate && !(await (d.timings?.time('gate', gate) ?? gate))) return superseded();
      olderSave = saving;
      saving = save;
      dropped += outcome.dropped;
      events += outcome.emitted;
      const t = now();
      if (t - lastLog >= cfg.progressIntervalMs) {
        lastLog = t;
        const p = progressOf({
          done: rowsDone,
          total: cp.rowsTotal,
          rate: meter.rate,
          lastBatch: step.done.batch,
        });
        log.info(
          {
            snapshotId,
            ...p,
            chunk: id,
            highLsn: formatLsn(outcome.highLsn),
            ...(d.timings ? { stagesMs: d.timings.totals() } : {}),
          },
          `snapshot ${formatProgressLine(p)}`,
        );
      }
      if (step.finished) {
        if (!(await save)) return superseded();
        await finishSnapshot(d.saver, d.ref, d.key, snapshotId);
        d.setGauges(rowsDone, rowsDone);
        const secs = (now() - started) / 1000;
        log.info(
          {
            snapshotId,
            rowsDone,
            eventsThisRun: events,
            droppedForLiveChanges: dropped,
            seconds: secs,
            rowsPerSecond: secs > 0 ? Math.round((rowsDone - cp.rowsDone) / secs) : undefined,
            ...(d.timings ? { stagesMs: d.timings.totals() } : {}),
          },
          'snapshot finished',
        );
        return;
      }
    }
  } finally {
    d.setGate?.('', undefined);
    window.disarm();
    window.stopRecording();
    // A save still in flight completes after its acknowledgement, or fails harmlessly (stop,
    // superseded); never wait for it here: after a stream failure that acknowledgement never comes.
  }
}
