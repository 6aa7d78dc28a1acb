// `pgcdc contract generate|diff` and `pgcdc check` per table (docs/contracts.md, docs/tables.md):
// a pipeline capturing users, groups and memberships gets the contracts of all three from one
// `contract generate` (or of one table with --table); `contract diff --table` compares one table
// and plain `contract diff` every table; a column added to one table makes only that table differ,
// and `pgcdc check` names that table with the fix (`--table <schema.table>`).
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createFixtureTables } from '../../dev/tables/index.ts';
import { freshDatabase, type FreshDatabase } from '../support/database.ts';
import { stackUrls } from '../support/index.ts';
import { randomName } from '../support/names.ts';
import { query, runCli } from '../support/pipeline.ts';

const urls = stackUrls();
let source: FreshDatabase;
let peer: FreshDatabase;
let configFile: string;
let contracts: string;

beforeAll(async () => {
  source = await freshDatabase(urls.adminUrl, 'ctables_src', { usersTable: true });
  peer = await freshDatabase(urls.adminUrl, 'ctables_peer');
  await createFixtureTables(source.url);
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-ctables-'));
  contracts = path.join(dir, 'contracts');
  configFile = path.join(dir, 'pgcdc.yaml');
  writeFileSync(
    configFile,
    stringify({
      source: {
        url: source.url,
        tables: ['public.users', 'public.groups', 'public.memberships'],
        contracts: './contracts',
        slot: randomName('ctables_slot'),
        publication: randomName('ctables_pub'),
      },
      kafka: { brokers: urls.kafkaBrokers, topicPrefix: randomName('ctables') },
      registry: { url: urls.registryUrl },
      targets: [{ name: 'peer', type: 'postgres', url: peer.url }],
    }),
  );
}, 120_000);

afterAll(async () => {
  await source?.drop();
  await peer?.drop();
});

describe('contracts of several tables', () => {
  it('generate writes one table with --table, then every table; diff compares per table; check names the table', async () => {
    const one = await runCli(['contract', 'generate', '-c', configFile, '--table', 'groups'], 120_000);
    expect(one.code, one.stdout + one.stderr).toBe(0);
    expect(readdirSync(contracts).sort()).toEqual(['groups-key.avsc', 'groups-value.avsc']);

    const all = await runCli(['contract', 'generate', '-c', configFile, '--force'], 120_000);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(readdirSync(contracts).sort()).toEqual([
      'groups-key.avsc',
      'groups-value.avsc',
      'memberships-key.avsc',
      'memberships-value.avsc',
      'users-key.avsc',
      'users-value.avsc',
    ]);
    expect(all.stdout).toMatch(/key: user_id, group_id \(the primary key\)/);

    const clean = await runCli(['contract', 'diff', '-c', configFile, '--json'], 120_000);
    expect(JSON.parse(clean.stdout)).toMatchObject({
      tables: [
        { table: 'public.users', tableMismatch: false },
        { table: 'public.groups', tableMismatch: false },
        { table: 'public.memberships', tableMismatch: false },
      ],
    });

    await query(source.url, 'ALTER TABLE groups ADD COLUMN g_color text');
    const diff = await runCli(['contract', 'diff', '-c', configFile], 120_000);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/^\+ +g_color +text -> string +-$/m);
    expect(diff.stdout).toMatch(/table public\.groups/);
    const users = await runCli(['contract', 'diff', '-c', configFile, '--table', 'public.users'], 120_000);
    expect(users.stdout).toMatch(/table and contract match/);
    expect(users.stdout).not.toMatch(/g_color/);
    const groups = await runCli(
      ['contract', 'diff', '-c', configFile, '--table', 'public.groups', '--json'],
      120_000,
    );
    expect(groups.code).toBe(1);
    expect(JSON.parse(groups.stdout)).toMatchObject({
      clean: false,
      tableMismatch: true,
      tableToContract: { backward: true },
    });
    const unknown = await runCli(['contract', 'diff', '-c', configFile, '--table', 'public.nope'], 120_000);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr + unknown.stdout).toMatch(/"public.nope" is not a captured table/);

    const check = await runCli(['check', '-c', configFile], 120_000);
    expect(check.stdout).toMatch(
      /not captured: g_color; to capture them: pgcdc contract generate --force --table public\.groups/,
    );
  }, 300_000);
});
