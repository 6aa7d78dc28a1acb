// Pure helpers of the benchmark report: medians, rates over a polled progress curve, number
// formatting and markdown tables.

export function median(xs: number[]): number | undefined {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** Nearest-rank percentile of a sample (q in 0..1). */
export function percentile(xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}

export interface ProgressPoint {
  t: number; // ms
  done: number;
}

/**
 * Rate over a progress curve polled while work was being done: from the last point before any
 * progress (start-up excluded) to the first point at which `total` was reached.
 */
export function rateOf(
  points: ProgressPoint[],
  total: number,
): { rate: number; seconds: number } | undefined {
  const first = points[0];
  if (!first) return undefined;
  let startIdx = 0;
  while (startIdx + 1 < points.length && points[startIdx + 1]!.done <= first.done) startIdx++;
  const end = points.find((p) => p.done >= total);
  const start = points[startIdx]!;
  if (!end || end.t <= start.t) return undefined;
  const seconds = (end.t - start.t) / 1000;
  return { rate: (end.done - start.done) / seconds, seconds };
}

/** 12345.6 -> "12,346"; small numbers keep a decimal or two. */
export function fmt(x: number | undefined | null, digits?: number): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return 'n/a';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return 'n/a';
  return `${fmt(a / b, 2)}x`;
}

export function markdownTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/**
 * The lag trend of a latency phase from the p50 latency of each third of it: the growth from the
 * first third to the last, in ms per second between the two thirds' centres (2/3 of the phase).
 * Medians per third, not a least-squares line, so one pause (GC, a checkpoint) does not tilt it.
 */
export function lagTrend(
  thirdsP50: (number | undefined)[],
  thirdsRows: number[],
  phaseSeconds: number,
): { thirdsP50: (number | undefined)[]; thirdsRows: number[]; growthMsPerS: number | undefined } {
  const first = thirdsP50[0];
  const last = thirdsP50[2];
  const growthMsPerS =
    first === undefined || last === undefined || !(phaseSeconds > 0)
      ? undefined
      : Math.round(((last - first) / ((2 / 3) * phaseSeconds)) * 10) / 10;
  return { thirdsP50, thirdsRows, growthMsPerS };
}
