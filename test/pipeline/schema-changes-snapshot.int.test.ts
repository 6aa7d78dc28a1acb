// A snapshot after an automatic schema change, in the same producer session (docs/contracts.md,
// Schema changes; issue 15): `ALTER TABLE users ADD COLUMN ... DEFAULT ...` gives the source's
// existing rows a value no change event carries, and `pgcdc snapshot` is how the targets get it.
// The snapshot must read the table with its evolved shape:
//   - after the table's next change (its Relation message evolved the contract in the stream);
//   - right after the ALTER, before any change of the table (no Relation yet: the snapshot evolves
//     the contract from the catalog itself).
// Both times the peer ends equal to the source, the new columns included, without a restart.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareTables, type CompareResult } from '../../dev/verify/compare.ts';
import { requestSnapshot } from '../../producers/snapshot/checkpoint.ts';
import { SIGNAL_PREFIX } from '../../producers/snapshot/watermark.ts';
import { DEFAULT_CONTRACT_DIR, loadContract, type ColumnSpec } from '../../schemas/contract.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { withClient } from '../support/database.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, runInProcess, testApp, type PipelineEnv } from '../support/pipeline.ts';
import { checkpoint, checkpointWhere, seedUsers } from '../support/snapshot.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(120_000);

const column = (name: string): ColumnSpec => ({ name, sqlType: 'text', pgType: 'text', nullable: true });

/** Requests a snapshot of users and wakes the producer, as `pgcdc snapshot` does; waits for it to finish. */
async function snapshotUsers(e: PipelineEnv, reason: string): Promise<void> {
  const { ref, key } = checkpointWhere(e.config);
  const requested = await withClient(e.source.url, async (c) => {
    const row = await requestSnapshot(c, ref, key, { restart: true, reason });
    await c.query('SELECT pg_logical_emit_message(false, $1, $2)', [SIGNAL_PREFIX, reason]);
    return row.requestedAt!;
  });
  await waitUntil(
    async () => {
      const cp = await checkpoint(e.config);
      return cp?.status === 'done' && cp.finishedAt !== null && cp.finishedAt >= requested;
    },
    { what: `the snapshot (${reason}) to finish`, timeoutMs: 120_000 },
  );
}

async function waitEqual(e: PipelineEnv, columns: ColumnSpec[], what: string): Promise<void> {
  let last: CompareResult | undefined;
  await waitUntil(
    async () => {
      last = await compareTables(
        { url: e.source.url, schema: 'public', table: 'users' },
        { url: e.peer.url, schema: 'public', table: 'users' },
        columns,
      ).catch(() => undefined);
      return last?.equal === true;
    },
    { what, timeoutMs: 120_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)?.slice(0, 2000)}`);
  });
}

describe('a snapshot after an automatic schema change, same producer session', () => {
  it('feeds the new columns with the values the ALTER gave existing rows (after a change, and before any)', async () => {
    const contracts = mkdtempSync(path.join(tmpdir(), 'pgcdc-contracts-'));
    for (const f of ['users-key.avsc', 'users-value.avsc'])
      cpSync(path.join(DEFAULT_CONTRACT_DIR, f), path.join(contracts, f));
    const e = await pipelineEnv(urls, 'schemasnap', { source: { schemaChanges: 'automatic', contracts } });
    cleanups.push(() => e.drop());
    await seedUsers(e.source.url, 300, { seed: 7 });
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const base = loadContract().columns;
    await waitEqual(e, base, 'the initial snapshot at the peer');

    // 1. ALTER, then a change of the table (its Relation evolves the contract), then a snapshot
    await query(e.source.url, "ALTER TABLE users ADD COLUMN tier text DEFAULT 'basic'");
    await query(e.source.url, "INSERT INTO users (email, username, tier) VALUES ('t@x.io', 't', 'gold')");
    await waitUntil(
      async () =>
        (await query(e.peer.url, "SELECT 1 FROM users WHERE email = 't@x.io' AND tier = 'gold'")).length ===
        1,
      { what: 'the change after the ALTER, with its tier, at the peer', timeoutMs: 120_000 },
    );
    await snapshotUsers(e, 'tier added');
    await waitEqual(e, [...base, column('tier')], 'the peer to equal the source, tier included');

    // 2. ALTER, then a snapshot before any change of the table (no Relation message yet)
    await query(e.source.url, "ALTER TABLE users ADD COLUMN region text DEFAULT 'eu'");
    await snapshotUsers(e, 'region added');
    await waitEqual(
      e,
      [...base, column('tier'), column('region')],
      'the peer to equal the source, region included',
    );
    const regions = await query<{ n: string }>(
      e.peer.url,
      "SELECT count(*)::text AS n FROM users WHERE region = 'eu'",
    );
    expect(Number(regions[0]!.n)).toBe(301);

    // the stream goes on with both columns
    await query(e.source.url, "UPDATE users SET tier = 'silver', region = 'us' WHERE email = 't@x.io'");
    await waitEqual(
      e,
      [...base, column('tier'), column('region')],
      'the update after both changes at the peer',
    );
  }, 480_000);
});
