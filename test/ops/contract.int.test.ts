// A `users` table shaped like another product's (uuid key, prefixed names, varchar, timestamp, an
// enum, custom columns) goes from `pgcdc contract generate` to an equal peer without a file of
// the project edited: the contract lives beside the configuration (source.contracts). Then
// `pgcdc contract diff` and `pgcdc check` see a column added at the source and name the fix.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContract } from '../../schemas/contract.ts';
import { contractEnv, rowsAsText, type ContractEnv } from '../support/contract-env.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { query, runCli, runInProcess, testApp } from '../support/pipeline.ts';

const urls = stackUrls();
let env: ContractEnv;
let pipeline: Awaited<ReturnType<typeof runInProcess>> | undefined;

const COLUMNS = ['user_id', 's_email', 'b_active', 'dt_reg_date', 'e_status', 'cf_shoe_size', 'cf_tags'];

beforeAll(async () => {
  env = await contractEnv(urls, 'otherusers', {
    table: 'users',
    sourceSql: [
      "CREATE TYPE account_status AS ENUM ('new', 'active', 'on hold')",
      `CREATE TABLE users (
         user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         s_email varchar(100) NOT NULL UNIQUE,
         b_active boolean NOT NULL DEFAULT true,
         dt_reg_date timestamp NOT NULL DEFAULT localtimestamp,
         e_status account_status NOT NULL DEFAULT 'new',
         cf_shoe_size numeric(4,1),
         cf_tags text[]
       )`,
      `INSERT INTO users (s_email, b_active, dt_reg_date, e_status, cf_shoe_size, cf_tags)
         SELECT 'u' || i || '@example.com', i % 2 = 0, '2001-02-03 04:05:06.789'::timestamp + i * interval '1 day',
                (ARRAY['new', 'active', 'on hold'])[1 + i % 3]::account_status, CASE WHEN i % 4 = 0 THEN NULL ELSE 38 + i / 10.0 END,
                CASE WHEN i % 5 = 0 THEN NULL ELSE ARRAY['vip', NULL, 'say "hi"'] END
           FROM generate_series(1, 50) AS i`,
    ],
  });
}, 120_000);
afterAll(async () => {
  await pipeline?.stop();
  await env?.drop();
});

const peerEqual = async (columns = COLUMNS) => {
  let last: { s: string[]; p: string[] } = { s: [], p: [] };
  await waitUntil(
    async () => {
      const [s, p] = await Promise.all([
        rowsAsText(env.source.url, 'users', columns, 's_email'),
        rowsAsText(env.peer.url, 'users', columns, 's_email').catch(() => []),
      ]);
      last = { s, p };
      return s.length > 0 && JSON.stringify(s) === JSON.stringify(p);
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'the peer to equal the source' },
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}: ${last.p.length}/${last.s.length} rows; source ${last.s[0]} peer ${last.p[0]}`,
    );
  });
  return last.s.length;
};

describe('contract generate -> an equal peer, for a users table of another shape', () => {
  it('generates the contract beside the configuration, and refuses to overwrite it', async () => {
    const gen = await runCli(['contract', 'generate', '-c', env.configFile], 120_000);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toMatch(/wrote .*users-key\.avsc/);
    expect(gen.stdout).toMatch(/key: user_id \(the primary key\)/);
    expect(existsSync(path.join(env.contractsDir, 'users-value.avsc'))).toBe(true);
    const contract = loadContract('users', 'public', env.contractsDir);
    expect(contract.columns.map((c) => [c.name, c.pgType, c.nullable])).toEqual([
      ['user_id', 'uuid', false],
      ['s_email', 'varchar', false],
      ['b_active', 'boolean', false],
      ['dt_reg_date', 'timestamp', false],
      ['e_status', 'enum', false],
      ['cf_shoe_size', 'numeric', true],
      ['cf_tags', 'text[]', true],
    ]);
    expect(contract.keyColumns).toEqual(['user_id']);

    const again = await runCli(['contract', 'generate', '-c', env.configFile], 120_000);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/contract files exist.*--force/s);
  }, 240_000);

  it('runs: snapshot and live changes reach the peer, equal column by column', async () => {
    pipeline = await runInProcess(testApp(env.config()));
    await query(
      env.source.url,
      "INSERT INTO users (s_email, e_status, cf_shoe_size, cf_tags) VALUES ('late@example.com', 'on hold', 44.5, '{}')",
    );
    await query(
      env.source.url,
      "UPDATE users SET b_active = NOT b_active, e_status = 'active' WHERE s_email LIKE 'u1%'",
    );
    await query(env.source.url, "DELETE FROM users WHERE s_email = 'u7@example.com'");
    expect(await peerEqual()).toBe(50);
    // the peer's column types are the source's (the enum type created at the peer too)
    const types = await query<{ t: string }>(
      env.peer.url,
      `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 AND attname = ANY($1) ORDER BY attnum`,
      [COLUMNS],
    );
    expect(types.map((r) => r.t)).toEqual([
      'uuid',
      'character varying(100)',
      'boolean',
      'timestamp without time zone',
      'account_status',
      'numeric(4,1)',
      'text[]',
    ]);
  }, 240_000);

  it('contract diff: clean while table, contract and registry agree (exit 0)', async () => {
    const diff = await runCli(['contract', 'diff', '-c', env.configFile], 120_000);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(/table and contract match/);
    expect(diff.stdout).toMatch(/registry: version \d+ is the contract/);
  }, 120_000);

  it('a column added at the source: diff shows it as a BACKWARD-compatible change (exit 1), check names the fix', async () => {
    await query(env.source.url, 'ALTER TABLE users ADD COLUMN cf_nickname text');
    const diff = await runCli(['contract', 'diff', '-c', env.configFile], 120_000);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/^\+ +cf_nickname +text -> string +- +-/m);
    expect(diff.stdout).toMatch(/regenerated from the table is BACKWARD compatible/);
    const json = await runCli(['contract', 'diff', '-c', env.configFile, '--json'], 120_000);
    expect(JSON.parse(json.stdout)).toMatchObject({
      clean: false,
      tableMismatch: true,
      tableToContract: { backward: true },
    });

    const check = await runCli(['check', '-c', env.configFile], 120_000);
    expect(check.stdout).toMatch(
      /not captured: cf_nickname; to capture them: pgcdc contract generate --force/,
    );
  }, 240_000);
});
