// A table with every column type (and a 1-D array of each) goes through the whole stack: its
// contract from `pgcdc contract generate`, rows fed by the snapshot, live inserts, updates (one
// leaving TOASTed values unchanged) and deletes; the peer ends equal to the source, compared as
// each column's text output (ROW(...)::text under the same session settings on both sides).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContract } from '../../schemas/contract.ts';
import { ALL_TYPE_CASES, TEST_VALUE_FUNCTION, TYPES_SETUP_SQL, valueSql } from '../support/column-types.ts';
import { contractEnv, rowsAsText, type ContractEnv } from '../support/contract-env.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { query, runCli, runInProcess, testApp } from '../support/pipeline.ts';

const urls = stackUrls();
const TABLE = 'alltypes';
let env: ContractEnv;
let pipeline: Awaited<ReturnType<typeof runInProcess>> | undefined;

const cols = ALL_TYPE_CASES.map((c) => c.column);
const CREATE = `CREATE TABLE ${TABLE} (
  id uuid PRIMARY KEY,
  ${ALL_TYPE_CASES.map((c) => `${c.column} ${c.sqlType}`).join(',\n  ')},
  big_text text NOT NULL DEFAULT '',
  big_bytea bytea,
  big_json jsonb NOT NULL DEFAULT '{}',
  big_arr text[] NOT NULL DEFAULT '{}',
  n integer NOT NULL DEFAULT 0
)`;

/** Row `i`: every column one of its case's awkward values (NULL every fifth row). */
async function insertRow(i: number, id = randomUUID()): Promise<string> {
  const values: (string | null)[] = ALL_TYPE_CASES.map((c) =>
    i % 5 === 4 ? null : c.awkward[i % c.awkward.length]!,
  );
  const big = randomBytes(60_000).toString('hex'); // incompressible: stored out of line (TOAST)
  await query(
    env.source.url,
    `INSERT INTO ${TABLE} (id, ${cols.join(', ')}, big_text, big_bytea, big_json, big_arr) VALUES ($1::uuid, ${ALL_TYPE_CASES.map(
      (c, k) => valueSql(`$${k + 2}::text`, c.sqlType),
    ).join(
      ', ',
    )}, $${cols.length + 2}, decode($${cols.length + 2}, 'hex'), jsonb_build_object('s', $${cols.length + 2}::text, 'u', '🚀'), ARRAY[$${cols.length + 2}, NULL, '"q\\"'])`,
    [id, ...values, big],
  );
  return id;
}

async function bothSides(): Promise<{ source: string[]; peer: string[] }> {
  const names = ['id', ...cols, 'big_text', 'big_bytea', 'big_json', 'big_arr', 'n'];
  const [source, peer] = await Promise.all([
    rowsAsText(env.source.url, TABLE, names, 'id'),
    rowsAsText(env.peer.url, TABLE, names, 'id').catch(() => []),
  ]);
  return { source, peer };
}

beforeAll(async () => {
  env = await contractEnv(urls, 'alltypes', {
    table: TABLE,
    sourceSql: [...TYPES_SETUP_SQL, TEST_VALUE_FUNCTION, CREATE],
    peerSql: ['CREATE EXTENSION IF NOT EXISTS citext'],
  });
}, 120_000);
afterAll(async () => {
  await pipeline?.stop();
  await env?.drop();
});

describe('every column type through the whole stack', () => {
  it('snapshot, inserts, updates (TOASTed values unchanged), deletes: the peer ends equal', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await insertRow(i)); // before the pipeline: the snapshot feeds them

    const gen = await runCli(['contract', 'generate', '-c', env.configFile], 120_000);
    expect(gen.code, gen.stderr).toBe(0);
    const contract = loadContract(TABLE, 'public', env.contractsDir);
    expect(contract.columns).toHaveLength(cols.length + 6);
    expect(contract.keyColumns).toEqual(['id']);

    pipeline = await runInProcess(testApp(env.config()));
    for (let i = 5; i < 10; i++) ids.push(await insertRow(i));
    // an update of many types at once: row 0 takes row 7's values
    await query(
      env.source.url,
      `UPDATE ${TABLE} AS t SET ${cols.map((c) => `${c} = s.${c}`).join(', ')} FROM ${TABLE} AS s WHERE t.id = $1 AND s.id = $2`,
      [ids[0], ids[7]],
    );
    // TOASTed big_* unchanged: PostgreSQL does not send them, the peer must keep its values
    await query(
      env.source.url,
      `UPDATE ${TABLE} SET n = n + 1, c_text = 'toast kept' WHERE id = ANY($1::uuid[])`,
      [[ids[1], ids[6]]],
    );
    await query(env.source.url, `DELETE FROM ${TABLE} WHERE id = ANY($1::uuid[])`, [[ids[3], ids[8]]]);
    await query(
      env.source.url,
      `UPDATE ${TABLE} SET c_numeric = 'NaN', c_real_arr = '{NaN,-Infinity,-0}' WHERE id = $1`,
      [ids[2]],
    );

    let last = await bothSides();
    await waitUntil(
      async () => {
        last = await bothSides();
        return last.source.length === 8 && JSON.stringify(last.peer) === JSON.stringify(last.source);
      },
      { timeoutMs: 180_000, intervalMs: 500, what: 'the peer to equal the source, every column as text' },
    ).catch((err: Error) => {
      const diff = last.source.findIndex((r, i) => last.peer[i] !== r);
      throw new Error(
        `${err.message}: ${last.peer.length}/${last.source.length} rows; first difference at row ${diff}:\n${last.source[diff]?.slice(0, 2000)}\n${last.peer[diff]?.slice(0, 2000)}`,
      );
    });
    expect(last.peer).toEqual(last.source);
  }, 300_000);
});
