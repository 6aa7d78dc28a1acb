// A pipeline under test for a table of the test's own (not the shipped `users`): fresh source and
// peer databases, the test's DDL, and a configuration file whose contract directory
// (source.contracts: ./contracts beside the file) is empty until `pgcdc contract generate` fills
// it. Nothing of the project is edited: the contract lives with the configuration.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../pipeline/config/load.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import pg from 'pg';
import { ROW_READ_SESSION_SQL } from '../../producers/postgres/row-reader.ts';
import { freshDatabase, withClient, type FreshDatabase } from './database.ts';
import { randomName } from './names.ts';
import { query } from './pipeline.ts';
import type { StackUrls } from './provided.ts';
import { waitUntil } from './wait.ts';

export interface ContractEnv {
  source: FreshDatabase;
  peer: FreshDatabase;
  configFile: string;
  contractsDir: string;
  /** the configuration as the CLI reads it (after `contract generate`) */
  config(): Config;
  drop(): Promise<void>;
}

export async function contractEnv(
  urls: StackUrls,
  name: string,
  opts: { table: string; sourceSql: string[]; peerSql?: string[] },
): Promise<ContractEnv> {
  const source = await freshDatabase(urls.adminUrl, `${name}_src`);
  const peer = await freshDatabase(urls.adminUrl, `${name}_peer`);
  for (const sql of opts.sourceSql) await query(source.url, sql);
  for (const sql of opts.peerSql ?? []) await query(peer.url, sql);
  const slot = randomName(`${name}_slot`);
  const raw = {
    source: {
      url: source.url,
      table: opts.table,
      contracts: './contracts',
      slot,
      publication: randomName(`${name}_pub`),
      heartbeatIntervalMs: 1000,
      statusIntervalMs: 500,
    },
    kafka: {
      brokers: urls.kafkaBrokers,
      topicPrefix: randomName(name),
      partitions: 3,
      sessionTimeoutMs: 6000,
    },
    registry: { url: urls.registryUrl },
    producer: { batchMaxMessages: 1000, lingerMs: 5 },
    targets: [{ name: 'peer', type: 'postgres', url: peer.url, table: opts.table, batchSize: 500 }],
    metrics: { port: 0, consumePort: 0 },
    log: { level: 'warn' },
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-contract-'));
  const configFile = path.join(dir, 'pgcdc.yaml');
  writeFileSync(configFile, stringify(raw));
  return {
    source,
    peer,
    configFile,
    contractsDir: path.join(dir, 'contracts'),
    config: () => loadConfigFile(configFile, {}),
    async drop() {
      await waitUntil(
        async () => {
          await query(
            source.url,
            'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
            [slot],
          );
          return (
            (await query(source.url, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]))
              .length === 0
          );
        },
        { timeoutMs: 15_000, what: `slot ${slot} to be released and dropped` },
      );
      await source.drop();
      await peer.drop();
    },
  };
}

/** Every row of `table` as the text of ROW(<columns>) (each column's text output), by `key`. */
export async function rowsAsText(
  url: string,
  table: string,
  columns: string[],
  key: string,
): Promise<string[]> {
  return withClient(url, async (c) => {
    await c.query(ROW_READ_SESSION_SQL);
    const cols = columns.map((n) => pg.escapeIdentifier(n)).join(', ');
    const res = await c.query<{ r: string }>(
      `SELECT ROW(${cols})::text AS r FROM ${pg.escapeIdentifier(table)} ORDER BY ${pg.escapeIdentifier(key)}`,
    );
    return res.rows.map((r) => r.r);
  });
}
