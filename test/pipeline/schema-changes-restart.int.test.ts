// The producer-restart path of an automatic schema change (docs/contracts.md, Schema changes,
// "Where the evolved contract lives"; issue 15). A column is added while streaming, so the topic
// holds events of both value schema versions and the evolved one is registered; then the producer
// is killed (SIGKILL, writers going on) and started again. The new process starts from the pinned
// contract file, which lacks the column: it must evolve it from the catalog at start (the same
// schema, so the registry answers with the same version, no third one) and publish the column from
// its first event on. The running consumers (a Postgres and a MariaDB target) keep decoding, and
// a target started only after the restart reads the whole topic from the beginning (events of
// both versions, its table created from the pinned contract and evolved when the newer version
// arrives). Every target ends equal to the source, the new column included; nothing dead-lettered.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { compareWithMysql } from '../../dev/verify/mysql-compare.ts';
import { compareTables, type CompareResult } from '../../dev/verify/compare.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { DEFAULT_CONTRACT_DIR, loadContract, type ColumnSpec } from '../../schemas/contract.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { freshDatabase, stackUrls, waitUntil } from '../support/index.ts';
import {
  continuousWriter,
  deadLetters,
  pipelineEnv,
  query,
  runInProcess,
  spawnCli,
  startTestConsumer,
  testApp,
  writerLoop,
  type CliChild,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { freshMysqlDatabase } from '../mysql/support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach(120_000);

const NICKNAME: ColumnSpec = { name: 'nickname', sqlType: 'text', pgType: 'text', nullable: true };

/** The pipeline's configuration with more targets (file and parsed config). */
function withTargets(e: PipelineEnv, targets: Record<string, unknown>[]): PipelineEnv {
  const raw = parseYaml(readFileSync(e.configFile, 'utf8')) as { targets: unknown[] };
  raw.targets.push(...targets);
  writeFileSync(e.configFile, stringify(raw));
  return { ...e, config: parseConfig(raw, {}, 'test config', path.dirname(e.configFile)) };
}

/** Sets and inserts nicknames until stopped. */
function nicknameWriter(url: string) {
  const counts = { txns: 0 };
  let n = 0;
  return writerLoop({ connectionString: url }, counts, async (c) => {
    n++;
    await c.query('BEGIN');
    await c.query(
      "UPDATE users SET nickname = 'nick ''' || id || ' 🐘' WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT 3)",
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

const valueVersions = async (topic: string): Promise<number[]> => {
  const res = await fetch(`${urls.registryUrl}/subjects/${encodeURIComponent(`${topic}-value`)}/versions`);
  return (await res.json()) as number[];
};

const rowCount = async (url: string): Promise<number> =>
  Number((await query<{ n: string }>(url, 'SELECT count(*)::text AS n FROM users'))[0]!.n);

async function waitPgEqual(e: PipelineEnv, peerUrl: string, columns: ColumnSpec[], what: string) {
  let last: CompareResult | undefined;
  await waitUntil(
    async () => {
      last = await compareTables(
        { url: e.source.url, schema: 'public', table: 'users' },
        { url: peerUrl, schema: 'public', table: 'users' },
        columns,
      ).catch(() => undefined);
      return last?.equal === true;
    },
    { what, timeoutMs: 180_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)?.slice(0, 2000)}`);
  });
}

describe('automatic schema changes across a producer restart', () => {
  it('a producer killed after ADD COLUMN resumes with the evolved schema; old and new events decode; every target ends equal', async () => {
    const contracts = mkdtempSync(path.join(tmpdir(), 'pgcdc-contracts-'));
    for (const f of ['users-key.avsc', 'users-value.avsc'])
      cpSync(path.join(DEFAULT_CONTRACT_DIR, f), path.join(contracts, f));
    const maria = await freshMysqlDatabase(urls, 'schemarst');
    cleanups.push(() => maria.drop());
    const late = await freshDatabase(urls.adminUrl, 'schemarst_late');
    cleanups.push(() => late.drop());
    const base = await pipelineEnv(urls, 'schemarst', { source: { schemaChanges: 'automatic', contracts } });
    cleanups.push(() => base.drop());
    const e = withTargets(base, [
      { name: 'maria', type: 'mysql', url: maria.url, batchSize: 500 },
      { name: 'late', type: 'postgres', url: late.url, batchSize: 500 },
    ]);
    const app = testApp(e.config);
    let producer: CliChild | undefined = spawnCli(['produce', '-c', e.configFile]);
    cleanups.push(() => producer?.kill('SIGTERM') ?? Promise.resolve());
    const pipeline = await runInProcess(app, { producer: false, targets: ['peer', 'maria'] });
    cleanups.push(() => pipeline.stop());
    const [peer, mariaConsumer] = pipeline.consumers as [
      (typeof pipeline.consumers)[0],
      (typeof pipeline.consumers)[0],
    ];

    // events of the pinned version, then the column, then events of the evolved version
    const writer = continuousWriter(e.source.url, 11);
    cleanups.push(() => writer.stop());
    await waitUntil(() => peer.status().applied > 150 && mariaConsumer.status().applied > 150, {
      what: 'events before the change at both targets',
      timeoutMs: 120_000,
    });
    await query(e.source.url, 'ALTER TABLE users ADD COLUMN nickname text');
    const nicks = nicknameWriter(e.source.url);
    cleanups.push(() => nicks.stop());
    await waitUntil(
      async () =>
        (await valueVersions(e.topic)).length === 2 &&
        (await query(e.peer.url, 'SELECT 1 FROM users WHERE nickname IS NOT NULL LIMIT 1')).length === 1,
      { what: 'the evolved schema registered and nicknames at the peer', timeoutMs: 120_000 },
    );
    const applied = peer.status().applied;
    await waitUntil(() => peer.status().applied > applied + 200, {
      what: 'more events of the evolved version at the peer',
      timeoutMs: 120_000,
    });

    // the producer dies mid-stream; the writers go on while it is down, then it starts again
    await producer.kill('SIGKILL');
    producer = undefined;
    const downAt = await rowCount(e.source.url);
    await waitUntil(async () => (await rowCount(e.source.url)) > downAt + 30, {
      what: 'rows written while the producer is down',
      timeoutMs: 60_000,
    });
    producer = spawnCli(['produce', '-c', e.configFile]);
    const resumed = peer.status().applied;
    await waitUntil(() => peer.status().applied > resumed + 300, {
      what: 'events after the restart at the peer',
      timeoutMs: 120_000,
    });

    // a target that starts now reads the topic from the beginning: both versions
    const lateConsumer = await startTestConsumer(app, 'late');
    cleanups.push(() => lateConsumer.stop());
    await writer.stop();
    await nicks.stop();

    const columns = [...loadContract().columns, NICKNAME];
    await waitPgEqual(e, e.peer.url, columns, 'the Postgres peer to equal the source');
    await waitPgEqual(e, late.url, columns, 'the target started after the restart to equal the source');
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
      { what: 'the MariaDB peer to equal the source', timeoutMs: 180_000 },
    );
    // nicknames written while the producer was down or after it came back arrived
    const lastNick = await query<{ email: string; nickname: string }>(
      e.source.url,
      "SELECT email, nickname FROM users WHERE email LIKE 'nick%' ORDER BY id DESC LIMIT 1",
    );
    expect(lastNick[0]!.nickname).toMatch(/^n"/);

    // the restarted producer registered nothing new: the same evolved version; nothing dead-lettered
    expect(await valueVersions(e.topic)).toHaveLength(2);
    for (const target of ['peer', 'maria', 'late'])
      expect(await deadLetters(app.kafka, e, target)).toEqual([]);
    expect(readFileSync(path.join(contracts, 'users-value.avsc'), 'utf8')).not.toContain('nickname');
  }, 600_000);
});
