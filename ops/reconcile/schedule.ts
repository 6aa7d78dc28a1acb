// The scheduled reconcile of one target (`targets[].reconcile.every`), run beside the target's
// consumer inside `pgcdc run` / `pgcdc consume`: every interval one reconcile (report, or repair),
// its result as an audit line (kind `reconcile`), the metrics pgcdc_reconcile_* and the last
// report for the process's status. A failed run is logged and audited and the schedule goes on;
// stop() cuts the wait short and lets a running pass end at its next chunk.
import { audit } from '../../pipeline/observability/audit.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import type { TargetConfig } from '../../pipeline/config/schema.ts';
import { describeError } from '../../pipeline/errors.ts';
import { sleep } from '../../pipeline/retry.ts';
import type { ReconcileDeps } from './deps.ts';
import { hasDrift, reconcile, type ReconcileReport } from './index.ts';
import { recordReconcile, reportCounts } from './record.ts';

export interface ReconcileSchedule {
  stop(): Promise<void>;
  last(): ReconcileReport | undefined;
}

/** Sets the metrics of one finished run. */
export function recordReport(metrics: Metrics, r: ReconcileReport): void {
  for (const t of r.tables) {
    const set = (result: string, n: number) =>
      metrics.reconcileRows.set({ target: r.target, table: t.table, result }, n);
    set('compared', t.compared);
    set('missing', t.missing);
    set('extra', t.extra.owned);
    set('foreign', t.extra.foreign);
    set('differing', t.differing);
    set('undecided', t.unsettled);
  }
  metrics.reconcileDuration.set({ target: r.target }, r.seconds);
  metrics.reconcileDrift.set({ target: r.target }, r.drift || r.undecided ? 1 : 0);
}

export function startReconcileSchedule(
  deps: ReconcileDeps & { metrics: Metrics },
  target: TargetConfig,
): ReconcileSchedule | undefined {
  if (target.type === 'webhook' || !target.reconcile) return undefined;
  const cfg = target.reconcile;
  const abort = new AbortController();
  const log = deps.logger.child({ target: target.name });
  let last: ReconcileReport | undefined;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      await sleep(cfg.every * 1000, abort.signal);
      if (abort.signal.aborted) break;
      const started = Date.now();
      try {
        const r = await reconcile(deps, target.name, {
          chunkSize: cfg.chunkSize,
          settleTimeoutMs: cfg.settleTimeout * 1000,
          repair: cfg.mode === 'repair',
          includeForeign: cfg.includeForeign,
          signal: abort.signal,
        });
        last = r;
        recordReport(deps.metrics, r);
        deps.metrics.reconcileLastRun.set({ target: target.name, status: 'ok' }, Date.now() / 1000);
        const counts = reportCounts(r);
        await recordReconcile(deps, {
          target: target.name,
          by: 'schedule',
          mode: cfg.mode,
          startedMs: started,
          report: r,
        });
        const drift = r.tables.some((t) => hasDrift(t, cfg.includeForeign));
        audit(
          log,
          drift ? 'warn' : 'info',
          {
            kind: 'reconcile',
            target: target.name,
            status: drift || r.undecided ? 'partial' : 'ok',
            counts,
            durationMs: Date.now() - started,
            mode: cfg.mode,
            samples: r.tables.map((t) => ({ table: t.table, ...t.samples })),
          },
          drift
            ? `reconcile: drift at target ${target.name}${cfg.mode === 'repair' ? ' (repaired)' : ''}`
            : `reconcile: target ${target.name} holds what the source holds`,
        );
      } catch (err) {
        deps.metrics.reconcileLastRun.set({ target: target.name, status: 'error' }, Date.now() / 1000);
        await recordReconcile(deps, {
          target: target.name,
          by: 'schedule',
          mode: cfg.mode,
          startedMs: started,
          error: err,
        });
        audit(
          log,
          'error',
          {
            kind: 'reconcile',
            target: target.name,
            status: 'error',
            counts: {},
            durationMs: Date.now() - started,
            error: describeError(err),
          },
          'reconcile failed; the next run is on schedule',
        );
      }
    }
  })();
  return {
    async stop() {
      abort.abort();
      await loop;
    },
    last: () => last,
  };
}
