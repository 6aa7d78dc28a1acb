// A graceful stop has a deadline: with Kafka holding every send of the change topic (the producer's
// send is never acknowledged), stopping the producer used to wait forever (a test's cleanup hung
// 300 s). stopWithin gives up after the deadline, says what it abandons, and the slot's confirmed
// position has not moved past what Kafka acknowledged: nothing is lost, the next start re-reads.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../pipeline/compose.ts';
import { stopWithin } from '../../pipeline/supervision/shutdown.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  gatedKafka,
  pipelineEnv,
  query,
  runInProcess,
  slotConfirmedLsn,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';

let env: PipelineEnv;
let app: App;
let gate: ReturnType<typeof gatedKafka> | undefined;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  env = await pipelineEnv(stackUrls(), 'stopdl', { source: { snapshot: { mode: 'never' } } });
  app = testApp(env.config, (k) => (gate = gatedKafka(k)).factory);
});

afterAll(async () => {
  gate?.open();
  await dropPipelineEnv(env, app.kafka, stops);
});

it('gives up a stop held by an unacknowledged Kafka send after the deadline, losing nothing', async () => {
  const pipeline = await runInProcess(app);
  let finished = false;
  await query(env.source.url, "INSERT INTO users (email, username) VALUES ('first@x.io', 'first')");
  await waitForPeerEqual(env);
  const before = await slotConfirmedLsn(env);

  gate!.close();
  await query(env.source.url, "INSERT INTO users (email, username) VALUES ('held@x.io', 'held')");
  await waitUntil(() => gate!.blockedSends() > 0, { what: 'a send to wait for Kafka' });

  const logFile = path.join(mkdtempSync(path.join(tmpdir(), 'pgcdc-stop-')), 'log.jsonl');
  const logger = createLogger({ level: 'info', file: logFile });
  const deadlineMs = 1500;
  const outcome = await stopWithin(
    async () => {
      await pipeline.stop();
      finished = true;
    },
    {
      deadlineMs,
      logger,
      abandoned: () => ({ producer: { confirmedLsn: pipeline.producer?.state().confirmedLsn ?? null } }),
    },
  );
  expect(outcome.kind).toBe('abandoned');
  expect(outcome.ms).toBeGreaterThanOrEqual(deadlineMs - 50);
  expect(outcome.ms).toBeLessThan(deadlineMs + 1000);
  expect(finished).toBe(false);
  const logged = readFileSync(logFile, 'utf8');
  expect(logged).toContain('graceful stop did not finish in time (operations.stopTimeoutMs)');
  expect(logged).toContain('"confirmedLsn"');
  // not acknowledged = not confirmed upstream
  expect(await slotConfirmedLsn(env)).toBe(before);

  // Kafka comes back: the stop that was abandoned completes (in a real process, exit came first)
  gate!.open();
  await waitUntil(() => finished, { what: 'the abandoned stop to complete once Kafka acknowledges' });
});
