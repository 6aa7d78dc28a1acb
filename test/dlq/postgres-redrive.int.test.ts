// The DLQ tools are not webhook-specific: a row a Postgres target rejects (a CHECK constraint the
// peer has and the source has not) is dead-lettered, listed, and applied by a redrive once the
// peer is fixed.
import { afterEach, describe, expect, it } from 'vitest';
import { readDeadLetters, redriveDeadLetters } from '../../consumers/redrive.ts';
import { createSink } from '../../pipeline/compose.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshDatabase, stackUrls, waitUntil, type FreshDatabase } from '../support/index.ts';
import { query as onPeer } from '../support/pipeline.ts';
import { insertUser, targetPipeline, type WebhookPipeline } from '../support/webhook.ts';

let pipeline: WebhookPipeline | undefined;
let peer: FreshDatabase | undefined;
afterEach(async () => {
  await pipeline?.close();
  await peer?.drop();
});

describe('dlq tools on a postgres target', () => {
  it('a rejected row is dead-lettered, then applied by redrive once the peer accepts it', async () => {
    const urls = stackUrls();
    peer = await freshDatabase(urls.adminUrl, 'dlq_peer');
    pipeline = await targetPipeline(urls, 'dlq_pg', { name: 'hooks', type: 'postgres', url: peer.url });
    const p = pipeline;
    await p.startConsumer(); // creates the peer table
    await onPeer(
      peer.url,
      "ALTER TABLE users ADD CONSTRAINT no_nowhere CHECK (city IS DISTINCT FROM 'Nowhere')",
    );
    const id = await insertUser(p, 'nowhere');
    await p.sql(`UPDATE users SET city = 'Nowhere' WHERE id = ${id}`);
    await waitUntil(() => p.consumer!.status().deadLettered === 1, {
      what: 'the dead letter',
      timeoutMs: 30_000,
    });

    const codec = await createEventCodec({
      registryUrl: p.config.registry.url,
      topic: p.topic,
      contract: loadContract(),
    });
    const deps = { kafka: p.app.kafka, codec, dlqTopic: p.dlqTopic, group: p.group };
    const [entry, ...rest] = await readDeadLetters(deps);
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ reason: 'rejected', attempts: 1, redriven: false });
    expect(entry!.error).toContain('no_nowhere');
    expect(entry!.decoded?.event.after?.city).toBe('Nowhere');

    await onPeer(peer.url, 'ALTER TABLE users DROP CONSTRAINT no_nowhere');
    const res = await redriveDeadLetters({
      ...deps,
      sink: createSink(p.app, p.config.targets[0]!),
      kafkaConfig: p.config.kafka,
      target: 'hooks',
    });
    expect([res.redriven.length, res.deadAgain.length, res.skipped.length]).toEqual([1, 0, 0]);
    const rows = await onPeer<{ city: string }>(peer.url, `SELECT city FROM users WHERE id = ${id}`);
    expect(rows).toEqual([{ city: 'Nowhere' }]);
    expect((await readDeadLetters(deps)).map((e) => e.redriven)).toEqual([true]);
  });
});
