// Unchanged TOASTed values (REPLICA IDENTITY DEFAULT: PostgreSQL leaves them out of an update's
// new tuple). A NOT NULL column left out must not stop the stream (issue 14 item 5), and the new key
// of a key-changing update must arrive as a complete row (item 1): the producer reads the columns
// PostgreSQL left out from the source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackUrls } from '../support/index.ts';
import {
  pipelineEnv,
  query,
  readTopic,
  runInProcess,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';

const urls = stackUrls();
let env: PipelineEnv;
let pipeline: Awaited<ReturnType<typeof runInProcess>>;
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  env = await pipelineEnv(urls, 'toast');
  app = testApp(env.config);
  pipeline = await runInProcess(app);
});
afterAll(async () => {
  await pipeline?.stop();
  await env?.drop();
});

/** `bytes` of random hex: incompressible, so PostgreSQL stores it out of line (TOAST). */
const randomSql = (bytes: number) =>
  `(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, ${Math.ceil(bytes / 32)}))`;

async function events() {
  const codec = await createEventCodec({
    registryUrl: env.config.registry.url,
    topic: env.topic,
    contract: loadContract(),
  });
  const messages = await readTopic(app.kafka, env.topic);
  return Promise.all(messages.filter((m) => m.value).map((m) => codec.decodeValue(m.value!)));
}

describe('unchanged TOASTed values', () => {
  it('an update that leaves a TOASTed NOT NULL column unchanged is published and applied', async () => {
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username) VALUES (1, 'long@x.io', ${randomSql(12_000)})`,
    );
    await waitForPeerEqual(env);
    await query(env.source.url, "UPDATE users SET city = 'y' WHERE id = 1");
    await query(env.source.url, "INSERT INTO users (id, email, username) VALUES (2, 'after@x.io', 'after')");
    const result = await waitForPeerEqual(env, 30_000);
    expect(result.sourceRows).toBe(2);
    const update = (await events()).find((e) => e.op === 'u' && e.after?.city === 'y');
    expect(update?.unchanged).toEqual(['username']);
  });

  it('a key-changing update of rows with a TOASTed value creates complete rows at the new keys', async () => {
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, bio)
       SELECT 100 + i, 'k' || i || '@x.io', 'k' || i, ${randomSql(10_000)} FROM generate_series(1, 5) i`,
    );
    await waitForPeerEqual(env);
    await query(env.source.url, 'UPDATE users SET id = id + 1000000 WHERE id BETWEEN 101 AND 105');
    const result = await waitForPeerEqual(env, 30_000);
    expect(result.sourceRows).toBe(7);
    const peerIds = await query<{ id: string; bio_len: number }>(
      env.peer.url,
      'SELECT id::text, length(bio) AS bio_len FROM users WHERE id > 1000000 ORDER BY id',
    );
    expect(peerIds.map((r) => r.id)).toEqual(['1000101', '1000102', '1000103', '1000104', '1000105']);
    const creates = (await events()).filter((e) => e.op === 'c' && (e.after?.id as bigint) > 1_000_000n);
    expect(creates).toHaveLength(5);
    for (const c of creates) {
      expect(c.unchanged).toEqual([]);
      expect((c.after?.bio as string).length).toBeGreaterThanOrEqual(10_000);
    }
  });

  it('a key change whose new row is gone by the time the producer reads it leaves no row behind', async () => {
    // Key change, then the new key is deleted in the next transaction: when the producer reads the
    // unchanged columns of the new key, the row may already be gone; the later delete settles it.
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, bio) VALUES (200, 'gone@x.io', 'gone', ${randomSql(10_000)})`,
    );
    await waitForPeerEqual(env);
    await pipeline.producer!.stop();
    await query(env.source.url, 'UPDATE users SET id = 2000000 WHERE id = 200');
    await query(env.source.url, 'DELETE FROM users WHERE id = 2000000');
    await pipeline.stop();
    pipeline = await runInProcess(app);
    const result = await waitForPeerEqual(env, 30_000);
    expect(result.sourceRows).toBe(7);
    expect(pipeline.consumers[0]!.status().deadLettered).toBe(0);
  });
});
