// Every column type, NULLs, unicode, huge TOASTed text and extreme timestamps go source -> Avro on
// Kafka -> peer unchanged; an update that leaves a TOASTed bio untouched never damages it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContract } from '../../schemas/contract.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import {
  pipelineEnv,
  query,
  readTopic,
  runInProcess,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { stackUrls } from '../support/index.ts';

const urls = stackUrls();
let env: PipelineEnv;
let pipeline: Awaited<ReturnType<typeof runInProcess>>;
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  env = await pipelineEnv(urls, 'types');
  app = testApp(env.config);
  pipeline = await runInProcess(app);
});
afterAll(async () => {
  await pipeline?.stop();
  await env?.drop();
});

const BIG_BIO = `${'Ünïcødé 🚀 text that PostgreSQL compresses and TOASTs. '.repeat(4000)}end`;

describe('column values round-trip source -> Kafka -> peer', () => {
  it('carries every type, NULL, empty string, unicode, long text and extreme timestamps', async () => {
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, first_name, middle_name, last_name, bio, preferences, tags, balance,
                          is_active, is_blocked, created_at, updated_at, last_login_at) VALUES
        (1, 'a@x.io', 'alice', '', NULL, 'Ñandú 🦜', $1, '{"n": 12345678901234567890.5, "s": "é", "nested": {"a": [1, null]}}',
         ARRAY['x', NULL, '', 'with "quotes", commas and \\ backslash', '🚀'], 1234567890.12, true, false,
         '0044-03-15 12:00:00.000001+00 BC', '294246-12-31 23:59:59.999999+00', 'infinity'),
        (2, 'b@x.io', 'bob', NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, true,
         '1970-01-01 00:00:00+00', '2000-02-29 12:34:56.5+05:30', '-infinity'),
        (3, 'c@x.io', 'carol', 'C', 'M', 'L', '', '[]', '{}', '-0.01', true, true,
         '1999-12-31 23:59:59.999999-08', now(), now()),
        (9007199254740993, 'big@x.io', 'big', NULL, NULL, NULL, 'x', 'null', ARRAY[]::text[], 'NaN', true, false, now(), now(), NULL)`,
      [BIG_BIO],
    );
    const result = await waitForPeerEqual(env);
    expect(result.sourceRows).toBe(4);
    const peer = await query<{ id: string; bio: string | null }>(
      env.peer.url,
      'SELECT id::text, bio FROM users ORDER BY id',
    );
    expect(peer.map((r) => r.id)).toEqual(['1', '2', '3', '9007199254740993']);
    expect(peer[0]!.bio).toBe(BIG_BIO);
  });

  it('an update of a non-TOAST column leaves the large bio intact at the peer', async () => {
    await query(env.source.url, "UPDATE users SET city = 'Reykjavík', balance = balance + 1 WHERE id = 1");
    await waitForPeerEqual(env);
    const [row] = await query<{ city: string; bio: string }>(
      env.peer.url,
      'SELECT city, bio FROM users WHERE id = 1',
    );
    expect(row?.city).toBe('Reykjavík');
    expect(row?.bio).toBe(BIG_BIO);

    // The event really was partial: PostgreSQL did not send the unchanged bio, and we said so.
    const codec = await createEventCodec({
      registryUrl: env.config.registry.url,
      topic: env.topic,
      contract: loadContract(),
    });
    const messages = await readTopic(app.kafka, env.topic);
    const events = await Promise.all(messages.filter((m) => m.value).map((m) => codec.decodeValue(m.value!)));
    const update = events.find((e) => e.op === 'u' && e.after?.city === 'Reykjavík');
    expect(update?.unchanged).toEqual(['bio']);
    expect(update?.after?.bio).toBeNull();
  });

  it('updates and deletes arrive, and the key of a delete is enough', async () => {
    await query(
      env.source.url,
      "UPDATE users SET tags = array_append(tags, 'new'), preferences = '{\"x\": true}' WHERE id IN (2, 3)",
    );
    await query(env.source.url, 'DELETE FROM users WHERE id = 3');
    await query(env.source.url, 'UPDATE users SET id = 4 WHERE id = 2'); // primary key change: delete 2, create 4
    const result = await waitForPeerEqual(env);
    expect(result.sourceRows).toBe(3);
    const ids = await query<{ id: string }>(env.peer.url, 'SELECT id::text FROM users ORDER BY id');
    expect(ids.map((r) => r.id)).toEqual(['1', '4', '9007199254740993']);
  });
});
