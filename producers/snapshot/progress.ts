// Snapshot progress figures and their one-line and bar renderings. Pure: the runner logs them,
// `pgcdc snapshot` draws them.

export interface LastBatch {
  size: number;
  firstKey: string | null;
  lastKey: string | null;
}

export interface ProgressInput {
  done: number;
  /** Estimated at the start (count(*) up to the start's last key, or reltuples); may be off. */
  total: number | null;
  /** Rows per second (undefined until measurable). */
  rate: number | undefined;
  lastBatch: LastBatch | undefined;
}

export interface Progress {
  done: number;
  total: number | null;
  remaining: number | null;
  /** 0..100; 100 when finished whatever the estimate said. */
  percent: number | null;
  rate: number | undefined;
  etaSeconds: number | undefined;
  lastBatch: LastBatch | undefined;
}

export function progressOf(p: ProgressInput, finished = false): Progress {
  const total = p.total === null ? null : Math.max(p.total, p.done);
  const remaining = finished ? 0 : total === null ? null : total - p.done;
  const percent = finished ? 100 : total === null ? null : total === 0 ? 100 : (100 * p.done) / total;
  const etaSeconds =
    remaining !== null && p.rate !== undefined && p.rate > 0 ? remaining / p.rate : finished ? 0 : undefined;
  return { done: p.done, total, remaining, percent, rate: p.rate, etaSeconds, lastBatch: p.lastBatch };
}

/** Rows per second over a sliding window of (time, rows done) observations. */
export class RateMeter {
  private readonly samples: { t: number; done: number }[] = [];
  constructor(private readonly windowMs = 10_000) {}

  observe(tMs: number, done: number): void {
    this.samples.push({ t: tMs, done });
    while (this.samples.length > 2 && tMs - this.samples[1]!.t >= this.windowMs) this.samples.shift();
  }

  get rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.t - first.t < 200 || last.done < first.done) return undefined;
    return ((last.done - first.done) * 1000) / (last.t - first.t);
  }
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

function batchText(b: LastBatch | undefined): string {
  if (!b) return '';
  const keys = b.firstKey === null ? '' : ` (keys ${b.firstKey}..${b.lastKey})`;
  return `; last batch ${int(b.size)} rows${keys}`;
}

/** `42.0% 8,400/20,000 rows, 11,600 remaining, 3,100 rows/s, ETA 4s; last batch 500 rows (keys 7901..8400)` */
export function formatProgressLine(p: Progress): string {
  const pct = p.percent === null ? '?%' : `${p.percent.toFixed(1)}%`;
  const of = p.total === null ? '' : `/${int(p.total)}`;
  const rem = p.remaining === null ? '' : `, ${int(p.remaining)} remaining`;
  const rate = p.rate === undefined ? '' : `, ${int(p.rate)} rows/s`;
  return `${pct} ${int(p.done)}${of} rows${rem}${rate}, ETA ${formatDuration(p.etaSeconds)}${batchText(p.lastBatch)}`;
}

/** `[██████░░░░░░] 42.0% | 8,400/20,000 | 3,100 rows/s | ETA 4s | last 500 (7901..8400)` */
export function formatProgressBar(p: Progress, width = 30): string {
  const frac = p.percent === null ? 0 : Math.min(1, Math.max(0, p.percent / 100));
  const full = Math.round(frac * width);
  const bar = `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
  const pct = p.percent === null ? '  ?%' : `${p.percent.toFixed(1).padStart(5)}%`;
  const of = p.total === null ? '' : `/${int(p.total)}`;
  const rate = p.rate === undefined ? '' : ` | ${int(p.rate)} rows/s`;
  const last = p.lastBatch
    ? ` | last ${int(p.lastBatch.size)}${p.lastBatch.firstKey === null ? '' : ` (${p.lastBatch.firstKey}..${p.lastBatch.lastKey})`}`
    : '';
  return `[${bar}] ${pct} | ${int(p.done)}${of}${rate} | ETA ${formatDuration(p.etaSeconds)}${last}`;
}
