// The checkpoint row's reason under concurrent requests (producers/snapshot/checkpoint.ts
// requestSnapshot): the producer restarts a snapshot whose filter changed (requested,
// filter-changed) and begins it a moment later, after reading the table's last key and estimating
// its rows; a `pgcdc snapshot` landing in between merges into that pending request and must not
// relabel it. Before, it wrote its own reason (requested), and the snapshot that ran for the
// filter change was recorded as a plain request.
import pg from 'pg';
import { expect, it } from 'vitest';
import {
  beginSnapshot,
  ensureCheckpointTable,
  readCheckpoint,
  requestSnapshot,
} from '../../producers/snapshot/checkpoint.ts';
import { freshDatabase, stackUrls } from '../support/index.ts';

it('a plain request merges into a pending one and keeps its reason; a restart or a finished row takes the new one', async () => {
  const db = await freshDatabase(stackUrls().adminUrl, 'reqreason');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const ref = { schema: 'public', table: 'pgcdc_snapshot' };
  const key = { slot: 's', tableName: 'public.users' };
  const begin = (snapshotId: string) =>
    beginSnapshot(c, ref, key, {
      snapshotId,
      maxKey: '10',
      total: 10,
      batchSize: 5,
      filterFingerprint: null,
    });
  try {
    await ensureCheckpointTable(c, ref);
    // the producer's restart for a changed filter, then a user's request before it begins
    await requestSnapshot(c, ref, key, { restart: true, reason: 'filter-changed' });
    const merged = await requestSnapshot(c, ref, key, { restart: false, reason: 'requested' });
    expect(merged).toMatchObject({ status: 'requested', reason: 'filter-changed' });
    expect(await begin('a')).toMatchObject({ status: 'running', reason: 'filter-changed' });
    // a plain request while it runs resumes it: the reason stays too (as before)
    expect(await requestSnapshot(c, ref, key, { restart: false, reason: 'requested' })).toMatchObject({
      status: 'running',
      reason: 'filter-changed',
    });
    // a restart relabels: it starts from the first key for its own reason
    expect(await requestSnapshot(c, ref, key, { restart: true, reason: 'restart' })).toMatchObject({
      status: 'requested',
      reason: 'restart',
    });
    await begin('b');
    await c.query(`UPDATE public.pgcdc_snapshot SET status = 'done', finished_at = now()`);
    // after a finished one, a request is a new snapshot with its own reason
    expect(await requestSnapshot(c, ref, key, { restart: false, reason: 'requested' })).toMatchObject({
      status: 'requested',
      reason: 'requested',
    });
    expect((await readCheckpoint(c, ref, key))?.reason).toBe('requested');
  } finally {
    await c.end();
    await db.drop();
  }
});
