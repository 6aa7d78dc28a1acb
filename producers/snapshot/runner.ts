// The snapshot feed of one producer run: the chunk loop plus the watermark window it feeds.
//
// It lives inside the producer because the watermark method needs the producer's own replication
// stream: the loop emits watermarks and SELECTs chunks on a normal connection, the stream brings
// the watermarks back in WAL order, the window (window.ts) turns each chunk into `op = r` events at
// its high watermark, the publisher sends them with the live changes, and once Kafka acknowledged
// the high watermark's position (the publisher's ackAfterPublish) the loop checkpoints the chunk
// and reads the next one. What to do is read from the checkpoint row: an automatic first snapshot
// (source.snapshot.mode = initial), a request (`pgcdc snapshot`), or an interrupted one to resume.
// A `pgcdc.signal` message in the stream makes an idle feed look again at once.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { SourceConfig } from '../../pipeline/config/schema.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import type { SourceItem } from '../postgres/assembler.ts';
import { formatLsn, type Lsn } from '../../schemas/lsn.ts';
import { SOURCE_SESSION_OPTIONS } from '../postgres/replication.ts';
import {
  beginSnapshot,
  ensureCheckpointTable,
  finishSnapshot,
  readCheckpoint,
  requestInitialSnapshot,
  requestSnapshot,
  resumeSnapshot,
  saveChunk,
  type Checkpoint,
  type ChunkDone,
  type CheckpointKey,
  type CheckpointTable,
} from './checkpoint.ts';
import { decodeSnapshotRow, keyTextOf, snapshotEvent, type SnapshotEventContext } from './events.ts';
import { formatProgressLine, progressOf, RateMeter } from './progress.ts';
import {
  absentColumns,
  emitHighWatermark,
  emitWatermark,
  estimateRows,
  maxKey,
  selectChunk,
  type ChunkSpec,
} from './source.ts';
import { chunkId, formatWatermark } from './watermark.ts';
import { SnapshotWindow, type ChunkOutcome } from './window.ts';

/** A key whose live partial updates keep winning is given up after this many re-reads. */
const MAX_REQUEUES = 10;
/** An idle feed also looks at its checkpoint row this often (signals make it look at once). */
const IDLE_RECHECK_MS = 30_000;

export interface SnapshotFeedDeps {
  source: SourceConfig;
  /**
   * The producer created the slot just now (first start, or the slot was dropped): the WAL
   * before it is lost to the targets, so with mode `initial` the table is fed again from the start.
   */
  slotCreated?: boolean;
  events: SnapshotEventContext;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

export interface SnapshotFeedState {
  snapshotId: string | undefined;
  rowsDone: number;
  rowsTotal: number | null;
}

export interface SnapshotFeed {
  /** Passes one stream item through the watermark window; returns what to publish, in order. */
  process(item: SourceItem): SourceItem[];
  /** The publisher reports that everything up to `lsn` is durable in Kafka. */
  acknowledged(lsn: Lsn): void;
  /** Runs until stop(); rejects on a failure (the producer then restarts and this run resumes). */
  run(): Promise<void>;
  stop(): Promise<void>;
  state(): SnapshotFeedState;
}

class Stopped extends Error {}

export function newSnapshotId(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(4).toString('hex')}`;
}

export function createSnapshotFeed(deps: SnapshotFeedDeps): SnapshotFeed {
  const { source } = deps;
  const cfg = source.snapshot;
  const contract = deps.events.contract;
  const table = `${contract.schema}.${contract.table}`;
  const ref: CheckpointTable = { schema: cfg.checkpointSchema, table: cfg.checkpointTable };
  const key: CheckpointKey = { slot: source.slot, tableName: table };
  const log = deps.logger.child({ component: 'snapshot', table });
  const now = deps.now ?? Date.now;

  let stopping = false;
  let acked: Lsn = 0n;
  let ackWaiters: { lsn: Lsn; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Outcomes of closed windows not yet taken by the loop (the stream may be faster than the loop). */
  const closed = new Map<string, ChunkOutcome>();
  let closeWaiter:
    { chunk: string; resolve: (o: ChunkOutcome) => void; reject: (e: Error) => void } | undefined;
  let wake: (() => void) | undefined;
  let running: Promise<void> | undefined;
  const state: SnapshotFeedState = { snapshotId: undefined, rowsDone: 0, rowsTotal: null };

  const window = new SnapshotWindow({
    keyText: (item) => keyTextOf(contract, item.key),
    makeEvent: (chunk, row, position) => ({
      kind: 'event',
      key: row.key,
      event: snapshotEvent(deps.events, chunk.snapshotId, row, {
        ...position,
        readAtUs: chunk.readAtUs,
        nowMs: BigInt(now()),
      }),
    }),
    onClosed: (o) => {
      const w = closeWaiter;
      if (w?.chunk === o.chunk) {
        closeWaiter = undefined;
        w.resolve(o);
      } else {
        closed.set(o.chunk, o);
      }
    },
  });

  const client = new pg.Client({
    connectionString: source.url,
    application_name: `pgcdc-snapshot:${source.slot}`,
    options: SOURCE_SESSION_OPTIONS,
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'snapshot connection error'));
  /** Checkpoint writes, while `client` reads the next chunk. */
  const saver = new pg.Client({
    connectionString: source.url,
    application_name: `pgcdc-snapshot-checkpoint:${source.slot}`,
  });
  saver.on('error', (err) => log.warn({ err: err.message }, 'snapshot checkpoint connection error'));

  const untilClosed = (chunk: string) =>
    new Promise<ChunkOutcome>((resolve, reject) => {
      const done = closed.get(chunk);
      closed.clear();
      if (done) resolve(done);
      else if (stopping) reject(new Stopped());
      else closeWaiter = { chunk, resolve, reject };
    });

  const untilAcked = (lsn: Lsn) =>
    new Promise<void>((resolve, reject) => {
      if (acked >= lsn) resolve();
      else if (stopping) reject(new Stopped());
      else ackWaiters.push({ lsn, resolve, reject });
    });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  function setGauges(done: number, total: number | null) {
    state.rowsDone = done;
    state.rowsTotal = total;
    deps.metrics?.snapshotRowsDone.set({ table }, done);
    if (total !== null) deps.metrics?.snapshotRowsTotal.set({ table }, Math.max(total, done));
  }

  /** What the checkpoint row asks for: a snapshot to start or resume, or nothing. */
  let slotIsNew = deps.slotCreated ?? false;
  async function nextJob(): Promise<Checkpoint | undefined> {
    let cp = await readCheckpoint(client, ref, key);
    if (!cp && cfg.mode === 'initial') {
      cp = (await requestInitialSnapshot(client, ref, key)) ?? (await readCheckpoint(client, ref, key));
    } else if (cp && slotIsNew && cfg.mode === 'initial' && cp.status !== 'requested') {
      log.info(
        { previous: cp.snapshotId, status: cp.status },
        'new replication slot: feeding the table again',
      );
      cp = await requestSnapshot(client, ref, key, { restart: true, reason: 'initial' });
    }
    slotIsNew = false;
    if (!cp || cp.status === 'done') return undefined;
    if (cp.status === 'running' && cp.snapshotId !== null) {
      return resumeSnapshot(client, ref, key, cp.snapshotId);
    }
    const snapshotId = newSnapshotId(now());
    const max = await maxKey(client, contract);
    const est =
      max === null
        ? { total: 0, exact: true }
        : await estimateRows(client, contract, max, cfg.filter, cfg.countTimeoutMs);
    const begun = await beginSnapshot(client, ref, key, {
      snapshotId,
      maxKey: max,
      total: est.total,
      batchSize: cfg.batchSize,
      filter: cfg.filter ?? null,
    });
    if (begun) {
      log.info(
        {
          snapshotId,
          reason: begun.reason,
          rowsTotal: est.total,
          totalIsEstimate: !est.exact,
          maxKey: max,
          batchSize: cfg.batchSize,
          filter: cfg.filter,
        },
        'snapshot started',
      );
    }
    return begun;
  }

  let warnedAbsent = 0;
  /** One chunk: low watermark, SELECT, rows to the window, high watermark; one short transaction. */
  async function readChunk(snapshotId: string, id: string, spec: ChunkSpec) {
    window.arm(snapshotId, id);
    try {
      await client.query('BEGIN');
      await emitWatermark(client, formatWatermark({ snapshotId, chunk: id, edge: 'low' }));
      const absent = await absentColumns(client, contract);
      if (absent.size > 0 && absent.size !== warnedAbsent) {
        warnedAbsent = absent.size;
        log.warn(
          { droppedNullable: [...absent] },
          'source table lacks nullable columns of the event contract: the snapshot reads them as null',
        );
      }
      const read = await selectChunk(client, { ...spec, absent });
      const scanRows = read.scan.map((r) => decodeSnapshotRow(contract, r));
      const pendingRows = read.pending.map((r) => decodeSnapshotRow(contract, r));
      window.fill({
        snapshotId,
        chunk: id,
        rows: [...pendingRows, ...scanRows],
        snapshot: read.snapshot,
        readAtUs: BigInt(now()) * 1000n,
      });
      await emitHighWatermark(client, formatWatermark({ snapshotId, chunk: id, edge: 'high' }));
      await client.query('COMMIT');
      return { scanRows, pendingRows };
    } catch (err) {
      window.disarm();
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  async function runSnapshot(cp: Checkpoint): Promise<void> {
    const snapshotId = cp.snapshotId!;
    const run = cp.resumes;
    const filter = cp.filter ?? undefined;
    let lastKey = cp.lastKey;
    let pending = cp.pendingKeys;
    let rowsDone = cp.rowsDone;
    const requeues = new Map<string, number>();
    const meter = new RateMeter(30_000);
    const started = now();
    let lastLog = started;
    let dropped = 0;
    let events = 0;
    let saving: Promise<boolean> | undefined;
    const superseded = () => {
      log.info({ snapshotId }, 'snapshot superseded (restart requested); looking at the checkpoint again');
    };
    meter.observe(started, rowsDone);
    setGauges(rowsDone, cp.rowsTotal);
    if (run > 0) {
      log.info(
        { snapshotId, run, fromKey: lastKey, rowsDone, rowsTotal: cp.rowsTotal, pendingKeys: pending.length },
        `resuming snapshot ${snapshotId} after key ${lastKey ?? '(none)'}`,
      );
    }
    state.snapshotId = snapshotId;
    window.startRecording();
    try {
      if (cp.maxKey === null && pending.length === 0) {
        // The table was empty when the snapshot started: later rows come through the stream.
        await finishSnapshot(client, ref, key, snapshotId);
        setGauges(0, 0);
        log.info({ snapshotId }, 'snapshot finished (the table was empty)');
        return;
      }
      for (let n = 1; !stopping; n++) {
        const id = chunkId(run, n);
        const limit = cfg.batchSize;
        const { scanRows, pendingRows } = await readChunk(snapshotId, id, {
          contract,
          afterKey: lastKey,
          maxKey: cp.maxKey ?? lastKey ?? '0',
          limit,
          pendingKeys: pending,
          filter,
        });
        const outcome = await untilClosed(id);

        const scanDone = scanRows.length < limit;
        if (scanRows.length > 0) lastKey = scanRows.at(-1)!.keyText;
        pending = outcome.requeue.filter((k) => {
          const times = (requeues.get(k) ?? 0) + 1;
          requeues.set(k, times);
          if (times <= MAX_REQUEUES) return true;
          log.warn(
            { snapshotId, key: k },
            'row keeps changing with partial updates during its chunk; not read again (a later snapshot repairs a target that lacks it)',
          );
          return false;
        });
        const all = [...pendingRows, ...scanRows];
        const batch = {
          size: all.length,
          firstKey: all[0]?.keyText ?? null,
          lastKey: all.at(-1)?.keyText ?? null,
        };
        const done: ChunkDone = {
          snapshotId,
          lastKey: scanRows.length > 0 ? lastKey : null,
          pendingKeys: pending,
          rows: scanRows.length,
          events: outcome.emitted,
          batch,
        };
        // The checkpoint follows Kafka's acknowledgement of the high watermark, in chunk order, on
        // its own connection, while the next chunk is read: at most one chunk ahead of it.
        const save = untilAcked(outcome.highLsn).then(async () => {
          const ok = await saveChunk(saver, ref, key, done);
          if (ok) {
            rowsDone += done.rows;
            setGauges(rowsDone, cp.rowsTotal);
            meter.observe(now(), rowsDone);
          }
          return ok;
        });
        save.catch(() => undefined); // awaited below or by the next chunk
        const previous = saving;
        saving = save;
        if (previous && !(await previous)) return superseded();
        dropped += outcome.dropped;
        events += outcome.emitted;
        const t = now();
        if (t - lastLog >= cfg.progressIntervalMs) {
          lastLog = t;
          const p = progressOf({ done: rowsDone, total: cp.rowsTotal, rate: meter.rate, lastBatch: batch });
          log.info(
            { snapshotId, ...p, chunk: id, highLsn: formatLsn(outcome.highLsn) },
            `snapshot ${formatProgressLine(p)}`,
          );
        }
        if (scanDone && pending.length === 0) {
          if (!(await save)) return superseded();
          await finishSnapshot(saver, ref, key, snapshotId);
          setGauges(rowsDone, rowsDone);
          const secs = (now() - started) / 1000;
          log.info(
            {
              snapshotId,
              rowsDone,
              eventsThisRun: events,
              droppedForLiveChanges: dropped,
              seconds: secs,
              rowsPerSecond: secs > 0 ? Math.round((rowsDone - cp.rowsDone) / secs) : undefined,
            },
            'snapshot finished',
          );
          return;
        }
      }
    } finally {
      window.disarm();
      window.stopRecording();
      // A save still in flight completes after its acknowledgement, or fails harmlessly (stop,
      // superseded); never wait for it here: after a stream failure that acknowledgement never comes.
    }
  }

  async function loop(): Promise<void> {
    try {
      await client.connect();
      await saver.connect();
      await ensureCheckpointTable(client, ref);
      while (!stopping) {
        const job = await nextJob();
        if (job) await runSnapshot(job);
        else await sleep(IDLE_RECHECK_MS);
      }
    } catch (err) {
      if (!(err instanceof Stopped) && !stopping) throw err;
    } finally {
      await client.end().catch(() => undefined);
      await saver.end().catch(() => undefined);
    }
  }

  return {
    process(item) {
      if (item.kind === 'signal') {
        log.info({ content: item.content, lsn: formatLsn(item.lsn) }, 'signal received');
        wake?.();
      }
      return window.process(item);
    },
    acknowledged(lsn) {
      if (lsn > acked) acked = lsn;
      const ready = ackWaiters.filter((w) => w.lsn <= acked);
      ackWaiters = ackWaiters.filter((w) => w.lsn > acked);
      for (const w of ready) w.resolve();
    },
    run() {
      running ??= loop();
      return running;
    },
    async stop() {
      stopping = true;
      wake?.();
      const err = new Stopped();
      closeWaiter?.reject(err);
      closeWaiter = undefined;
      for (const w of ackWaiters) w.reject(err);
      ackWaiters = [];
      await running?.catch(() => undefined);
    },
    state: () => ({ ...state }),
  };
}
