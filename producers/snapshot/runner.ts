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
import type { SourceConfig } from '../../pipeline/config/schema.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import type { SourceItem } from '../postgres/assembler.ts';
import type { Row, TableContract } from '../../schemas/contract.ts';
import { formatLsn, type Lsn } from '../../schemas/lsn.ts';
import { SOURCE_SESSION_OPTIONS } from '../postgres/replication.ts';
import { AckTracker, ClosedChunks, Stopped, Waker } from './acks.ts';
import {
  beginSnapshot,
  ensureCheckpointTable,
  filterFingerprint,
  readCheckpoint,
  requestInitialSnapshot,
  requestSnapshot,
  resumeSnapshot,
  type Checkpoint,
  type CheckpointKey,
  type CheckpointTable,
} from './checkpoint.ts';
import { runSnapshot, type ChunkLoopDeps } from './chunks.ts';
import { ChunkReader } from './reader.ts';
import { keyTextOf, snapshotEvent, type SnapshotEventContext } from './events.ts';
import { planJob, type JobStep, type PlanContext } from './plan.ts';
import { estimateRows, maxKey } from './source.ts';
import { mayBeUnread, type SnapshotProgress } from './unread.ts';
import { StageTimings } from './timings.ts';
import { SnapshotWindow } from './window.ts';

const nameOf = (c: { schema: string; table: string }) => `${c.schema}.${c.table}`;

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
  /** the connection factory (source role for reads, position role for checkpoints) */
  pg?: PgConnections;
  /**
   * The table's contract as it is now, asked before each snapshot run (source.schemaChanges
   * automatic: evolved from the catalog first, producers/captured-tables.ts); default
   * `events.contract` throughout.
   */
  contractNow?: () => Promise<TableContract>;
}

export interface SnapshotFeedState {
  /** `schema.table` of the table being fed */
  table?: string;
  snapshotId: string | undefined;
  rowsDone: number;
  rowsTotal: number | null;
}

export interface SnapshotFeed {
  /**
   * What the stream must await before it passes `item` on (process): a chunk's high watermark
   * waits for the checkpoint two chunks back (chunks.ts); undefined for every other item.
   */
  gate(item: SourceItem): Promise<unknown> | undefined;
  /** Passes one stream item through the watermark window; returns what to publish, in order. */
  process(item: SourceItem): SourceItem[];
  /** The publisher reports that everything up to `lsn` is durable in Kafka. */
  acknowledged(lsn: Lsn): void;
  /** Runs until stop(); rejects on a failure (the producer then restarts and this run resumes). */
  run(): Promise<void>;
  stop(): Promise<void>;
  state(): SnapshotFeedState;
  /**
   * The snapshot may not have fed this key's row of `table` (`schema.table`, default the feed's
   * own) yet (unread.ts): publish its updates complete.
   */
  mayBeUnread(key: Row, table?: string): boolean;
  /** A table's contract evolved by added columns: chunks read from here on carry them. */
  evolve(contract: TableContract): void;
}

export function newSnapshotId(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(4).toString('hex')}`;
}

/** The watermark window that turns each chunk's rows into `op = r` events (window.ts); ts_ms is read once per chunk. */
export function createWindow(
  events: SnapshotEventContext,
  now: () => number,
  closed: ClosedChunks,
): SnapshotWindow {
  // the events of a chunk are made in one go at its high watermark: one clock reading for them
  let made: { snapshotId: string; chunk: string; nowMs: bigint } | undefined;
  return new SnapshotWindow({
    keyText: (item) => keyTextOf(events.contract, item.key),
    makeEvent: (chunk, row, position) => {
      if (made?.chunk !== chunk.chunk || made.snapshotId !== chunk.snapshotId)
        made = { snapshotId: chunk.snapshotId, chunk: chunk.chunk, nowMs: BigInt(now()) };
      return {
        kind: 'event',
        key: row.key,
        event: snapshotEvent(events, chunk.snapshotId, row, {
          lsn: position.lsn,
          commitLsn: position.commitLsn,
          seq: position.seq,
          readAtUs: chunk.readAtUs,
          nowMs: made.nowMs,
        }),
      };
    },
    onClosed: (o) => closed.onClosed(o),
  });
}

type JobDeps = Pick<ChunkLoopDeps, 'client' | 'ref' | 'key' | 'contract' | 'cfg' | 'log' | 'now'>;

/**
 * What the checkpoint row asks for (plan.ts planJob): a snapshot to start or resume, or nothing;
 * writes the requests the plan makes on the way. `slotIsNew` holds until the first look.
 */
class JobPlanner {
  constructor(
    private readonly d: JobDeps,
    private slotIsNew: boolean,
  ) {}

  async next(): Promise<Checkpoint | undefined> {
    const { client, ref, key, cfg } = this.d;
    const ctx: PlanContext = {
      mode: cfg.mode,
      slotIsNew: this.slotIsNew,
      filterFingerprint: filterFingerprint(cfg.filter),
      requested: false,
    };
    let cp = await readCheckpoint(client, ref, key);
    let step = planJob(cp, ctx);
    // At most two requests per look (the first request, then a filter-changed restart of a row
    // another process began meanwhile); a restarted row is `requested`, so this ends.
    for (let n = 0; step.kind === 'request-initial' || step.kind === 'restart'; n++) {
      if (n === 2) throw new Error(`snapshot plan: still ${step.kind} after two requests`);
      cp = await this.request(step);
      step = planJob(cp, { ...ctx, requested: true });
    }
    this.slotIsNew = false;
    switch (step.kind) {
      case 'idle':
        return undefined;
      case 'resume':
        return resumeSnapshot(client, ref, key, step.snapshotId);
      case 'begin':
        return this.begin();
      default:
        return step satisfies never;
    }
  }

  /** requested -> running: a new snapshot id, the scan's end and the row estimate. */
  private async begin(): Promise<Checkpoint | undefined> {
    const { client, ref, key, contract, cfg, log, now } = this.d;
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
      filterFingerprint: filterFingerprint(cfg.filter),
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

  /** Writes what a request step asks for; returns the row as it is afterwards. */
  private async request(step: Extract<JobStep, { kind: 'request-initial' | 'restart' }>) {
    const { client, ref, key, cfg, log } = this.d;
    if (step.kind === 'request-initial') {
      return (await requestInitialSnapshot(client, ref, key)) ?? (await readCheckpoint(client, ref, key));
    }
    if (step.reason === 'filter-changed') {
      log.warn(
        { previous: step.previous, filter: cfg.filter },
        'the snapshot filter differs from the one the interrupted snapshot began with: starting again from the first key',
      );
    } else {
      log.info(
        { previous: step.previous, status: step.status },
        'new replication slot: feeding the table again',
      );
    }
    return requestSnapshot(client, ref, key, { restart: true, reason: step.reason });
  }
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
  let running: Promise<void> | undefined;
  const state: SnapshotFeedState = { snapshotId: undefined, rowsDone: 0, rowsTotal: null };
  let progress: SnapshotProgress = { phase: 'unknown' };
  const acks = new AckTracker();
  /** the high watermark whose rows wait for a checkpoint (chunks.ts setGate) */
  let gate: { chunk: string; wait: Promise<unknown> } | undefined;
  const closed = new ClosedChunks();
  const waker = new Waker();
  const timings = new StageTimings();

  const window = createWindow(deps.events, now, closed);

  const pgc = deps.pg ?? createPgConnections();
  const client = pgc.client(source.url, 'source', `pgcdc-snapshot:${source.slot}`, SOURCE_SESSION_OPTIONS);
  client.on('error', (err) => log.warn({ err: err.message }, 'snapshot connection error'));
  /** Checkpoint writes, while `client` reads the next chunk. */
  const saver = pgc.client(source.url, 'position', `pgcdc-snapshot-checkpoint:${source.slot}`);
  saver.on('error', (err) => log.warn({ err: err.message }, 'snapshot checkpoint connection error'));

  const loopDeps: ChunkLoopDeps = {
    client,
    saver,
    ref,
    key,
    contract,
    cfg,
    window,
    acks,
    closed,
    log,
    now,
    stopping: () => stopping,
    timings,
    setGauges(done, total) {
      state.rowsDone = done;
      state.rowsTotal = total;
      deps.metrics?.snapshotRowsDone.set({ table }, done);
      if (total !== null) deps.metrics?.snapshotRowsTotal.set({ table }, Math.max(total, done));
    },
    setScan(scan) {
      progress = { phase: 'running', lastKey: scan.lastKey, pending: new Set(scan.pending) };
    },
    setGate(chunk, wait) {
      // settled either way: a failed or stopped checkpoint write must not hold the stream
      gate = wait ? { chunk, wait: wait.then(undefined, () => undefined) } : undefined;
    },
  };
  const reader = new ChunkReader(loopDeps);
  // the reader and the chunk loop read `loopDeps.contract` per chunk; it only ever widens
  const widen = (evolved: TableContract) => {
    if (nameOf(evolved) === table && evolved.columns.length > loopDeps.contract.columns.length)
      loopDeps.contract = evolved;
  };

  const jobs = new JobPlanner(loopDeps, deps.slotCreated ?? false);

  async function loop(): Promise<void> {
    try {
      await client.connect();
      await saver.connect();
      await ensureCheckpointTable(client, ref);
      while (!stopping) {
        const job = await jobs.next();
        if (job) {
          if (deps.contractNow) widen(await deps.contractNow());
          state.snapshotId = job.snapshotId!;
          progress = { phase: 'running', lastKey: job.lastKey, pending: new Set(job.pendingKeys) };
          await runSnapshot(loopDeps, reader, job);
          progress = { phase: 'unknown' }; // finished or superseded: the next look says
        } else {
          progress = { phase: 'idle' };
          await waker.sleep(IDLE_RECHECK_MS);
        }
      }
    } catch (err) {
      if (!(err instanceof Stopped) && !stopping) throw err;
    } finally {
      await client.end().catch(() => undefined);
      await saver.end().catch(() => undefined);
    }
  }

  return {
    gate(item) {
      if (item.kind !== 'watermark' || item.edge !== 'high' || item.chunk !== gate?.chunk) return undefined;
      return timings.time('held', gate.wait);
    },
    process(item) {
      // another table's event (several tables per pipeline): not this window's business
      if (item.kind === 'event' && `${item.event.source.schema}.${item.event.source.table}` !== table)
        return [item];
      if (item.kind === 'signal') {
        log.info({ content: item.content, lsn: formatLsn(item.lsn) }, 'signal received');
        waker.wake();
      }
      if (item.kind !== 'watermark' || item.edge !== 'high') return window.process(item);
      const t = timings.now();
      const out = window.process(item);
      timings.since('emit', t);
      return out;
    },
    acknowledged(lsn) {
      acks.acknowledged(lsn);
    },
    run() {
      running ??= loop();
      return running;
    },
    async stop() {
      stopping = true;
      waker.wake();
      closed.stop();
      acks.stop();
      await running?.catch(() => undefined);
    },
    state: () => ({ ...state, table }),
    // another table's key is not this feed's to judge (several tables: combineSnapshotFeeds)
    mayBeUnread: (key, of) => (of === undefined || of === table) && mayBeUnread(progress, contract, key),
    evolve: widen,
  };
}
