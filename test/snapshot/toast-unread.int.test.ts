// An update that leaves an out-of-line (TOASTed) bio unchanged, of a row the running initial
// snapshot has not read yet: PostgreSQL sends it without the bio, and the target, which gets the
// row only from the snapshot, has nothing to update. The producer publishes such updates complete
// (it reads the row), so no target dead-letters healthy rows (`missing-row`) and the peer ends
// equal to the source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  deadLetters,
  pipelineEnv,
  query,
  runPipeline,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { checkpoint, seedUsers } from '../support/snapshot.ts';

const ROWS = 4000;
const BATCH = 100;

const urls = stackUrls();
let env: PipelineEnv;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  env = await pipelineEnv(urls, 'snaptoast', { source: { snapshot: { batchSize: BATCH } } });
  await seedUsers(env.source.url, ROWS, { largeBioRatio: 0, toastEvery: 4 });
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await env?.drop();
});

describe('initial snapshot and partial updates of rows it has not read yet', () => {
  it('no dead letter; the peer ends equal', { timeout: 300_000 }, async () => {
    const app = testApp(env.config);
    const { consumer } = await runPipeline(app, stops);
    await waitUntil(async () => (await checkpoint(env.config))?.status === 'running', {
      what: 'the automatic first snapshot to start',
    });
    // Rows with an out-of-line bio well ahead of the scan, updated without touching the bio, in a
    // few rounds while the snapshot reads.
    let updated = 0;
    for (let round = 0; round < 5; round++) {
      const cp = await checkpoint(env.config);
      if (cp?.status !== 'running') break;
      const from = Number(cp.lastKey ?? 0) + 4 * BATCH;
      const rows = await query<{ id: string }>(
        env.source.url,
        `UPDATE users SET city = $1 WHERE id > $2 AND id % 4 = 0 AND id % 7 = $3 RETURNING id`,
        [`round ${round}`, from, round],
      );
      updated += rows.length;
      const toasted = await query<{ n: string }>(
        env.source.url,
        'SELECT count(*) AS n FROM users WHERE id = ANY($1) AND pg_column_size(bio) > 2000',
        [rows.map((r) => r.id)],
      );
      expect(Number(toasted[0]!.n)).toBe(rows.length);
    }
    expect(updated).toBeGreaterThan(50);
    await waitUntil(async () => (await checkpoint(env.config))?.status === 'done', {
      what: 'the snapshot to finish',
      timeoutMs: 240_000,
      intervalMs: 250,
    });
    const result = await waitForPeerEqual(env, 180_000);
    expect(result.equal).toBe(true);
    expect(consumer.status().deadLettered).toBe(0);
    expect(await deadLetters(app.kafka, env)).toEqual([]);
  });
});
