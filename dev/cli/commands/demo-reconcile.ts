// The demo's last part: `pgcdc reconcile` of every database target the demo syncs (the Postgres
// peer, the MariaDB peer, the CMS-shaped peer matched by email), table by table, through the same
// code the operator's verb runs (ops/reconcile). A demo that ends in step shows zero drift at each.
import type { App } from '../../../pipeline/compose.ts';
import { formatReport } from '../../../ops/reconcile/format.ts';
import { reconcile } from '../../../ops/reconcile/index.ts';
import type { DemoPart } from './demo-support.ts';

/** Reconciles each target when checked; the check passes when every one holds what the source holds. */
export function reconcileDemo(app: App, targets: string[]): DemoPart {
  return {
    async check(say) {
      let ok = true;
      for (const target of targets) {
        say(`reconcile of target ${target} (pgcdc reconcile -t ${target}) ...`);
        const report = await reconcile(app, target, { settleTimeoutMs: 60_000 });
        for (const line of formatReport(report).split('\n')) say(line);
        ok = !report.drift && !report.undecided && ok;
      }
      return ok;
    },
    stop: () => Promise.resolve(),
  };
}
