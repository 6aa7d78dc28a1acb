// The scheduled reconcile (`targets[].reconcile`) inside the running pipeline: drift made at the
// target is found and repaired by the schedule (mode repair), the audit log has a `reconcile` line
// naming it, the metrics show the run (rows by result, drift back to 0 once repaired), and
// `pgcdc status` shows the last run.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../pipeline/compose.ts';
import { formatStatus } from '../../ops/format.ts';
import { gatherStatus } from '../../ops/status.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runPipeline,
  waitForPeerEqual,
  type Stops,
} from '../support/pipeline.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

describe('scheduled reconcile', () => {
  it('reports and repairs drift in the running pipeline; audit line and metrics show it', async () => {
    const urls = stackUrls();
    const env = await pipelineEnv(urls, 'recsched');
    const target = {
      ...env.config.targets[0]!,
      reconcile: {
        every: 2,
        mode: 'repair' as const,
        includeForeign: false,
        chunkSize: 100,
        settleTimeout: 60,
      },
    };
    const config = { ...env.config, targets: [target] };
    const logFile = path.join(mkdtempSync(path.join(tmpdir(), 'pgcdc-rec-')), 'audit.log');
    const app = createApp(config, createLogger({ level: 'info', file: logFile }), { defaultMetrics: false });
    cleanup = () => dropPipelineEnv(env, app.kafka, stops);
    await query(
      env.source.url,
      "INSERT INTO users (email, username, city) SELECT 'u' || g || '@x.io', 'u' || g, 'Rome' FROM generate_series(1, 120) g",
    );
    await runPipeline(app, stops);
    await waitForPeerEqual(env, 120_000);
    await query(env.peer.url, 'DELETE FROM users WHERE id = 5');
    await query(env.peer.url, "UPDATE users SET city = 'Nowhere' WHERE id = 6");

    const audits = () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"kind":"reconcile"'))
        .map((l) => JSON.parse(l) as { status: string; counts: Record<string, number> });
    const found = await waitUntil(
      () => audits().find((a) => a.counts.missing === 1 && a.counts.differing === 1),
      {
        what: 'a reconcile audit line naming the drift',
        timeoutMs: 120_000,
      },
    );
    expect(found).toMatchObject({
      status: 'partial',
      counts: { missing: 1, differing: 1, extra: 0, fed: 2 },
    });
    await waitForPeerEqual(env, 120_000);
    const metric = async (line: string) =>
      (await app.metrics.registry.metrics()).split('\n').find((l) => l.startsWith(line));
    await waitUntil(async () => (await metric('pgcdc_reconcile_drift{target="peer"}'))?.endsWith(' 0'), {
      what: 'a later run to find no drift',
      timeoutMs: 120_000,
    });
    expect(
      await metric('pgcdc_reconcile_rows{target="peer",table="public.users",result="compared"}'),
    ).toMatch(/ 120$/);
    expect(
      await metric('pgcdc_reconcile_last_run_timestamp_seconds{target="peer",status="ok"}'),
    ).toBeDefined();
    // pgcdc status shows the last run (text and --json) from the status topic
    const status = await waitUntil(
      async () => {
        const st = await gatherStatus(config, app.kafka);
        return st.targets[0]?.lastReconcile?.verdict === 'ok' && st;
      },
      { what: 'pgcdc status to show the last (clean) run', timeoutMs: 60_000 },
    );
    const last = status.targets[0]!.lastReconcile;
    expect(last).toMatchObject({ by: 'schedule', mode: 'repair', verdict: 'ok' });
    expect(last!.counts.compared).toBe(120);
    expect(formatStatus(status, Date.now())).toMatch(
      /last reconcile ok \(repair, schedule, [\d.]+ s\) ended .*: 120 compared, 0 missing, 0 extra, 0 differing, 0 undecided; fed 0, removed 0/,
    );
  }, 400_000);
});
