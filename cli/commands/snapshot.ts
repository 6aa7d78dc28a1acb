// `pgcdc snapshot`: feed every row of the source table (op = r) through the pipeline.
//
// The chunk loop runs inside the producer (it needs the producer's replication stream for the
// watermarks). This command writes the request into the checkpoint table and then:
// - if a producer is streaming the slot, wakes it with a `pgcdc.signal` message and follows the
//   progress from the checkpoint row;
// - otherwise runs the producer itself until the snapshot is done (and Kafka has all of it).
// `--status` only shows the checkpoint row. `--json`: one JSON document on stdout at the end (the
// checkpoint and how the command ended, cli/shapes.ts); the progress then goes to stderr.
import type { Command } from 'commander';
import { chooseTable } from './table-option.ts';
import pg from 'pg';
import {
  ensureCheckpointTable,
  filterFingerprint,
  readCheckpoint,
  requestSnapshot,
  type Checkpoint,
  type CheckpointKey,
  type CheckpointTable,
} from '../../producers/snapshot/checkpoint.ts';
import {
  formatDuration,
  formatProgressBar,
  formatProgressLine,
  progressOf,
  RateMeter,
} from '../../producers/snapshot/progress.ts';
import { SIGNAL_PREFIX } from '../../producers/snapshot/watermark.ts';
import { createApp, startProducer } from '../../pipeline/compose.ts';
import { tableName, type Config } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { createPgConnections } from '../../pipeline/postgres.ts';
import { EXIT } from '../exit-codes.ts';
import { note, printJson } from '../output.ts';
import { snapshotJson, type SnapshotOutcome } from '../shapes.ts';
import { loadConfig } from './pipeline.ts';

interface SnapshotOpts {
  config?: string;
  table?: string;
  restart?: boolean;
  status?: boolean;
  json?: boolean;
  interval: string;
  logLevel?: string;
  pretty?: boolean;
}

interface Where {
  ref: CheckpointTable;
  key: CheckpointKey;
}

function whereOf(config: Config, table: string | undefined): Where {
  const s = config.source;
  return {
    ref: { schema: s.snapshot.checkpointSchema, table: s.snapshot.checkpointTable },
    key: { slot: s.slot, tableName: tableName(chooseTable(s, table)) },
  };
}

async function slotHolder(c: pg.Client, slot: string): Promise<number | null> {
  const r = await c.query<{ active_pid: number | null }>(
    'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return r.rows[0]?.active_pid ?? null;
}

const ago = (d: Date | null) =>
  d ? `${d.toISOString()} (${formatDuration((Date.now() - d.getTime()) / 1000)} ago)` : '-';

/**
 * The filter a snapshot began with, as far as this configuration tells: the checkpoint keeps only
 * its fingerprint (never the SQL), so the text shown is the configured one when it matches.
 */
export function filterOf(
  cp: Checkpoint,
  configured: string | undefined,
): { filter: string | null; filterMatchesConfig: boolean } {
  const matches = cp.filterFingerprint === filterFingerprint(configured);
  return { filter: matches ? (configured ?? null) : null, filterMatchesConfig: matches };
}

function filterText(cp: Checkpoint, configured: string | undefined): string {
  const f = filterOf(cp, configured);
  if (!f.filterMatchesConfig) {
    return cp.filterFingerprint === null
      ? ', no filter (the configuration has one now)'
      : `, a filter other than the configured one (sha256 ${cp.filterFingerprint.slice(0, 12)}...)`;
  }
  return f.filter === null ? '' : `, filter ${f.filter}`;
}

export function describeCheckpoint(
  cp: Checkpoint | undefined,
  where: Where,
  holder: number | null,
  configuredFilter?: string,
): string {
  const head = `snapshot of ${where.key.tableName} for slot ${where.key.slot}`;
  const producer = holder === null ? 'not running' : `streaming the slot (pid ${holder})`;
  if (!cp) return `${head}: never requested\n  producer      ${producer}`;
  const p = progressOf(
    { done: cp.rowsDone, total: cp.rowsTotal, rate: undefined, lastBatch: cp.lastBatch },
    cp.status === 'done',
  );
  const lines = [
    `${head}: ${cp.status}${cp.resumes > 0 ? ` (resumed ${cp.resumes}x)` : ''}${cp.reason ? `, ${cp.reason}` : ''}`,
    `  snapshot id   ${cp.snapshotId ?? '-'}`,
    `  progress      ${formatProgressLine(p)}`,
    `  events        ${cp.events} op=r events acknowledged by Kafka, ${cp.chunks} chunks`,
    `  position      last key ${cp.lastKey ?? '-'} of max ${cp.maxKey ?? '-'}${cp.pendingKeys.length ? `, ${cp.pendingKeys.length} key(s) to read again` : ''}`,
    `  feed          batch size ${cp.batchSize ?? '-'}${filterText(cp, configuredFilter)}`,
    `  requested     ${ago(cp.requestedAt)}`,
    `  started       ${ago(cp.startedAt)}`,
    `  updated       ${ago(cp.updatedAt)}`,
    `  finished      ${ago(cp.finishedAt)}`,
    `  producer      ${producer}`,
    `  checkpoint    ${where.ref.schema}.${where.ref.table}`,
  ];
  return lines.join('\n');
}

/** Draws a bar on a terminal, prints a line every `intervalMs` otherwise (stderr with --json). */
function progressReporter(intervalMs: number, json: boolean | undefined) {
  const tty = Boolean(process.stderr.isTTY);
  const meter = new RateMeter(10_000);
  let lastLine = 0;
  let drawn = false;
  return {
    tty,
    update(cp: Checkpoint) {
      const t = Date.now();
      meter.observe(t, cp.rowsDone);
      const p = progressOf({
        done: cp.rowsDone,
        total: cp.rowsTotal,
        rate: meter.rate,
        lastBatch: cp.lastBatch,
      });
      if (tty) {
        process.stderr.write(`\r${formatProgressBar(p)}\x1b[K`);
        drawn = true;
      } else if (t - lastLine >= intervalMs) {
        lastLine = t;
        note(json, `snapshot ${cp.snapshotId ?? ''}: ${formatProgressLine(p)}`);
      }
    },
    end() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

function isOurs(cp: Checkpoint | undefined, requestedAt: Date): boolean {
  return cp?.status === 'done' && cp.finishedAt !== null && cp.finishedAt >= requestedAt;
}

export function registerSnapshotCommand(program: Command): void {
  program
    .command('snapshot')
    .description(
      'feed every row of the source table (op=r events) through the pipeline, resumably; ' +
        'asks the running producer, or runs one until the snapshot is done',
    )
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default $PGCDC_CONFIG or ./pgcdc.yaml')
    .option('--table <schema.table>', 'the captured table to feed (required with several tables)')
    .option('--restart', 'start again from the first key, even if an interrupted snapshot could resume')
    .option('--status', 'show the checkpoint (progress of the running or last snapshot) and exit')
    .option('--json', 'print one JSON document (the checkpoint, and how the command ended) instead of text')
    .option('--interval <seconds>', 'progress line interval when not on a terminal', '5')
    .option(
      '--log-level <level>',
      'log level of the producer this command runs (default: warn on a terminal)',
    )
    .option('--pretty', 'human-readable logs instead of JSON')
    .action(async (opts: SnapshotOpts) => {
      const config = loadConfig(opts.config);
      const where = whereOf(config, opts.table);
      const url = config.source.url;
      const connections = createPgConnections(config.connections);
      const jsonOf = (o: SnapshotOutcome, cp: Checkpoint | undefined, pid: number | null, ran: boolean) =>
        snapshotJson({
          outcome: o,
          table: where.key.tableName,
          slot: where.key.slot,
          producerPid: pid,
          ranProducer: ran,
          checkpoint: cp ? { ...cp, ...filterOf(cp, config.source.snapshot.filter) } : null,
        });
      const withClient = <T>(u: string, fn: (c: pg.Client) => Promise<T>) =>
        connections.withClient(u, 'ops', 'pgcdc-snapshot-cli', fn);

      if (opts.status) {
        const [cp, holder] = await withClient(
          url,
          async (c) =>
            [await readCheckpoint(c, where.ref, where.key), await slotHolder(c, config.source.slot)] as const,
        );
        const filter = config.source.snapshot.filter;
        if (opts.json) printJson(jsonOf('status', cp, holder, false));
        else console.log(describeCheckpoint(cp, where, holder, filter));
        return;
      }

      const { cp, holder } = await withClient(url, async (c) => {
        await ensureCheckpointTable(c, where.ref);
        const requested = await requestSnapshot(c, where.ref, where.key, {
          restart: opts.restart ?? false,
          reason: opts.restart ? 'restart' : 'requested',
        });
        const pid = await slotHolder(c, config.source.slot);
        if (pid !== null) {
          await c.query('SELECT pg_logical_emit_message(false, $1, $2)', [
            SIGNAL_PREFIX,
            opts.restart ? 'snapshot-restart' : 'snapshot',
          ]);
        }
        return { cp: requested, holder: pid };
      });
      const requestedAt = cp.requestedAt ?? new Date(0);
      const resuming = cp.status === 'running';
      const report = progressReporter(Number(opts.interval) * 1000, opts.json);
      note(
        opts.json,
        `${resuming ? `resuming snapshot ${cp.snapshotId} after key ${cp.lastKey ?? '(none)'}` : 'snapshot requested'} ` +
          `for ${where.key.tableName} (slot ${where.key.slot}); ` +
          (holder === null
            ? 'no producer is streaming the slot: running one until the snapshot is done'
            : `the producer streaming the slot (pid ${holder}) runs it; following its progress (Ctrl-C stops following only)`),
      );

      const app =
        holder === null
          ? createApp(
              config,
              createLogger({
                level: opts.logLevel ?? (report.tty ? 'warn' : config.log.level),
                pretty: opts.pretty ?? false,
              }),
            )
          : undefined;
      const running = app ? startProducer(app) : undefined;
      let interrupted = false;
      const onSignal = () => {
        if (interrupted) process.exit(EXIT.interrupted);
        interrupted = true;
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);

      let last: Checkpoint | undefined = cp;
      let lastError: string | undefined;
      let lastChange = Date.now();
      let hinted = false;
      try {
        await withClient(url, async (c) => {
          while (!interrupted && !isOurs(last, requestedAt)) {
            const now = await readCheckpoint(c, where.ref, where.key);
            if (
              now &&
              (now.updatedAt.getTime() !== last?.updatedAt.getTime() || now.status !== last.status)
            ) {
              lastChange = Date.now();
            }
            last = now;
            if (last?.status === 'running') report.update(last);
            const err = running?.producer.state().lastError;
            if (err && err !== lastError) {
              lastError = err;
              report.end();
              console.error(`pgcdc snapshot: the producer failed and restarts: ${err}`);
            }
            if (!hinted && Date.now() - lastChange > 30_000 && last?.status === 'requested') {
              hinted = true;
              report.end();
              console.error(
                `pgcdc snapshot: no progress for 30 s; is a producer of this version streaming slot ${where.key.slot}?`,
              );
            }
            if (!isOurs(last, requestedAt)) await new Promise((r) => setTimeout(r, report.tty ? 250 : 500));
          }
        });
      } finally {
        report.end();
        if (running) {
          await running.producer.stop();
          await running.done;
        }
      }
      if (interrupted || !last) {
        if (opts.json) printJson(jsonOf('interrupted', last, holder, running !== undefined));
        note(
          opts.json,
          running
            ? `interrupted; the snapshot resumes from the last checkpoint (key ${last?.lastKey ?? '-'}) with pgcdc snapshot or pgcdc produce`
            : 'stopped following; the producer carries on (pgcdc snapshot --status)',
        );
        process.exitCode = EXIT.interrupted;
        return;
      }
      const secs =
        last.startedAt && last.finishedAt ? (last.finishedAt.getTime() - last.startedAt.getTime()) / 1000 : 0;
      if (opts.json) printJson(jsonOf('done', last, holder, running !== undefined));
      note(
        opts.json,
        `snapshot ${last.snapshotId} done: ${last.rowsDone} rows read, ${last.events} op=r events in Kafka, ` +
          `${last.chunks} chunks${last.resumes ? `, resumed ${last.resumes}x` : ''}, ${formatDuration(secs)}` +
          (secs > 0 ? ` (${Math.round(last.rowsDone / secs)} rows/s overall)` : ''),
      );
    });
}
