// Metrics around any sink (a decorator, as pgstream's instrumented processor): per successful
// apply, its duration (one target transaction), its batch size, the applied events per operation
// and their end-to-end latency (source commit to applied). The sink itself knows nothing of it.
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import type { Sink } from '../sink.ts';
import type { Op } from '../../schemas/contract.ts';

const APPLIED_OPS: readonly Op[] = ['c', 'u', 'd', 'r', 't'];

export function instrumentSink(inner: Sink, opts: { target: string; metrics: Metrics }): Sink {
  const { metrics } = opts;
  const labels = { target: opts.target };
  metrics.targetInfo.set({ ...labels, kind: inner.kind }, 1);
  // Counters start at 0 for this target, so dashboards and rate() show 0 rather than "No data"
  // until the first event (dead letters and webhook codes keep their open label sets).
  for (const op of APPLIED_OPS) metrics.applied.inc({ ...labels, op }, 0);
  metrics.failed.inc(labels, 0);
  if (inner.kind === 'webhook') metrics.webhookRetries.inc(labels, 0);
  return {
    kind: inner.kind,
    open: () => inner.open(),
    close: () => inner.close(),
    async apply(events, ctx) {
      const started = process.hrtime.bigint();
      const result = await inner.apply(events, ctx);
      metrics.applyDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.batchSize.observe(labels, result.applied.length);
      const nowUs = BigInt(Date.now()) * 1000n;
      for (const e of result.applied) {
        metrics.applied.inc({ ...labels, op: e.event.op });
        metrics.endToEnd.observe(labels, Math.max(0, Number(nowUs - e.event.source.ts_us) / 1e6));
      }
      return result;
    },
  };
}
