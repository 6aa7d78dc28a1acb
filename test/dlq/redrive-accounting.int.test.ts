// `pgcdc dlq redrive` on a postgres target accounts for every entry and keeps source order:
// entries the sink asks to retry later (a unique value another row still holds) are reported as
// not redriven, keep the redrive position and make the command exit 1; entries are applied in
// source position order whatever order the dead-letter topic holds them in; the topic is read and
// applied page by page (bounded memory, bounded transactions).
import { describe, expect, it } from 'vitest';
import {
  deadLetterPages,
  readDeadLetters,
  redriveDeadLetters,
  type DlqDeps,
} from '../../consumers/redrive.ts';
import type { DecodedEvent, Sink } from '../../consumers/sink.ts';
import { createSink } from '../../pipeline/compose.ts';
import type { KafkaClientFactory, ReadRange } from '../../pipeline/kafka/port.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshDatabase, stackUrls, waitUntil, type FreshDatabase } from '../support/index.ts';
import { query as onPeer, runCli } from '../support/pipeline.ts';
import { closeAfterEach, insertUser, targetPipeline, type WebhookPipeline } from '../support/webhook.ts';

closeAfterEach();

async function pgcdc(...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
  const r = await runCli(args, 90_000);
  return { code: r.code, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** A pipeline whose only target `hooks` is a fresh peer that refuses cities starting with 'Nowhere'. */
async function setup(name: string): Promise<{ p: WebhookPipeline; peer: FreshDatabase; deps: DlqDeps }> {
  const urls = stackUrls();
  const peer = await freshDatabase(urls.adminUrl, `${name}_peer`);
  const p = await targetPipeline(urls, name, { name: 'hooks', type: 'postgres', url: peer.url });
  await p.startConsumer(); // creates the peer table
  await onPeer(peer.url, "ALTER TABLE users ADD CONSTRAINT no_nowhere CHECK (city NOT LIKE 'Nowhere%')");
  const codec = await createEventCodec({
    registryUrl: p.config.registry.url,
    topic: p.topic,
    contract: loadContract(),
  });
  return { p, peer, deps: { kafka: p.app.kafka, codec, dlqTopic: p.dlqTopic, group: p.group } };
}

const redriveDeps = (p: WebhookPipeline, deps: DlqDeps, sink?: Sink) => ({
  ...deps,
  sink: sink ?? createSink(p.app, p.config.targets[0]!),
  kafkaConfig: p.config.kafka,
  target: 'hooks',
});

describe('dlq redrive accounts for every entry, in source order, page by page', () => {
  it('entries the target defers are not redriven: position kept, listed pending, exit 1; applied once free', async () => {
    const { p, peer } = await setup('dlq_defer');
    try {
      await onPeer(peer.url, 'ALTER TABLE users ADD CONSTRAINT peer_email UNIQUE (email)');
      const id = await insertUser(p, 'defer');
      await p.sql(`UPDATE users SET city = 'Nowhere', email = 'shared@x.io' WHERE id = ${id}`);
      await waitUntil(() => p.consumer!.status().deadLettered === 1, {
        what: 'the dead letter',
        timeoutMs: 30_000,
      });
      await onPeer(peer.url, 'ALTER TABLE users DROP CONSTRAINT no_nowhere');
      // Another row holds the email, written from an older position: the sink asks to retry later.
      await onPeer(
        peer.url,
        `INSERT INTO users (id, email, username, is_active, is_blocked, created_at, updated_at, _pgcdc_lsn, _pgcdc_seq, _pgcdc_event_id)
         VALUES (999999, 'shared@x.io', 'squatter', true, false, now(), now(), 0, 0, 'squatter')`,
      );

      const first = await pgcdc(
        'dlq',
        'redrive',
        '--target',
        'hooks',
        '-c',
        p.configFile,
        '--retry-for',
        '1',
      );
      expect(first.code, first.out).toBe(1);
      expect(first.out).toContain(
        '0 redriven, 0 dead-lettered again, 0 skipped, 1 not redriven (retry later)',
      );
      expect(first.out).toMatch(/not redriven \d+:0: secondary-unique: /);
      const list = await pgcdc('dlq', 'list', '--target', 'hooks', '-c', p.configFile, '--json');
      const entries = (JSON.parse(list.stdout) as { entries: Record<string, unknown>[] }).entries;
      expect(entries.map((e) => e.redriven)).toEqual([false]);

      await onPeer(peer.url, 'DELETE FROM users WHERE id = 999999');
      const second = await pgcdc(
        'dlq',
        'redrive',
        '--target',
        'hooks',
        '-c',
        p.configFile,
        '--retry-for',
        '1',
      );
      expect(second.code, second.out).toBe(0);
      expect(second.out).toContain('1 redriven, 0 dead-lettered again, 0 skipped, 0 not redriven');
      expect(await onPeer(peer.url, `SELECT city, email FROM users WHERE id = ${id}`)).toEqual([
        { city: 'Nowhere', email: 'shared@x.io' },
      ]);
    } finally {
      await p.close();
      await peer.drop();
    }
  }, 240_000);

  it('applies in source position order: the newest change of a row wins whatever the DLQ order', async () => {
    const { p, peer, deps } = await setup('dlq_order');
    try {
      const id = await insertUser(p, 'order');
      await p.sql(`UPDATE users SET city = 'Nowhere1' WHERE id = ${id}`);
      await p.sql(`UPDATE users SET city = 'Nowhere2' WHERE id = ${id}`);
      await waitUntil(() => p.consumer!.status().deadLettered === 2, {
        what: 'two dead letters',
        timeoutMs: 30_000,
      });
      const [a, b] = await readDeadLetters(deps);
      expect([a?.decoded?.event.after?.city, b?.decoded?.event.after?.city]).toEqual([
        'Nowhere1',
        'Nowhere2',
      ]);
      // Fail them again newest first: the topic now holds A, B, B', A' (one key, one partition).
      for (const e of [b!, a!]) {
        const r = await redriveDeadLetters(redriveDeps(p, deps), {
          only: [{ partition: e.partition, offset: e.offset }],
        });
        expect(r.deadAgain).toHaveLength(1);
      }
      const cities = (await readDeadLetters(deps)).map((e) => e.decoded?.event.after?.city);
      expect(cities).toEqual(['Nowhere1', 'Nowhere2', 'Nowhere2', 'Nowhere1']);

      await onPeer(peer.url, 'ALTER TABLE users DROP CONSTRAINT no_nowhere');
      const res = await redriveDeadLetters(redriveDeps(p, deps));
      expect([res.redriven.length, res.deadAgain.length, res.skipped.length, res.pending.length]).toEqual([
        4, 0, 0, 0,
      ]);
      expect(await onPeer(peer.url, `SELECT city FROM users WHERE id = ${id}`)).toEqual([
        { city: 'Nowhere2' },
      ]);
    } finally {
      await p.close();
      await peer.drop();
    }
  }, 240_000);

  it('reads and applies page by page', async () => {
    const { p, peer, deps } = await setup('dlq_pages');
    try {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push(await insertUser(p, `page${i}`));
      await p.sql(`UPDATE users SET city = 'Nowhere' WHERE id IN (${ids.join(', ')})`);
      await waitUntil(() => p.consumer!.status().deadLettered === 7, {
        what: 'seven dead letters',
        timeoutMs: 30_000,
      });
      const pages: number[] = [];
      for await (const page of deadLetterPages(deps, 1)) pages.push(page.length);
      expect(pages.reduce((x, y) => x + y, 0)).toBe(7);
      expect(Math.max(...pages)).toBeLessThanOrEqual(3); // one offset of each of the 3 partitions

      await onPeer(peer.url, 'ALTER TABLE users DROP CONSTRAINT no_nowhere');
      const reads: ReadRange[][] = [];
      const kafka: KafkaClientFactory = {
        ...p.app.kafka,
        reader: () => {
          const inner = p.app.kafka.reader();
          return {
            read: (topic, ranges, opts) => {
              reads.push(ranges);
              return inner.read(topic, ranges, opts);
            },
          };
        },
      };
      const inner = createSink(p.app, p.config.targets[0]!);
      const applies: number[] = [];
      const sink: Sink = {
        kind: inner.kind,
        open: () => inner.open(),
        close: () => inner.close(),
        apply: (events: DecodedEvent[]) => {
          applies.push(events.length);
          return inner.apply(events);
        },
      };
      const res = await redriveDeadLetters(redriveDeps(p, { ...deps, kafka }, sink), { pageSize: 2 });
      expect(res.redriven).toHaveLength(7);
      expect(applies.length).toBeGreaterThan(1);
      expect(Math.max(...applies)).toBeLessThanOrEqual(6);
      for (const ranges of reads) for (const r of ranges) expect(r.to - r.from).toBeLessThanOrEqual(2n);
      const cities = await onPeer<{ city: string }>(peer.url, `SELECT DISTINCT city FROM users`);
      expect(cities).toEqual([{ city: 'Nowhere' }]);
      expect((await readDeadLetters(deps)).every((e) => e.redriven)).toBe(true);
    } finally {
      await p.close();
      await peer.drop();
    }
  }, 240_000);
});
