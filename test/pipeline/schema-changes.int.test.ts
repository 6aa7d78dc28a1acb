// Automatic schema changes on the real stack (docs/contracts.md, Schema changes; issue 15): with
// `source.schemaChanges: automatic`, `ALTER TABLE users ADD COLUMN nickname` while writers keep
// writing. The producer evolves the contract (a second registered value schema version, the
// evolved file beside the pinned one) without a restart (the slot's walsender stays the same
// process), and both database targets, a Postgres peer and a MariaDB peer, add the column and end
// equal to the source: every row written before (nickname NULL), during and after the change,
// every column, nothing dead-lettered.
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { compareWithMysql } from '../../dev/verify/mysql-compare.ts';
import { compareTables, type CompareResult } from '../../dev/verify/compare.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { DEFAULT_CONTRACT_DIR, loadContract, type ColumnSpec } from '../../schemas/contract.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  continuousWriter,
  deadLetters,
  pipelineEnv,
  query,
  runInProcess,
  testApp,
  writerLoop,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { freshMysqlDatabase } from '../mysql/support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(120_000);

const NICKNAME: ColumnSpec = { name: 'nickname', sqlType: 'text', pgType: 'text', nullable: true };

/** The pipeline's configuration with one more target (file and parsed config). */
function withTarget(e: PipelineEnv, target: Record<string, unknown>): PipelineEnv {
  const raw = parseYaml(readFileSync(e.configFile, 'utf8')) as { targets: unknown[] };
  raw.targets.push(target);
  writeFileSync(e.configFile, stringify(raw));
  return { ...e, config: parseConfig(raw, {}, 'test config', path.dirname(e.configFile)) };
}

/** Sets and inserts nicknames (4-byte UTF-8, quotes, NULL) until stopped. */
function nicknameWriter(url: string) {
  const counts = { txns: 0 };
  let n = 0;
  return writerLoop({ connectionString: url }, counts, async (c) => {
    n++;
    await c.query('BEGIN');
    await c.query(
      "UPDATE users SET nickname = CASE WHEN random() < 0.2 THEN NULL ELSE 'nick ''' || id || ' 🐘' END WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT 3)",
    );
    await c.query('INSERT INTO users (email, username, nickname) VALUES ($1, $2, $3)', [
      `nick${n}@x.io`,
      `nick${n}`,
      `n"${n}`,
    ]);
    await c.query('COMMIT');
    counts.txns++;
  });
}

const walsenderPid = async (e: PipelineEnv) =>
  (
    await query<{ pid: number | null }>(
      e.source.url,
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [e.config.source.slot],
    )
  )[0]?.pid;

describe('automatic schema changes', () => {
  it('ADD COLUMN while streaming reaches a Postgres and a MariaDB target without a restart; before, during and after end equal', async () => {
    const contracts = mkdtempSync(path.join(tmpdir(), 'pgcdc-contracts-'));
    for (const f of ['users-key.avsc', 'users-value.avsc'])
      cpSync(path.join(DEFAULT_CONTRACT_DIR, f), path.join(contracts, f));
    const maria = await freshMysqlDatabase(urls, 'schemachg');
    cleanups.push(() => maria.drop());
    const base = await pipelineEnv(urls, 'schemachg', { source: { schemaChanges: 'automatic', contracts } });
    cleanups.push(() => base.drop());
    const e = withTarget(base, { name: 'maria', type: 'mysql', url: maria.url, batchSize: 500 });
    const app = testApp(e.config);
    const pipeline = await runInProcess(app, { targets: ['peer', 'maria'] });
    cleanups.push(() => pipeline.stop());
    const [peer, mariaConsumer] = pipeline.consumers as [
      (typeof pipeline.consumers)[0],
      (typeof pipeline.consumers)[0],
    ];

    // before: the pinned contract's shape
    const writer = continuousWriter(e.source.url, 5);
    cleanups.push(() => writer.stop());
    await waitUntil(() => peer.status().applied > 150 && mariaConsumer.status().applied > 150, {
      what: 'events before the change at both targets',
      timeoutMs: 120_000,
    });
    const pid = await walsenderPid(e);
    expect(pid).toBeTruthy();

    // during: the column is added while the writer keeps writing, then written to
    await query(e.source.url, 'ALTER TABLE users ADD COLUMN nickname text');
    const nicks = nicknameWriter(e.source.url);
    cleanups.push(() => nicks.stop());
    const applied = peer.status().applied;
    await waitUntil(() => peer.status().applied > applied + 300, {
      what: 'events after the change at the peer',
      timeoutMs: 120_000,
    });
    // after: both writers stop; every row, every column (nickname included) ends equal
    await writer.stop();
    await nicks.stop();
    const columns = [...loadContract().columns, NICKNAME];
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
      { what: 'the Postgres peer to equal the source', timeoutMs: 120_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)?.slice(0, 2000)}`);
    });
    await waitUntil(
      async () =>
        (
          await compareWithMysql(
            { url: e.source.url, schema: 'public', table: 'users' },
            { url: maria.url, table: 'users' },
            columns,
            'id',
          ).catch(() => undefined)
        )?.equal === true,
      { what: 'the MariaDB peer to equal the source', timeoutMs: 120_000 },
    );
    const withNick = await query<{ n: string }>(
      e.peer.url,
      'SELECT count(*)::text AS n FROM users WHERE nickname IS NOT NULL',
    );
    expect(Number(withNick[0]!.n)).toBeGreaterThan(10);

    // no restart: the same walsender streamed before and after; nothing dead-lettered
    expect(await walsenderPid(e)).toBe(pid);
    expect(await deadLetters(app.kafka, e, 'peer')).toEqual([]);
    expect(await deadLetters(app.kafka, e, 'maria')).toEqual([]);

    // a second value schema version, registered; the evolved contract beside the pinned one
    const res = await fetch(
      `${urls.registryUrl}/subjects/${encodeURIComponent(`${e.topic}-value`)}/versions`,
    );
    expect(await res.json()).toHaveLength(2);
    const evolved = path.join(contracts, 'users-value.evolved.avsc');
    expect(existsSync(evolved)).toBe(true);
    expect(readFileSync(evolved, 'utf8')).toContain('"nickname"');
    expect(readFileSync(path.join(contracts, 'users-value.avsc'), 'utf8')).not.toContain('nickname');
  });
});
