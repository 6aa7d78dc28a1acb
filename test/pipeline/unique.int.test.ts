// A secondary unique key (email) at the target must neither break apply nor touch the wrong row
// when partitions are applied in another order than the source committed: swaps inside one
// transaction, and an email released by one user and taken by another.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTableSql } from '../../consumers/postgres/sql.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackUrls } from '../support/index.ts';
import {
  pipelineEnv,
  query,
  runInProcess,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';

const urls = stackUrls();
let env: PipelineEnv;
let pipeline: Awaited<ReturnType<typeof runInProcess>> | undefined;

beforeAll(async () => {
  env = await pipelineEnv(urls, 'unique');
  const contract = loadContract();
  // The peer table keeps the source's unique email constraint.
  await query(
    env.peer.url,
    createTableSql({ schema: 'public', table: 'users', columns: contract.columns, keyColumns: ['id'] }),
  );
  await query(env.peer.url, 'ALTER TABLE users ADD CONSTRAINT users_email_unique UNIQUE (email)');
});
afterAll(async () => {
  await pipeline?.stop();
  await env?.drop();
});

it('email swaps and re-used emails across partitions end equal to the source, nothing dead-lettered', async () => {
  pipeline = await runInProcess(testApp(env.config));
  await query(
    env.source.url,
    "INSERT INTO users (id, email, username) SELECT i, 'user' || i || '@x.io', 'u' || i FROM generate_series(1, 30) i",
  );
  await waitForPeerEqual(env);
  // Swap the emails of neighbours in one transaction (through a temporary value), several times.
  for (let round = 0; round < 3; round++) {
    await query(
      env.source.url,
      `DO $$
       DECLARE i int; a text; b text;
       BEGIN
         FOR i IN 1..29 BY 2 LOOP
           SELECT email INTO a FROM users WHERE id = i;
           SELECT email INTO b FROM users WHERE id = i + 1;
           UPDATE users SET email = 'tmp-' || i WHERE id = i;
           UPDATE users SET email = a WHERE id = i + 1;
           UPDATE users SET email = b WHERE id = i;
         END LOOP;
       END $$`,
    );
  }
  // A user releases an email and another one takes it right after, in separate transactions.
  const [released] = await query<{ email: string }>(env.source.url, 'SELECT email FROM users WHERE id = 30');
  await query(env.source.url, "UPDATE users SET email = 'moved@x.io' WHERE id = 30");
  await query(env.source.url, 'UPDATE users SET email = $1 WHERE id = 29', [released!.email]);

  const result = await waitForPeerEqual(env, 120_000);
  expect(result.sourceRows).toBe(30);
  const [swapped] = await query<{ email: string }>(env.peer.url, 'SELECT email FROM users WHERE id = 1');
  expect(swapped?.email).toBe('user2@x.io'); // three swaps: 1 <-> 2
  const st = pipeline.consumers[0]!.status();
  expect(st.deadLettered).toBe(0);
}, 180_000);
