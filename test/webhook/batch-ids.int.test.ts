// A batch's webhook-id survives a consumer that dies between delivery and offset commit: the
// redelivered chunk is cut and grouped as the first time, although more events (updates of the
// same users) arrived meanwhile, so the receiver gets the same ids with the same events and can
// deduplicate by webhook-id (docs/webhook-ids.md). The first consumer is a `pgcdc consume` child
// killed with SIGKILL while one request of the chunk hangs (so nothing of it was committed).
import { describe, expect, it } from 'vitest';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { checkpoint } from '../support/snapshot.ts';
import { readTopic, spawnCli, type CliChild } from '../support/pipeline.ts';
import {
  closeAfterEach,
  delivered,
  insertUser,
  startReceiver,
  webhookPipeline,
  type Received,
  type WebhookPipeline,
} from '../support/webhook.ts';

closeAfterEach();

/** The event ids a (batch) request carries, in its order. */
const eventsOf = (r: Received): string[] => (r.body as unknown as { id: string }[]).map((p) => p.id);

/** The topic's events as (partition, event id), in offset order per partition. */
async function topicEvents(p: WebhookPipeline): Promise<Map<number, string[]>> {
  const codec = await createEventCodec({
    registryUrl: p.config.registry.url,
    topic: p.topic,
    contract: loadContract(),
  });
  const byPartition = new Map<number, string[]>();
  const messages = (await readTopic(p.app.kafka, p.topic)).sort(
    (a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : 1),
  );
  for (const m of messages) {
    if (m.value === null) continue;
    const e = await codec.decodeValue(m.value);
    byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), e.event_id]);
  }
  return byPartition;
}

/** Resolves once the topic holds at least `n` messages (a producer restart may repeat some). */
async function topicHolds(p: WebhookPipeline, n: number): Promise<void> {
  const admin = p.app.kafka.admin();
  await admin.connect();
  try {
    await waitUntil(
      async () => {
        const high = (await admin.topicOffsets(p.topic)).reduce((sum, o) => sum + Number(o.high), 0);
        if (high < n) throw new Error(`${high} so far`);
        return true;
      },
      { what: `${n} events in the topic`, timeoutMs: 60_000 },
    );
  } finally {
    await admin.disconnect();
  }
}

describe('webhook batch ids', () => {
  // The killed member holds its partitions until its session times out (kafka.sessionTimeoutMs,
  // 30 s) before the second consumer gets them; a child process starts slowly under load.
  it(
    'a chunk redelivered after a crash, with more events behind it, keeps its requests and their ids',
    {
      timeout: 420_000,
    },
    async () => {
      let phase: 1 | 2 = 1;
      let hang = '';
      const receiver = await startReceiver((req) =>
        phase === 1 && eventsOf(req).includes(hang) ? 'hang' : { status: 200 },
      );
      const p = await webhookPipeline(stackUrls(), 'wh_batchid', receiver.url, {
        batchSize: 3,
        concurrency: 2,
        responseTimeout: 600,
      });
      // The initial snapshot of the (empty) table first: a row inserted before it starts would come
      // twice (insert and snapshot row).
      await waitUntil(async () => (await checkpoint(p.config))?.status === 'done', {
        what: 'the initial snapshot to finish',
        timeoutMs: 60_000,
      });
      const users: string[] = [];
      for (let i = 0; i < 12; i++) users.push(await insertUser(p, `u${i}`));
      await topicHolds(p, 12);
      // The partition with the most users; the request holding its last event hangs, so that
      // partition's chunk is delivered but never committed.
      const phase1 = await topicEvents(p);
      const [partition, chunk] = [...phase1.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
      expect(chunk.length).toBeGreaterThanOrEqual(4);
      hang = chunk[chunk.length - 1]!;

      const child: CliChild = spawnCli([
        'consume',
        '-c',
        p.configFile,
        '--target',
        'hooks',
        '--metrics-port',
        '0',
      ]);
      try {
        await waitUntil(() => chunk.every((id) => receiver.received.some((r) => eventsOf(r).includes(id))), {
          what: `every event of partition ${partition} to reach the receiver once`,
          timeoutMs: 120_000,
        });
        // More events of the same users arrive behind the chunk before the consumer dies.
        await p.sql(`UPDATE users SET city = 'later' WHERE id IN (${users.join(',')})`);
        for (let i = 0; i < 3; i++) users.push(await insertUser(p, `late${i}`));
        await topicHolds(p, 27);
      } finally {
        await child.kill('SIGKILL');
      }
      const first = receiver.received.filter((r) => eventsOf(r).some((id) => chunk.includes(id)));
      expect(first.length).toBeGreaterThanOrEqual(2);

      phase = 2;
      const seen = receiver.received.length;
      await p.startConsumer();
      const all = [...(await topicEvents(p)).values()].flat();
      await waitUntil(
        () => {
          const done = new Set(delivered(receiver).flatMap(eventsOf));
          return all.every((id) => done.has(id));
        },
        { what: `all ${all.length} events delivered`, timeoutMs: 180_000 },
      );
      const again = receiver.received.slice(seen);
      // Every request of the chunk comes again: same webhook-id, same events in the same order.
      for (const r of first) {
        const same = again.filter((x) => x.id === r.id);
        expect(same.length, `request ${r.id} redelivered`).toBeGreaterThanOrEqual(1);
        for (const x of same) expect(eventsOf(x)).toEqual(eventsOf(r));
      }
      // and nothing of the chunk travels under another id
      const firstIds = new Set(first.map((r) => r.id));
      const strays = again.filter((x) => !firstIds.has(x.id) && eventsOf(x).some((id) => chunk.includes(id)));
      expect(strays.map(eventsOf)).toEqual([]);
    },
  );
});
