// The scheduled reconcile's metrics (ops/reconcile/schedule.ts, docs/reconcile.md), part of the
// process's one registry (metrics.ts): rows by result of the last run per target table, when it
// ended, how long it took, and whether it found drift (the alert's input).
import { Gauge, type Registry } from 'prom-client';

export function reconcileMetrics(registry: Registry) {
  return {
    reconcileRows: new Gauge({
      name: 'pgcdc_reconcile_rows',
      help: 'Rows of the last scheduled reconcile of a target table, by result: compared, missing, extra (owned), foreign, differing, undecided',
      labelNames: ['target', 'table', 'result'] as const,
      registers: [registry],
    }),
    reconcileLastRun: new Gauge({
      name: 'pgcdc_reconcile_last_run_timestamp_seconds',
      help: 'When the last scheduled reconcile of a target ended (unix time)',
      labelNames: ['target', 'status'] as const,
      registers: [registry],
    }),
    reconcileDuration: new Gauge({
      name: 'pgcdc_reconcile_duration_seconds',
      help: 'How long the last scheduled reconcile of a target took',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    reconcileDrift: new Gauge({
      name: 'pgcdc_reconcile_drift',
      help: '1 when the last scheduled reconcile of a target found drift (or rows it could not decide), 0 when none',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
  };
}
