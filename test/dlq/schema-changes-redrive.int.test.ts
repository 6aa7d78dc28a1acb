// `pgcdc dlq redrive` under `source.schemaChanges: automatic` (docs/contracts.md, Schema changes):
// a dead letter written with an evolved value schema (a column added at the source while
// streaming) is redriven with that column's value, as the running consumer would have applied it:
// the redrive decodes each entry with the newest additive version it meets and its sink writes the
// added columns. The peer rejects the row first (a CHECK on the new column the source has not),
// then accepts it once the constraint is dropped.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTRACT_DIR } from '../../schemas/contract.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, runCli, runInProcess, testApp } from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(120_000);

describe('dlq redrive after an automatic schema change', () => {
  it("redrives a dead letter of the evolved version with the new column's value", async () => {
    const contracts = mkdtempSync(path.join(tmpdir(), 'pgcdc-contracts-'));
    for (const f of ['users-key.avsc', 'users-value.avsc'])
      cpSync(path.join(DEFAULT_CONTRACT_DIR, f), path.join(contracts, f));
    const e = await pipelineEnv(urls, 'schemadlq', { source: { schemaChanges: 'automatic', contracts } });
    cleanups.push(() => e.drop());
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const peer = pipeline.consumers[0]!;

    await query(e.source.url, "INSERT INTO users (email, username) VALUES ('a@x.io', 'a')");
    await waitUntil(async () => (await query(e.peer.url, 'SELECT 1 FROM users')).length === 1, {
      what: 'the first row at the peer (its table created)',
      timeoutMs: 120_000,
    });
    // the peer has the column already, with a constraint the source has not
    await query(
      e.peer.url,
      "ALTER TABLE users ADD COLUMN nickname text CONSTRAINT no_bad CHECK (nickname IS DISTINCT FROM 'bad')",
    );
    await query(e.source.url, 'ALTER TABLE users ADD COLUMN nickname text');
    await query(e.source.url, "INSERT INTO users (email, username, nickname) VALUES ('b@x.io', 'b', 'bad')");
    await query(e.source.url, "INSERT INTO users (email, username, nickname) VALUES ('c@x.io', 'c', 'good')");
    await waitUntil(() => peer.status().deadLettered === 1, { what: 'the dead letter', timeoutMs: 120_000 });
    await waitUntil(
      async () => (await query(e.peer.url, "SELECT 1 FROM users WHERE nickname = 'good'")).length === 1,
      { what: 'the row after it at the peer', timeoutMs: 120_000 },
    );

    await query(e.peer.url, 'ALTER TABLE users DROP CONSTRAINT no_bad');
    const res = await runCli(['dlq', 'redrive', '--target', 'peer', '-c', e.configFile, '--json'], 120_000);
    expect(res.code, res.stderr).toBe(0);
    const rows = await query<{ nickname: string | null }>(
      e.peer.url,
      "SELECT nickname FROM users WHERE email = 'b@x.io'",
    );
    expect(rows).toEqual([{ nickname: 'bad' }]);
  }, 300_000);
});
