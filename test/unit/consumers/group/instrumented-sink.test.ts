// The metrics decorator around a sink: a target's counters exist at 0 from the start, so a
// dashboard shows 0 (not "No data") before the first event, and applies count per operation.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../../pipeline/observability/metrics.ts';
import { instrumentSink } from '../../../../consumers/group/instrumented-sink.ts';
import type { Sink } from '../../../../consumers/sink.ts';

function fakeSink(kind: Sink['kind']): Sink {
  return {
    kind,
    open: async () => {},
    close: async () => {},
    apply: () =>
      Promise.resolve({ applied: [], deadLetters: [] } as unknown as Awaited<ReturnType<Sink['apply']>>),
  };
}

async function series(metrics: ReturnType<typeof createMetrics>, name: string) {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).map((v) => ({ labels: v.labels, value: v.value }));
}

describe('instrumentSink', () => {
  it('creates the target counters at 0 before any event', async () => {
    const metrics = createMetrics();
    instrumentSink(fakeSink('postgres'), { target: 'peer', metrics });
    const applied = await series(metrics, 'pgcdc_target_applied_events_total');
    expect(applied.map((s) => s.labels.op).sort()).toEqual(['c', 'd', 'r', 't', 'u']);
    expect(applied.every((s) => s.value === 0 && s.labels.target === 'peer')).toBe(true);
    expect(await series(metrics, 'pgcdc_target_failed_batches_total')).toEqual([
      { labels: { target: 'peer' }, value: 0 },
    ]);
    expect(await series(metrics, 'pgcdc_webhook_retries_total')).toEqual([]);
  });

  it('a webhook target also starts its retry counter at 0', async () => {
    const metrics = createMetrics();
    instrumentSink(fakeSink('webhook'), { target: 'hook', metrics });
    expect(await series(metrics, 'pgcdc_webhook_retries_total')).toEqual([
      { labels: { target: 'hook' }, value: 0 },
    ]);
  });
});
