// Development fixture of several tables per pipeline (docs/tables.md): users (the shipped
// contract) with groups and memberships (composite key) around it. The demo and the integration
// tests create the tables (tables.sql), build a contract directory holding all three contracts
// (the shipped users files plus contracts/ here, never added to schemas/avro), and compare every
// table with its copy at a peer.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULT_CONTRACT_DIR, loadContract } from '../../schemas/contract.ts';
import { compareTables, type CompareResult } from '../verify/compare.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The captured tables of the fixture, in the order a pipeline lists them. */
export const FIXTURE_TABLES = ['public.users', 'public.groups', 'public.memberships'] as const;

/** Creates groups and memberships next to users (which must exist: schemas/users.sql). */
export async function createFixtureTables(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    await c.query(readFileSync(path.join(HERE, 'tables.sql'), 'utf8'));
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A new directory with the contracts of users, groups and memberships (source.contracts). */
export function fixtureContractDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-contracts-'));
  for (const f of ['users-key.avsc', 'users-value.avsc'])
    copyFileSync(path.join(DEFAULT_CONTRACT_DIR, f), path.join(dir, f));
  const own = path.join(HERE, 'contracts');
  for (const f of readdirSync(own)) copyFileSync(path.join(own, f), path.join(dir, f));
  return dir;
}

/** Compares each fixture table at the source with the same schema.table at the peer. */
export async function compareFixtureTables(
  sourceUrl: string,
  peerUrl: string,
  contractDir: string,
  tables: readonly string[] = FIXTURE_TABLES,
): Promise<Record<string, CompareResult>> {
  const out: Record<string, CompareResult> = {};
  for (const name of tables) {
    const [schema, table] = name.split('.') as [string, string];
    const contract = loadContract(table, schema, contractDir);
    const key = contract.keyColumns.length === 1 ? contract.keyColumns[0]! : contract.keyColumns;
    out[name] = await compareTables(
      { url: sourceUrl, schema, table },
      { url: peerUrl, schema, table },
      contract.columns,
      key,
    );
  }
  return out;
}
