// Helpers of the deploy tests: the metric names a pgcdc process exports, and the metric names a
// PromQL expression reads, so that a typo in a dashboard or an alert fails a test instead of
// silently drawing nothing.
import { createMetrics } from '../../pipeline/observability/metrics.ts';

/**
 * Metrics other changes add to pipeline/observability/metrics.ts (issue #7). Listed here so the
 * dashboard and alerts can use them now; once metrics.ts defines them this list is redundant.
 */
export const PENDING_METRICS = [
  'pgcdc_slot_wal_retained_bytes',
  'pgcdc_target_consumer_lag_events',
  'pgcdc_webhook_responses_total',
  'pgcdc_snapshot_rows_done',
  'pgcdc_snapshot_rows_estimated',
  'pgcdc_target_up',
  'pgcdc_producer_ready',
] as const;

/** Series Prometheus itself produces for every scrape target. */
const PROMETHEUS_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

/** Every series name a pgcdc process exports (histograms expanded), plus the pending ones. */
export async function knownMetricNames(): Promise<Set<string>> {
  const metrics = createMetrics({ defaults: true });
  const names = new Set<string>([...PENDING_METRICS, ...PROMETHEUS_SERIES]);
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    if (String(m.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    } else {
      names.add(m.name);
    }
  }
  return names;
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'atan2',
  'inf',
  'nan',
]);

/**
 * Metric names read by a PromQL expression (Grafana variables allowed). Not a parser: it removes
 * strings, label matchers, ranges and grouping clauses, then keeps identifiers that are not
 * function calls or keywords. Good enough for the expressions of this repository.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?\w+/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.$:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const name = m[1]!;
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Grafana's built-in and dashboard variables replaced by literal values PromQL accepts. */
export function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?(\w+)\}?/g, '.*');
}
