// The Grafana dashboard against a real Prometheus: `pgcdc run` (a postgres peer and a webhook
// target) is scraped by Debian's Prometheus server (fetched like promtool, .ci/promtool.sh), and
// every query of deploy/grafana/dashboards/pgcdc.json (and its `target` variable) must return
// data once the pipeline has done what the panels show: a snapshot, changes applied and delivered,
// a batch that failed and was retried (a lock on the peer), a dead letter (the receiver's 422).
// Skipped, saying why, only when the prometheus binary cannot be had.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../../dev/stack/settings.ts';
import { freePort } from '../support/cluster.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  spawnCli,
  testApp,
  type CliChild,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { configVariant } from '../support/ops.ts';
import { SECRET, startReceiver, type Receiver } from '../support/webhook.ts';
import { withGrafanaVariables } from './promql.ts';

/** free ports chosen when the suite starts (a fixed port clashes with whatever else runs here) */
let PROM_PORT = 0;
let METRICS_PORT = 0;
let PROM = '';

/** The prometheus binary: on PATH, or fetched into the cache by .ci/promtool.sh. */
function findPrometheus(): string | undefined {
  const r = spawnSync('sh', ['-c', '. ./.ci/promtool.sh && command -v prometheus'], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
  });
  const bin = r.stdout.trim();
  return r.status === 0 && bin ? bin : undefined;
}

const PROMETHEUS = findPrometheus();
const SKIP = 'skipped: no prometheus binary (apt-get download prometheus failed; see .ci/promtool.sh)';

interface Panel {
  title: string;
  targets?: { refId: string; expr?: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(
  readFileSync(path.join(PROJECT_ROOT, 'deploy/grafana/dashboards/pgcdc.json'), 'utf8'),
) as { panels: Panel[]; templating: { list: { name: string; query?: string | { query?: string } }[] } };
const queries = dashboard.panels
  .flatMap((p) => [p, ...(p.panels ?? [])])
  .flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title} ${t.refId}`, expr: t.expr ?? '' })))
  .filter((q) => q.expr !== '');

async function promQuery(expr: string): Promise<number> {
  const res = await fetch(`${PROM}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data!.result.length;
}

/** The queries that return no series yet. */
async function empty(): Promise<string[]> {
  const counts = await Promise.all(queries.map((q) => promQuery(withGrafanaVariables(q.expr))));
  return queries.filter((_q, i) => counts[i] === 0).map((q) => `${q.where}: ${q.expr}`);
}

describe.skipIf(!PROMETHEUS)(PROMETHEUS ? 'dashboard on a real Prometheus' : `dashboard (${SKIP})`, () => {
  let env: PipelineEnv;
  let receiver: Receiver;
  let run: CliChild | undefined;
  let prometheus: ChildProcess | undefined;
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    // the webhook receiver refuses one user for good (a dead letter) and takes the rest
    receiver = await startReceiver((r) =>
      JSON.stringify(r.body).includes('refused@example.org') ? { status: 422 } : { status: 200 },
    );
    env = await pipelineEnv(stackUrls(), 'scrape');
    configFile = configVariant(env.configFile, (raw) => {
      const targets = raw.targets as Record<string, unknown>[];
      // a scheduled reconcile of the peer, for the Reconcile panels
      targets.find((t) => t.name === 'peer')!.reconcile = { every: '2s' };
      targets.push({
        name: 'hooks',
        type: 'webhook',
        url: receiver.url,
        secret: SECRET,
        maxAttempts: 2,
        backoff: { initial: 0.05, max: 0.2, jitter: 0 },
      });
    });
    PROM_PORT = await freePort();
    METRICS_PORT = await freePort();
    PROM = `http://127.0.0.1:${PROM_PORT}`;
    dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-prometheus-'));
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
        scrape_configs: [
          { job_name: 'pgcdc-run', static_configs: [{ targets: [`127.0.0.1:${METRICS_PORT}`] }] },
        ],
      }),
    );
  }, 120_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await run?.kill('SIGTERM');
    if (env) await dropPipelineEnv(env, testApp(env.config).kafka);
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('every dashboard query returns data', async () => {
    // rows before the start: the initial snapshot feeds them (the snapshot panels)
    await query(
      env.source.url,
      "INSERT INTO users (email, username) SELECT 's' || g || '@example.org', 's' || g FROM generate_series(1, 50) g",
    );
    run = spawnCli(['run', '-c', configFile, '--metrics-port', String(METRICS_PORT)]);
    prometheus = spawn(
      PROMETHEUS!,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${PROM_PORT}`,
      ],
      { stdio: 'ignore' },
    );
    await waitUntil(async () => (await fetch(`${PROM}/-/ready`)).ok, {
      what: `Prometheus to be ready on ${PROM}`,
      timeoutMs: 60_000,
      intervalMs: 500,
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}\npgcdc run output:\n${run?.output().slice(-3000)}`);
    });
    // true once a series starting with `name` has a value above 0 (target counters start at 0)
    const metric = async (name: string) =>
      (await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text())
        .split('\n')
        .some((line) => line.startsWith(name) && Number(line.slice(line.lastIndexOf(' ') + 1)) > 0);
    await waitUntil(() => metric('pgcdc_target_applied_events_total{'), {
      what: 'the snapshot applied (pgcdc run up, its /metrics answering)',
      timeoutMs: 120_000,
      intervalMs: 500,
    });

    // a batch that fails and is retried: the peer table locked past the target's lock timeout
    const locker = new pg.Client({ connectionString: env.peer.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      await query(
        env.source.url,
        "INSERT INTO users (email, username) VALUES ('locked@example.org', 'locked')",
      );
      await waitUntil(() => metric('pgcdc_target_failed_batches_total{target="peer"}'), {
        what: 'a failed batch of the peer (its lock timeout)',
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    await query(
      env.source.url,
      "INSERT INTO users (email, username) VALUES ('refused@example.org', 'refused')",
    );
    await query(env.source.url, "UPDATE users SET city = 'Oslo' WHERE id <= 10");
    await query(env.source.url, 'DELETE FROM users WHERE id = 11');

    let missing: string[] = [];
    await waitUntil(
      async () => {
        missing = await empty();
        return missing.length === 0;
      },
      { what: 'every dashboard query to return data', timeoutMs: 120_000, intervalMs: 1000 },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nno data:\n  ${missing.join('\n  ')}`);
    });
    expect(missing).toEqual([]);
    expect(queries.length).toBeGreaterThan(20);

    // the dashboard's `target` variable lists both targets
    const variable = dashboard.templating.list.find((v) => v.name === 'target')!;
    const q = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    const metricName = /label_values\(\s*([\w:]+)\s*,\s*target\s*\)/.exec(q)![1]!;
    const res = await fetch(`${PROM}/api/v1/label/target/values?match[]=${encodeURIComponent(metricName)}`);
    expect(((await res.json()) as { data: string[] }).data.sort()).toEqual(['hooks', 'peer']);
  }, 420_000);
});
