// Re-delivery keeps identities: a replay (the group reset to the earliest offsets while the
// consumer is stopped) sends the same webhook-ids again, and a dead-lettered event redriven with
// `pgcdc dlq redrive` once the receiver is fixed arrives with the webhook-id it had the first time.
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../consumers/webhook/verify.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { runCli } from '../support/pipeline.ts';
import {
  closeAfterEach,
  SECRET,
  delivered,
  insertUser,
  startReceiver,
  webhookPipeline,
} from '../support/webhook.ts';

closeAfterEach();

async function pgcdc(...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
  const r = await runCli(args, 90_000);
  return { code: r.code, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe('webhook re-delivery', () => {
  it('a replay from the earliest offsets re-delivers with the same webhook-ids', async () => {
    const receiver = await startReceiver();
    const p = await webhookPipeline(stackUrls(), 'wh_replay', receiver.url);
    await p.startConsumer();
    const a = await insertUser(p, 'a');
    await insertUser(p, 'b');
    await insertUser(p, 'c');
    await p.sql(`UPDATE users SET city = 'Lima' WHERE id = ${a}`);
    await waitUntil(() => delivered(receiver).length === 4, { what: 'four deliveries', timeoutMs: 30_000 });
    const first = delivered(receiver).map((r) => r.id);

    await p.stopConsumer();
    const admin = p.app.kafka.groupAdmin();
    await admin.connect();
    try {
      const ends = await admin.topicOffsets(p.topic);
      await admin.setGroupOffsets(
        p.group,
        p.topic,
        ends.map((e) => ({ partition: e.partition, offset: e.low })),
      );
    } finally {
      await admin.disconnect();
    }
    await p.startConsumer();
    await waitUntil(() => delivered(receiver).length === 8, {
      what: 'four re-deliveries',
      timeoutMs: 30_000,
    });
    const again = delivered(receiver).slice(4);
    expect(again.map((r) => r.id).sort()).toEqual([...first].sort());
    // per user, the same order as the first time
    const ofA = (ids: string[]) =>
      ids.filter((id) => receiver.received.find((r) => r.id === id)!.body.key.id === a);
    expect(ofA(again.map((r) => r.id))).toEqual(ofA(first));
    for (const r of again)
      expect(verifyWebhook({ secret: SECRET, headers: r.headers, body: r.rawBody }).ok).toBe(true);
  });

  it('pgcdc dlq list / redrive: a dead-lettered event is delivered, same webhook-id, once the receiver is fixed', async () => {
    let broken = true;
    const receiver = await startReceiver((req) =>
      broken && req.body.after?.username === 'victim'
        ? { status: 422, body: 'cannot take this one' }
        : { status: 200 },
    );
    const p = await webhookPipeline(stackUrls(), 'wh_redrive', receiver.url);
    await p.startConsumer();
    const victim = await insertUser(p, 'victim');
    await insertUser(p, 'bystander');
    await waitUntil(() => p.consumer!.status().deadLettered === 1 && delivered(receiver).length === 1, {
      what: 'one dead letter and one delivery',
      timeoutMs: 30_000,
    });
    const rejected = receiver.received.find((r) => r.answer === 422)!;

    const list = await pgcdc('dlq', 'list', '--target', 'hooks', '-c', p.configFile, '--json');
    expect(list.code, list.out).toBe(0);
    const entries = (JSON.parse(list.stdout) as { entries: Record<string, unknown>[] }).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      reason: 'webhook-rejected',
      attempts: 1,
      eventId: rejected.id,
      op: 'c',
      key: { id: victim },
      redriven: false,
    });
    expect(String(entries[0]!.error)).toContain('HTTP 422: cannot take this one');

    broken = false;
    const redrive = await pgcdc('dlq', 'redrive', '--target', 'hooks', '-c', p.configFile);
    expect(redrive.code, redrive.out).toBe(0);
    expect(redrive.out).toContain('1 redriven, 0 dead-lettered again, 0 skipped');
    const redriven = delivered(receiver).filter((r) => r.id === rejected.id);
    expect(redriven).toHaveLength(1);
    expect(redriven[0]!.body.key.id).toBe(victim);
    expect(
      verifyWebhook({ secret: SECRET, headers: redriven[0]!.headers, body: redriven[0]!.rawBody }).ok,
    ).toBe(true);

    // The redrive position moved: a second redrive has nothing to do; list shows it as redriven.
    const second = await pgcdc('dlq', 'redrive', '--target', 'hooks', '-c', p.configFile);
    expect(second.out).toContain('0 redriven, 0 dead-lettered again, 0 skipped');
    const table = await pgcdc('dlq', 'list', '--target', 'hooks', '-c', p.configFile);
    expect(table.out).toContain('1 dead letter(s)');
    expect(table.out).toMatch(/webhook-rejected.*redriven/);
    const show = await pgcdc(
      'dlq',
      'show',
      '--target',
      'hooks',
      '-c',
      p.configFile,
      '--offset',
      String(entries[0]!.position),
      '--json',
    );
    expect(show.code, show.out).toBe(0);
    expect(show.out).toContain('"redriven": true');
    expect(show.out).toContain('"pgcdc-dlq-http-status": "422"');
    expect(show.out).toContain(`"event_id": "${rejected.id}"`);
  });
});
