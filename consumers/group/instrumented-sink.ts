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
  /** the applied counter's label set per operation, made once */
  const opLabels = new Map(APPLIED_OPS.map((op) => [op, { ...labels, op }]));
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
      // one counter increment per operation of the batch; the latency of every event
      const nowS = Date.now() / 1000;
      const perOp = new Map<Op, number>();
      for (const e of result.applied) {
        const { op } = e.event;
        perOp.set(op, (perOp.get(op) ?? 0) + 1);
        metrics.endToEnd.observe(labels, Math.max(0, nowS - Number(e.event.source.ts_us) / 1e6));
      }
      for (const [op, n] of perOp) metrics.applied.inc(opLabels.get(op) ?? { ...labels, op }, n);
      return result;
    },
  };
}
