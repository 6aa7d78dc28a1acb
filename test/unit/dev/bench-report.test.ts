// dev/bench/report.ts: the throughput table puts every figure beside its raw baseline from the
// same run: webhook deliveries beside bare undici POSTs, the snapshot into Kafka beside Kafka's
// ProducerPerformance.
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../../dev/bench/report.ts';
import { measured, type BenchResult } from '../../../dev/bench/result.ts';
import { DEFAULT_WORKLOAD } from '../../../dev/bench/workload.ts';

const m = (rate: number) => measured(rate, 1, 1, 1000);

function result(): BenchResult {
  return {
    label: undefined,
    startedAt: '2026-11-29T20:00:00Z',
    finishedAt: '2026-11-29T20:10:00Z',
    machine: { cpus: 2 },
    load: { start: [1, 1, 1], end: [1, 1, 1] },
    options: {
      rounds: 1,
      events: 1000,
      writers: 2,
      workload: DEFAULT_WORKLOAD,
      rates: [],
    } as unknown as BenchResult['options'],
    workloadRowBytes: 600,
    baselines: {
      kafkaProducerPerf: { seconds: 1, rate: 20_000, recordSize: 600, records: 1000 },
      rawHttp: [{ seconds: 1, rate: 4_000, note: '900 B bodies, concurrency 8' }],
      errors: [],
    },
    pipelines: [
      {
        name: 'pgcdc',
        description: 'ours',
        rounds: [
          {
            round: 1,
            write: { events: 1000, counts: { c: 1000, u: 0, d: 0 }, rate: 1 },
            source: m(10_000),
            sink: m(8_000),
            webhook: m(3_000),
            load: [1, 1, 1],
          },
        ],
        snapshot: { rows: 1000, kafka: m(16_000), peer: m(9_000) },
        peakRssMb: {},
        errors: [],
      },
    ],
  };
}

describe('bench report', () => {
  it('webhook deliveries and the snapshot into Kafka are shown as ratios of their raw baselines', () => {
    const out = renderReport(result());
    const line = (start: string) => out.split('\n').find((l) => l.includes(start)) ?? '';
    expect(line('webhook deliveries/s')).toContain('raw undici POSTs/s');
    expect(line('webhook deliveries/s')).toMatch(/0\.75/);
    expect(line('rows -> Kafka')).toContain('ProducerPerformance');
    expect(line('rows -> Kafka')).toMatch(/0\.80/);
    expect(out).toContain('raw HTTP 4,000 POSTs/s (900 B bodies, concurrency 8)');
  });
});
