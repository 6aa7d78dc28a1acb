// producers/snapshot/progress.ts: percent, remaining, rate and ETA, and their renderings.
import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatProgressBar,
  formatProgressLine,
  progressOf,
  RateMeter,
} from '../../../../producers/snapshot/progress.ts';

describe('snapshot progress', () => {
  it('derives percent, remaining and ETA from done, total and rate', () => {
    const p = progressOf({ done: 8400, total: 20000, rate: 2000, lastBatch: undefined });
    expect(p).toMatchObject({ percent: 42, remaining: 11600, etaSeconds: 5.8 });
  });

  it('never exceeds 100% when the estimate was low, and is 100% when finished', () => {
    expect(progressOf({ done: 120, total: 100, rate: 10, lastBatch: undefined })).toMatchObject({
      total: 120,
      percent: 100,
      remaining: 0,
    });
    expect(progressOf({ done: 50, total: 100, rate: undefined, lastBatch: undefined }, true)).toMatchObject({
      percent: 100,
      remaining: 0,
      etaSeconds: 0,
    });
    expect(progressOf({ done: 0, total: 0, rate: undefined, lastBatch: undefined }).percent).toBe(100);
  });

  it('without an estimate shows what it knows', () => {
    const p = progressOf({ done: 10, total: null, rate: undefined, lastBatch: undefined });
    expect(p).toMatchObject({ percent: null, remaining: null, etaSeconds: undefined });
    expect(formatProgressLine(p)).toBe('?% 10 rows, ETA ?');
  });

  it('renders a log line and a bar with the last batch', () => {
    const p = progressOf({
      done: 8400,
      total: 20000,
      rate: 3100,
      lastBatch: { size: 500, firstKey: '7901', lastKey: '8400' },
    });
    expect(formatProgressLine(p)).toBe(
      '42.0% 8,400/20,000 rows, 11,600 remaining, 3,100 rows/s, ETA 4s; last batch 500 rows (keys 7901..8400)',
    );
    const bar = formatProgressBar(p, 10);
    expect(bar).toBe('[████░░░░░░]  42.0% | 8,400/20,000 | 3,100 rows/s | ETA 4s | last 500 (7901..8400)');
  });

  it('formats durations', () => {
    expect(formatDuration(undefined)).toBe('?');
    expect(formatDuration(4.4)).toBe('4s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3 * 3600 + 7 * 60)).toBe('3h07m');
  });

  it('measures the rate over a sliding window', () => {
    const m = new RateMeter(10_000);
    m.observe(0, 0);
    expect(m.rate).toBeUndefined();
    m.observe(1000, 5000);
    expect(m.rate).toBe(5000);
    m.observe(20_000, 6000); // slow phase: the old fast samples leave the window
    m.observe(25_000, 6500);
    expect(m.rate).toBeLessThan(200);
  });
});
