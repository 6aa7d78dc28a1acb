// dev/bench: the pure parts of the benchmark. The workload is deterministic per seed, writers
// never share rows, the SQL of a transaction escapes its values; rates exclude start-up; histogram
// snapshots from /metrics are diffed and read as bucket bounds.
import { describe, expect, it } from 'vitest';
import { parseProducerPerformance } from '../../../dev/bench/baselines.ts';
import { diffHistogram, histogramQuantileMs, parseHistogram } from '../../../dev/bench/scrape.ts';
import { markdownTable, median, percentile, rateOf } from '../../../dev/bench/stats.ts';
import {
  countOps,
  DEFAULT_WORKLOAD,
  kafkaMessagesFor,
  txnSql,
  WorkloadPlan,
  type PlannedOp,
} from '../../../dev/bench/workload.ts';

const take = (plan: WorkloadPlan, n: number): PlannedOp[] =>
  Array.from({ length: n }, () => plan.nextTxn()).flat();

describe('WorkloadPlan', () => {
  it('is the same for the same seed and worker', () => {
    const a = take(new WorkloadPlan(DEFAULT_WORKLOAD, 0, 4, 0), 50);
    const b = take(new WorkloadPlan(DEFAULT_WORKLOAD, 0, 4, 0), 50);
    expect(a).toEqual(b);
  });

  it('follows the mix roughly and never touches a row of another writer', () => {
    const ops = [0, 1, 2].map((w) => take(new WorkloadPlan(DEFAULT_WORKLOAD, w, 3, 1000), 400));
    for (const [w, list] of ops.entries()) for (const o of list) expect((o.id - 1000 - 1) % 3).toBe(w);
    const c = countOps(ops.flat());
    const total = c.c + c.u + c.d;
    expect(c.c / total).toBeGreaterThan(0.5);
    expect(c.u / total).toBeGreaterThan(0.2);
    expect(c.d / total).toBeGreaterThan(0.05);
  });

  it('updates and deletes only live rows, each at most once per transaction', () => {
    const plan = new WorkloadPlan({ ...DEFAULT_WORKLOAD, mix: { insert: 1, update: 1, delete: 1 } }, 0, 1, 0);
    const live = new Set<number>();
    for (let t = 0; t < 300; t++) {
      const ops = plan.nextTxn();
      const ids = ops.map((o) => o.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const o of ops) {
        if (o.op === 'c') live.add(o.id);
        else expect(live.has(o.id)).toBe(true);
        if (o.op === 'd') live.delete(o.id);
      }
    }
    expect([...live].sort()).toEqual([...plan.liveIds].sort());
  });

  it('gives the configured share of rows a large bio of the configured size', () => {
    const spec = { ...DEFAULT_WORKLOAD, mix: { insert: 1, update: 0, delete: 0 }, largeBioRatio: 0.5 };
    const rows = take(new WorkloadPlan(spec, 0, 1, 0), 200).filter((o) => o.op === 'c');
    const large = rows.filter((o) => o.op === 'c' && (o.row.bio?.length ?? 0) === spec.largeBioBytes);
    expect(large.length / rows.length).toBeGreaterThan(0.35);
    expect(large.length / rows.length).toBeLessThan(0.65);
  });

  it('counts a tombstone per delete in the Kafka messages', () => {
    expect(kafkaMessagesFor({ c: 3, u: 2, d: 4 })).toBe(13);
  });
});

describe('txnSql', () => {
  it('one statement per kind, literals escaped, commit-time stamps', () => {
    const ops: PlannedOp[] = [
      ...new WorkloadPlan(
        { ...DEFAULT_WORKLOAD, mix: { insert: 1, update: 0, delete: 0 } },
        0,
        1,
        0,
      ).nextTxn(),
      { op: 'u', id: 7, city: "O'Hare", balance: '1.50' },
      { op: 'd', id: 9 },
    ];
    const sql = txnSql(ops);
    const parts = sql.split(';\n');
    expect(parts).toHaveLength(3);
    expect(parts[0]).toMatch(/^INSERT INTO public\.users \(id, email, /);
    expect(parts[0]).toContain('clock_timestamp(), clock_timestamp())');
    expect(parts[1]).toContain("(7, 'O''Hare', '1.50')");
    expect(parts[1]).toContain('updated_at = clock_timestamp()');
    expect(parts[2]).toBe('DELETE FROM public.users WHERE id IN (9)');
  });
});

describe('stats', () => {
  it('median and nearest-rank percentile', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeUndefined();
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
  });

  it('rateOf starts at the last point before progress and ends when the total is reached', () => {
    const points = [
      { t: 0, done: 0 },
      { t: 1000, done: 0 },
      { t: 2000, done: 100 },
      { t: 3000, done: 300 },
      { t: 4000, done: 300 },
    ];
    expect(rateOf(points, 300)).toEqual({ rate: 150, seconds: 2 });
    expect(rateOf(points, 500)).toBeUndefined();
  });

  it('markdownTable pads columns', () => {
    expect(markdownTable(['a', 'bb'], [['1', '22222']])).toBe(
      '| a   | bb    |\n| --- | ----- |\n| 1   | 22222 |',
    );
  });
});

describe('histogram scraping', () => {
  const text = (n: number[]) =>
    [
      '# HELP pgcdc_publish_latency_seconds x',
      `pgcdc_publish_latency_seconds_bucket{le="0.01"} ${n[0]}`,
      `pgcdc_publish_latency_seconds_bucket{le="0.1"} ${n[1]}`,
      `pgcdc_publish_latency_seconds_bucket{le="1"} ${n[2]}`,
      `pgcdc_publish_latency_seconds_bucket{le="+Inf"} ${n[2]}`,
      `pgcdc_publish_latency_seconds_count ${n[2]}`,
      'other_metric 5',
    ].join('\n');

  it('diffs two snapshots and reads quantiles as bucket bounds in ms', () => {
    const before = parseHistogram(text([10, 10, 10]), 'pgcdc_publish_latency_seconds');
    const after = parseHistogram(text([60, 105, 110]), 'pgcdc_publish_latency_seconds');
    const d = diffHistogram(after, before);
    expect(d.count).toBe(100);
    expect(histogramQuantileMs(d, 0.5)).toBe(10);
    expect(histogramQuantileMs(d, 0.95)).toBe(100);
    expect(histogramQuantileMs(d, 0.99)).toBe(1000);
    expect(histogramQuantileMs(diffHistogram(before, before), 0.5)).toBeUndefined();
  });
});

describe('ProducerPerformance baseline', () => {
  it('takes the summary line, not the first 5-second progress line', () => {
    const out = [
      '26072 records sent, 5213.7 records/sec (3.16 MB/sec), 1480.7 ms avg latency, 2300.0 ms max latency.',
      '150000 records sent, 29994.0 records/sec (18.19 MB/sec), 900.2 ms avg latency, 1900.0 ms max latency.',
      '200000 records sent, 21834.061135 records/sec (13.24 MB/sec), 1012.34 ms avg latency, 2300.00 ms max latency, 990 ms 50th, 2100 ms 95th, 2250 ms 99th, 2290 ms 99.9th.',
    ].join('\n');
    const r = parseProducerPerformance(out)!;
    expect(r.rate).toBeCloseTo(21834.061135);
    expect(r.seconds).toBeCloseTo(200000 / 21834.061135);
    expect(r.note).toBe('13.24 MB/s, 1012.34 ms avg latency');
  });

  it('finds nothing in output without a figure', () => {
    expect(parseProducerPerformance('Exception in thread "main"')).toBeUndefined();
  });
});
