// The monitoring artefacts of deploy/: Prometheus config and alert rules (checked and unit-tested
// by promtool when it is installed) and the Grafana dashboard and provisioning. Every metric name
// they use must be one a pgcdc process exports, so a typo fails here, not on a blank panel.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { PROJECT_ROOT } from '../../dev/stack/settings.ts';
import { knownMetricNames, metricNamesIn, withGrafanaVariables } from './promql.ts';

const PROM_DIR = path.join(PROJECT_ROOT, 'deploy/prometheus');
const GRAFANA_DIR = path.join(PROJECT_ROOT, 'deploy/grafana');
const PROMTOOL_MISSING = spawnSync('promtool', ['--version']).error !== undefined;
const SKIP_REASON = 'skipped: promtool not on PATH (apt-get install prometheus)';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Target {
  refId: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  type: string;
  name: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { uid?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

function readYaml<T>(file: string): T {
  return parseYaml(readFileSync(file, 'utf8')) as T;
}

function promtool(...args: string[]) {
  const res = spawnSync('promtool', args, { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

const rules = readYaml<{ groups: { name: string; rules: Rule[] }[] }>(
  path.join(PROM_DIR, 'alerts.yml'),
).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert !== undefined);
const dashboard = JSON.parse(
  readFileSync(path.join(GRAFANA_DIR, 'dashboards/pgcdc.json'), 'utf8'),
) as Dashboard;
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter((p) => p.type !== 'row');
const dashboardExprs = queryPanels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '' })),
);

let known: Set<string>;
beforeAll(async () => {
  known = await knownMetricNames();
});

describe.skipIf(PROMTOOL_MISSING)(PROMTOOL_MISSING ? `promtool (${SKIP_REASON})` : 'promtool', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'pgcdc-promtool-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('accepts the alert rules', () => {
    const res = promtool('check', 'rules', 'deploy/prometheus/alerts.yml');
    expect(res.output).toContain('SUCCESS');
    expect(res.status, res.output).toBe(0);
  });

  it('accepts the Prometheus configuration (and the rule files it names)', () => {
    const res = promtool('check', 'config', 'deploy/prometheus/prometheus.yml');
    expect(res.status, res.output).toBe(0);
  });

  it('passes the alert unit tests of alerts.test.yml', () => {
    const res = promtool('test', 'rules', 'deploy/prometheus/alerts.test.yml');
    expect(res.status, res.output).toBe(0);
  });

  it('parses every dashboard query as PromQL', () => {
    // Each query becomes a recording rule, Grafana variables replaced by literals.
    const file = path.join(tmp, 'dashboard-queries.yml');
    const recorded = dashboardExprs.map((q, i) => ({
      record: `pgcdc_dashboard:query_${i}`,
      expr: withGrafanaVariables(q.expr),
    }));
    writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboard', rules: recorded }] }));
    const res = promtool('check', 'rules', file);
    expect(res.status, res.output).toBe(0);
  });
});

describe('alert rules', () => {
  it('define the alerts the runbook expects', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'PgcdcProducerDown',
        'PgcdcProducerNotReady',
        'PgcdcProducerRestarting',
        'PgcdcSlotWalRetainedHigh',
        'PgcdcConsumerDown',
        'PgcdcTargetDown',
        'PgcdcTargetBatchesFailing',
        'PgcdcTargetDeadLetters',
        'PgcdcTargetLagGrowing',
        'PgcdcTargetEndToEndLatencyHigh',
      ]),
    );
  });

  it.each(alerts.map((a) => [a.alert!, a] as const))(
    '%s has a severity, summary, description and runbook',
    (_name, a) => {
      expect(['critical', 'warning', 'info']).toContain(a.labels?.severity);
      for (const key of ['summary', 'description', 'runbook'])
        expect(a.annotations?.[key], key).toMatch(/\S/);
    },
  );

  it('are each exercised by alerts.test.yml', () => {
    const tests = readYaml<{ tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }>(
      path.join(PROM_DIR, 'alerts.test.yml'),
    ).tests.flatMap((t) => t.alert_rule_test ?? []);
    const fired = new Set(tests.filter((t) => t.exp_alerts.length > 0).map((t) => t.alertname));
    expect(fired.size).toBeGreaterThanOrEqual(3);
    const untested = alerts.map((a) => a.alert!).filter((name) => !tests.some((t) => t.alertname === name));
    expect(untested).toEqual([]);
    const unknown = tests.map((t) => t.alertname).filter((name) => !alerts.some((a) => a.alert === name));
    expect(unknown).toEqual([]);
  });

  it('only read metrics that pgcdc exports', () => {
    for (const r of rules) {
      const names = metricNamesIn(r.expr);
      expect(names.length, `${r.alert ?? r.record}: no metric found in ${r.expr}`).toBeGreaterThan(0);
      expect(
        names.filter((n) => !known.has(n)),
        `unknown metric in ${r.alert ?? r.record}`,
      ).toEqual([]);
    }
  });

  it('select the scrape jobs of prometheus.yml', () => {
    const config = readYaml<{ scrape_configs: { job_name: string }[]; rule_files: string[] }>(
      path.join(PROM_DIR, 'prometheus.yml'),
    );
    expect(config.rule_files).toContain('alerts.yml');
    const jobs = new Set(config.scrape_configs.map((s) => s.job_name));
    for (const r of rules) {
      for (const m of r.expr.matchAll(/job="([^"]+)"/g))
        expect(jobs, `${r.alert}: job ${m[1]}`).toContain(m[1]);
    }
  });
});

describe('metric name extraction', () => {
  it.each([
    ['up{job="pgcdc-producer"} == 0', ['up']],
    ['sum by (target, le) (rate(pgcdc_x_bucket{target=~"$target"}[$__rate_interval]))', ['pgcdc_x_bucket']],
    ['a / on (job) group_left b > 1e9 unless c offset 10m', ['a', 'b', 'c']],
    ['histogram_quantile(0.99, sum by (le) (rate(m_bucket[5m]))) > 10', ['m_bucket']],
  ])('%s reads %j', (expr, names) => {
    expect(metricNamesIn(expr).sort()).toEqual([...names].sort());
  });
});

describe('Grafana dashboard', () => {
  it('is identified and uses a Prometheus datasource variable', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
  });

  it('has unique panel ids and a layout within the 24-column grid', () => {
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of allPanels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.w * p.gridPos.h, p.title).toBeGreaterThan(0);
    }
  });

  it.each(queryPanels.map((p) => [p.title, p] as const))(
    'panel "%s" queries Prometheus through the variable',
    (_t, p) => {
      expect(p.datasource?.uid).toBe('${datasource}');
      expect(p.targets?.length).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect(t.expr, t.refId).toMatch(/\S/);
        expect(t.datasource?.uid, t.refId).toBe('${datasource}');
      }
    },
  );

  it('reads only metrics that pgcdc exports (queries and variables)', () => {
    const used = dashboardExprs.map((q) => ({ where: q.where, names: metricNamesIn(q.expr) }));
    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const metric = /label_values\(\s*([A-Za-z_:][\w:]*)\s*,/.exec(q)?.[1];
      expect(metric, `variable ${v.name}: ${q}`).toBeDefined();
      expect(v.datasource?.uid).toBe('${datasource}');
      used.push({ where: `variable ${v.name}`, names: [metric!] });
    }
    for (const u of used) {
      expect(u.names.length, `${u.where}: no metric`).toBeGreaterThan(0);
      expect(
        u.names.filter((n) => !known.has(n)),
        u.where,
      ).toEqual([]);
    }
  });

  it('covers throughput, latency, lag, WAL, errors, webhooks, snapshot, restarts and processes', () => {
    const all = dashboardExprs.map((q) => q.expr).join('\n');
    for (const metric of [
      'pgcdc_published_events_total',
      'pgcdc_target_applied_events_total',
      'pgcdc_target_end_to_end_latency_seconds_bucket',
      'pgcdc_target_consumer_lag_events',
      'pgcdc_slot_wal_retained_bytes',
      'pgcdc_target_failed_batches_total',
      'pgcdc_target_dead_lettered_events_total',
      'pgcdc_webhook_responses_total',
      'pgcdc_snapshot_rows_done',
      'pgcdc_snapshot_rows_estimated',
      'pgcdc_producer_restarts_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ]) {
      expect(all, metric).toContain(metric);
    }
    for (const q of [0.5, 0.95, 0.99]) expect(all).toContain(`histogram_quantile(${q}, sum by (le, target)`);
  });
});

describe('Grafana provisioning', () => {
  it('declares the Prometheus service of the compose stack as the default datasource', () => {
    const ds = readYaml<{ datasources: { type: string; url: string; isDefault?: boolean }[] }>(
      path.join(GRAFANA_DIR, 'provisioning/datasources/prometheus.yml'),
    ).datasources;
    expect(ds).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true }),
    ]);
  });

  it('loads dashboards from a file provider', () => {
    const providers = readYaml<{ providers: { type: string; options: { path: string } }[] }>(
      path.join(GRAFANA_DIR, 'provisioning/dashboards/pgcdc.yml'),
    ).providers;
    expect(providers).toHaveLength(1);
    expect(providers[0]?.type).toBe('file');
    expect(providers[0]?.options.path).toMatch(/^\//);
  });
});
