// Initial feed while an idle-in-transaction session holds xmin back (issue 14 item 12): the session
// takes a transaction id as the snapshot starts and sits idle until it ends, so every later
// chunk's pg_current_snapshot() keeps the same xmin. The watermark window forgets the transactions
// each chunk's SELECT saw (not only those older than xmin, which kept every key here), so it stays
// small; this checks, on real servers, that forgetting them loses nothing: with concurrent writes
// near the snapshot's position the peer ends equal to the source.
import pg from 'pg';
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
import { checkpoint, concurrentWriter, explainKeys, report, seedUsers } from '../support/snapshot.ts';

const ROWS = 10_000;
const BATCH = 250;

const urls = stackUrls();
let env: PipelineEnv;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  env = await pipelineEnv(urls, 'snapidle', { source: { snapshot: { batchSize: BATCH } } });
  await seedUsers(env.source.url, ROWS, { toastEvery: 10 });
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await env?.drop();
});

describe('initial snapshot while xmin is held back', () => {
  it(
    'an idle transaction with an xid spans the snapshot; the peer ends equal',
    { timeout: 240_000 },
    async () => {
      const app = testApp(env.config);
      await runPipeline(app, stops);
      await waitUntil(async () => (await checkpoint(env.config))?.status === 'running', {
        what: 'the automatic first snapshot to start',
      });
      // Opened once the slot exists (creating a slot waits for every transaction holding an xid).
      const idle = new pg.Client({ connectionString: env.source.url, application_name: 'test-idle-xact' });
      await idle.connect();
      stops.push(() => idle.end().catch(() => undefined));
      await idle.query('BEGIN');
      const [{ xid }] = (await idle.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid'))
        .rows as [{ xid: string }];
      const writer = concurrentWriter(env.config, 11);
      const cp = await waitUntil(
        async () => {
          const c = await checkpoint(env.config);
          return c?.status === 'done' && c;
        },
        { what: 'the snapshot to finish', timeoutMs: 180_000, intervalMs: 250 },
      );
      const counts = await writer.stop();
      // The idle transaction was there all along: every chunk's snapshot had it in progress.
      const [held] = await query<{ xmin: string }>(
        env.source.url,
        "SELECT split_part(pg_current_snapshot()::text, ':', 1) AS xmin",
      );
      expect(held!.xmin).toBe(xid);
      await idle.query('ROLLBACK');

      expect(counts.txns).toBeGreaterThan(10);
      expect(counts.nearSnapshot).toBeGreaterThan(5);
      expect(cp.rowsDone).toBeGreaterThanOrEqual(ROWS - counts.deletes);
      const result = await waitForPeerEqual(env, 120_000).catch(async (err: Error) => {
        const last = await compareWithPeer(env);
        const ids = [...last.extra, ...last.missing, ...last.different.map((d) => d.id)].slice(0, 5);
        throw new Error(`${err.message}\n${await explainKeys(app, env.topic, env.peer.url, ids)}`);
      });
      expect(result.equal).toBe(true);
      report('idle-xmin', {
        rows: ROWS,
        chunks: cp.chunks,
        rowEvents: cp.events,
        writerTxns: counts.txns,
        partialUpdates: counts.partialUpdates,
        nearSnapshot: counts.nearSnapshot,
        heldXmin: xid,
      });
    },
  );
});
