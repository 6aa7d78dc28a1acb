// Initial feed with live writes: the users table is filled before the producer first starts; the
// producer's automatic first snapshot (small feed limit) runs while another connection inserts,
// updates (full, and partial: without an unchanged out-of-line bio) and deletes rows, half of them
// right where the snapshot reads.
// Afterwards the peer equals the source row by row: no snapshot row overwrote a newer change and
// no deleted row came back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  compareWithPeer,
  pipelineEnv,
  query,
  runPipeline,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';
import {
  appliedByOp,
  checkpoint,
  concurrentWriter,
  explainKeys,
  perSecond,
  report,
  seedUsers,
} from '../support/snapshot.ts';

/** 100k takes several minutes on a 2-core machine (the peer applies ~1.5k rows/s): 30k by default. */
const ROWS = Number(process.env.PGCDC_SNAPSHOT_TEST_ROWS ?? 30_000);
const BATCH = 500;

const urls = stackUrls();
let env: PipelineEnv;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  env = await pipelineEnv(urls, 'snapconc', {
    source: { snapshot: { batchSize: BATCH, progressIntervalMs: 5000 } },
  });
  const ms = await seedUsers(env.source.url, ROWS, { toastEvery: 10 });
  const [toasted] = await query<{ n: string }>(
    env.source.url,
    'SELECT count(*) AS n FROM users WHERE pg_column_size(bio) > 2000',
  );
  expect(Number(toasted!.n)).toBeGreaterThanOrEqual(ROWS / 10);
  report('seeded', { rows: ROWS, ms });
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await env?.drop();
});

describe('initial snapshot with concurrent writes', () => {
  it(
    `feeds ${ROWS} pre-existing users while rows change, and the peer ends equal`,
    { timeout: 300_000 },
    async () => {
      const app = testApp(env.config);
      const { consumer } = await runPipeline(app, stops);

      await waitUntil(async () => (await checkpoint(env.config))?.status === 'running', {
        what: 'the automatic first snapshot to start',
      });
      const writer = concurrentWriter(env.config);
      const cp = await waitUntil(
        async () => {
          const c = await checkpoint(env.config);
          return c?.status === 'done' && c;
        },
        { what: 'the snapshot to finish', timeoutMs: 240_000, intervalMs: 250 },
      );
      const counts = await writer.stop();

      // The snapshot ran concurrently with the writes, including changes where it was reading.
      expect(counts.txns).toBeGreaterThan(20);
      expect(counts.nearSnapshot).toBeGreaterThan(20);
      expect(counts.partialUpdates).toBeGreaterThan(0); // updates sent without their out-of-line bio
      expect(cp.reason).toBe('initial');
      expect(cp.resumes).toBe(0);
      expect(cp.rowsTotal).toBe(ROWS);
      expect(cp.rowsDone).toBeLessThanOrEqual(ROWS);
      expect(cp.rowsDone).toBeGreaterThanOrEqual(ROWS - counts.deletes);
      expect(cp.events).toBeLessThanOrEqual(cp.rowsDone);

      const snapshotMs = cp.finishedAt!.getTime() - cp.startedAt!.getTime();
      const allRAppliedAt = await waitUntil(
        async () => ((await appliedByOp(app, 'peer')).r ?? 0) >= cp.events && Date.now(),
        { what: 'the peer to apply every op=r event', timeoutMs: 240_000, intervalMs: 200 },
      );
      const peerMs = allRAppliedAt - cp.startedAt!.getTime();
      const result = await waitForPeerEqual(env, 120_000).catch(async (err: Error) => {
        const last = await compareWithPeer(env);
        const ids = [...last.extra, ...last.missing, ...last.different.map((d) => d.id)].slice(0, 5);
        throw new Error(`${err.message}\n${await explainKeys(app, env.topic, env.peer.url, ids)}`);
      });
      expect(result.equal).toBe(true);
      const status = consumer.status();
      report('concurrent', {
        rows: ROWS,
        batch: BATCH,
        chunks: cp.chunks,
        rowEvents: cp.events,
        kafkaRowsPerSec: perSecond(cp.rowsDone, snapshotMs),
        snapshotSec: (snapshotMs / 1000).toFixed(1),
        peerRowsPerSec: perSecond(cp.events, peerMs),
        peerSec: (peerMs / 1000).toFixed(1),
        writerTxns: counts.txns,
        inserts: counts.inserts,
        updates: counts.updates,
        partialUpdates: counts.partialUpdates,
        deletes: counts.deletes,
        nearSnapshot: counts.nearSnapshot,
        peerDeadLettered: status.deadLettered,
        finalRows: result.sourceRows,
      });
    },
  );
});
