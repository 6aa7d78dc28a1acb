// The demo's last part: `pgcdc reconcile` of the peer target, table by table, through the same
// code the operator's verb runs (ops/reconcile). A demo that ends in step shows zero drift.
import type { App } from '../../../pipeline/compose.ts';
import { formatReport } from '../../../ops/reconcile/format.ts';
import { reconcile } from '../../../ops/reconcile/index.ts';
import type { DemoPart } from './demo-support.ts';

/** Reconciles `target` when checked; the check passes when it holds what the source holds. */
export function reconcileDemo(app: App, target: string): DemoPart {
  return {
    async check(say) {
      say(`reconcile of target ${target} (pgcdc reconcile -t ${target}) ...`);
      const report = await reconcile(app, target, { settleTimeoutMs: 60_000 });
      for (const line of formatReport(report).split('\n')) say(line);
      return !report.drift && !report.undecided;
    },
    stop: () => Promise.resolve(),
  };
}
