// `pgcdc reconcile -t <target>`: compares the source with a database target as the target should
// hold it, reports drift per table, and with --repair feeds missing and differing rows again
// through the pipeline and removes extra rows the sync owns (ops/reconcile). Exit code 4 when drift
// was found or rows could not be decided (docs/cli.md). Each run is recorded for `pgcdc status`.
import type { Command } from 'commander';
import { createApp, startProducer } from '../../pipeline/compose.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import {
  formatProgressBar,
  formatProgressLine,
  progressOf,
  RateMeter,
} from '../../producers/snapshot/progress.ts';
import { reconcile } from '../../ops/reconcile/index.ts';
import { formatReport } from '../../ops/reconcile/format.ts';
import { recordReconcile } from '../../ops/reconcile/record.ts';
import { EXIT } from '../exit-codes.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';
import { chooseTable } from './table-option.ts';
import { loadConfig } from './pipeline.ts';

interface ReconcileOpts extends OpsOpts {
  target: string;
  table?: string;
  repair?: boolean;
  includeForeign?: boolean;
  chunkSize: string;
  settleTimeout: string;
  interval: string;
}

function progressReporter(intervalMs: number) {
  const tty = Boolean(process.stderr.isTTY);
  const meter = new RateMeter(10_000);
  let last = 0;
  let drawn = false;
  return {
    update(p: { table: string; done: number; total: number | null }) {
      const t = Date.now();
      meter.observe(t, p.done);
      const prog = progressOf({ done: p.done, total: p.total, rate: meter.rate, lastBatch: undefined });
      if (tty) {
        process.stderr.write(`\r${p.table} ${formatProgressBar(prog)}\x1b[K`);
        drawn = true;
      } else if (t - last >= intervalMs) {
        last = t;
        process.stderr.write(`reconcile ${p.table}: ${formatProgressLine(prog)}\n`);
      }
    },
    end() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

async function slotActive(url: string, slot: string, ctx: ReturnType<typeof opsContext>): Promise<boolean> {
  return ctx.pg.withClient(url, 'ops', 'pgcdc-reconcile', async (c) => {
    const r = await c.query<{ pid: number | null }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return r.rows[0]?.pid != null;
  });
}

export function registerReconcileCommand(program: Command): void {
  withOpsOptions(
    program
      .command('reconcile')
      .description(
        'compare the source with a database target as the target should hold it (mapping and filter applied); ' +
          'report missing, extra and differing rows; --repair feeds them again through the pipeline',
      )
      .requiredOption('-t, --target <name>', 'the target to compare (postgres or mysql)')
      .option('--table <schema.table>', 'only this captured table (default: every table the target receives)')
      .option('--repair', 'feed missing and differing rows again (op=r) and remove extra rows the sync owns')
      .option('--include-foreign', 'with --repair: remove extra rows the target made itself too')
      .option('--chunk-size <rows>', 'source rows compared per chunk', '5000')
      .option(
        '--settle-timeout <seconds>',
        'how long to wait for the target to catch up before deciding',
        '120',
      )
      .option('--interval <seconds>', 'progress line interval when not on a terminal', '5'),
  ).action(async (opts: ReconcileOpts) => {
    const config = loadConfig(opts.config);
    const ctx = opsContext(opts, config);
    const table = opts.table ? chooseTable(config.source, opts.table) : undefined;
    const report = progressReporter(Number(opts.interval) * 1000);
    // a repair feeds rows through the producer: run one here when none streams the slot
    const own =
      opts.repair && !(await slotActive(config.source.url, config.source.slot, ctx))
        ? startProducer(
            createApp(config, createLogger({ level: opts.logLevel ?? 'error' }), { defaultMetrics: false }),
          )
        : undefined;
    const started = Date.now();
    const mode = opts.repair ? 'repair' : 'report';
    try {
      const r = await reconcile(ctx, opts.target, {
        ...(table ? { table } : {}),
        chunkSize: Number(opts.chunkSize),
        settleTimeoutMs: Number(opts.settleTimeout) * 1000,
        repair: opts.repair ?? false,
        includeForeign: opts.includeForeign ?? false,
        progress: (p) => report.update(p),
      });
      report.end();
      await recordReconcile(ctx, { target: opts.target, by: 'cli', mode, startedMs: started, report: r });
      console.log(opts.json ? JSON.stringify(r, null, 2) : formatReport(r));
      process.exitCode = r.drift || r.undecided ? EXIT.drift : EXIT.ok;
    } catch (err) {
      if (config.targets.some((t) => t.name === opts.target))
        await recordReconcile(ctx, { target: opts.target, by: 'cli', mode, startedMs: started, error: err });
      throw err;
    } finally {
      report.end();
      if (own) {
        await own.producer.stop();
        await own.done;
      }
    }
  });
}
