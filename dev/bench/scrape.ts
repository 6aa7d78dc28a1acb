// Reads a histogram from a pgcdc process's /metrics (Prometheus text format), so a phase can be
// broken down by stage (e.g. commit -> Kafka ack from pgcdc_publish_latency_seconds). Histograms
// are cumulative: a phase is the difference of two snapshots. Quantiles are bucket upper bounds.

export interface HistogramSnapshot {
  /** upper bound (seconds) -> cumulative count */
  buckets: Map<number, number>;
  count: number;
}

/** `label`: only the series carrying it (e.g. `stage="decode"`); default every series, summed. */
export function parseHistogram(text: string, name: string, label?: string): HistogramSnapshot {
  const buckets = new Map<number, number>();
  let count = 0;
  for (const line of text.split('\n')) {
    if (label !== undefined && !line.includes(label)) continue;
    if (line.startsWith(`${name}_bucket{`)) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (le !== undefined) {
        const bound = le === '+Inf' ? Infinity : Number(le);
        buckets.set(bound, (buckets.get(bound) ?? 0) + v);
      }
    } else if (line.startsWith(`${name}_count`)) {
      count += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return { buckets, count };
}

export function diffHistogram(after: HistogramSnapshot, before: HistogramSnapshot): HistogramSnapshot {
  const buckets = new Map<number, number>();
  for (const [le, v] of after.buckets) buckets.set(le, v - (before.buckets.get(le) ?? 0));
  return { buckets, count: after.count - before.count };
}

/** Smallest bucket bound holding the q-quantile, in ms (Infinity beyond the last bound). */
export function histogramQuantileMs(h: HistogramSnapshot, q: number): number | undefined {
  if (h.count <= 0) return undefined;
  const rank = q * h.count;
  const sorted = [...h.buckets].sort((a, b) => a[0] - b[0]);
  const hit = sorted.find(([, c]) => c >= rank);
  return hit ? hit[0] * 1000 : undefined;
}

export async function scrapeHistogram(
  url: string,
  name: string,
  label?: string,
): Promise<HistogramSnapshot | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    return parseHistogram(await res.text(), name, label);
  } catch {
    return undefined;
  }
}
