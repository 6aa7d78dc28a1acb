// Nothing is lost and nothing is damaged: WAL is acknowledged only after Kafka acknowledged, a
// producer or consumer killed at any moment resumes without loss, redelivery changes nothing, and
// one huge transaction streams through with bounded memory.
import { afterEach, describe, expect, it } from 'vitest';
import { parseLsn } from '../../producers/postgres/lsn.ts';
import { groupFor } from '../../runtime/config/schema.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  continuousWriter,
  gatedKafka,
  pipelineEnv,
  query,
  readTopic,
  runInProcess,
  slotConfirmedLsn,
  spawnCli,
  testApp,
  waitForPeerEqual,
  type CliChild,
  type PipelineEnv,
} from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function env(name: string): Promise<PipelineEnv> {
  const e = await pipelineEnv(urls, name);
  cleanups.push(() => e.drop());
  return e;
}

describe('acknowledgement follows Kafka', () => {
  it('does not advance the slot while Kafka has not acknowledged, and catches up after', async () => {
    const e = await env('ack');
    let gate: ReturnType<typeof gatedKafka> | undefined;
    const app = testApp(e.config, (k) => (gate = gatedKafka(k)).factory);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    await query(e.source.url, "INSERT INTO users (email, username) VALUES ('first@x.io', 'first')");
    await waitForPeerEqual(e);
    const before = parseLsn((await slotConfirmedLsn(e))!);

    gate!.close();
    await query(
      e.source.url,
      "INSERT INTO users (email, username) SELECT 'g' || i || '@x.io', 'g' || i FROM generate_series(1, 50) i",
    );
    await query(e.source.url, "UPDATE users SET city = 'held' WHERE id = 1");
    // The walsender has sent the changes (and keepalives/status rounds pass), but nothing is acked.
    await waitUntil(() => gate!.blockedSends() > 0, { what: 'a send to wait for Kafka' });
    const sent = await waitUntil(
      async () => {
        const [r] = await query<{ sent: string }>(
          e.source.url,
          'SELECT sent_lsn::text AS sent FROM pg_stat_replication WHERE application_name = $1',
          [`pgcdc:${e.config.source.slot}`],
        );
        return r && parseLsn(r.sent) > before && r;
      },
      { what: 'the walsender to send past the confirmed position' },
    );
    const statusRoundsMs = e.config.source.statusIntervalMs * 6;
    const deadline = Date.now() + statusRoundsMs;
    while (Date.now() < deadline) {
      expect(parseLsn((await slotConfirmedLsn(e))!)).toBe(before);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(parseLsn(sent.sent)).toBeGreaterThan(before);

    gate!.open();
    await waitForPeerEqual(e);
    await waitUntil(async () => parseLsn((await slotConfirmedLsn(e))!) > before, {
      what: 'the slot to advance after Kafka acked',
    });
  });
});

describe('killed processes lose nothing', () => {
  it('producer SIGKILLed mid-stream under continuous writes: the peer ends equal', async () => {
    const e = await env('killprod');
    const app = testApp(e.config);
    let child: CliChild | undefined = spawnCli(['produce', '-c', e.configFile]);
    const consumer = await runInProcess(app, { producer: false }); // waits for the producer's topic
    cleanups.push(() => consumer.stop());
    const writer = continuousWriter(e.source.url, 7);
    cleanups.push(() => writer.stop());
    for (let round = 0; round < 3; round++) {
      child ??= spawnCli(['produce', '-c', e.configFile]);
      const applied = consumer.consumers[0]!.status().applied;
      await waitUntil(() => consumer.consumers[0]!.status().applied > applied + 50, {
        timeoutMs: 60_000,
        what: `events to flow in round ${round}`,
      });
      await child.kill('SIGKILL');
      child = undefined;
    }
    const last = spawnCli(['produce', '-c', e.configFile]);
    cleanups.push(() => last.kill('SIGTERM'));
    const counts = await writer.stop();
    expect(counts.txns).toBeGreaterThan(10);
    await waitForPeerEqual(e);
  }, 240_000);

  it('consumer SIGKILLed between apply and commit: redelivery is absorbed, the peer ends equal', async () => {
    const e = await env('killcons');
    const app = testApp(e.config);
    const producer = await runInProcess(app, { targets: [] });
    cleanups.push(() => producer.stop());
    const writer = continuousWriter(e.source.url, 11);
    cleanups.push(() => writer.stop());
    for (let round = 0; round < 3; round++) {
      const child = spawnCli(['consume', '-c', e.configFile, '--target', 'peer']);
      const [{ n: before }] = (await query<{ n: number }>(
        e.peer.url,
        'SELECT count(*)::int AS n FROM users',
      ).catch(() => [{ n: 0 }])) as [{ n: number }];
      await waitUntil(
        async () =>
          ((await query<{ n: number }>(e.peer.url, 'SELECT count(*)::int AS n FROM users').catch(() => []))[0]
            ?.n ?? 0) >
          before + 20,
        { timeoutMs: 60_000, what: `rows to reach the peer in round ${round}` },
      );
      await child.kill('SIGKILL');
    }
    const child = spawnCli(['consume', '-c', e.configFile, '--target', 'peer']);
    cleanups.push(() => child.kill('SIGTERM'));
    await writer.stop();
    await waitForPeerEqual(e);
  }, 240_000);
});

describe('redelivery', () => {
  it('delivering every event again (group reset to earliest) leaves the peer unchanged', async () => {
    const e = await env('redeliver');
    const app = testApp(e.config);
    let pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    await query(
      e.source.url,
      "INSERT INTO users (email, username, bio) SELECT 'r' || i || '@x.io', 'r' || i, repeat('z', i * 10) FROM generate_series(1, 300) i",
    );
    await query(e.source.url, "UPDATE users SET city = 'twice' WHERE id % 3 = 0");
    await query(e.source.url, 'DELETE FROM users WHERE id % 10 = 0');
    await waitForPeerEqual(e);
    const snapshot = () =>
      query(
        e.peer.url,
        'SELECT id, email, city, bio, _pgcdc_lsn, _pgcdc_seq, _pgcdc_event_id FROM users ORDER BY id',
      ).then((r) => JSON.stringify(r));
    const before = await snapshot();
    await pipeline.stop();

    const admin = app.kafka.admin();
    await admin.connect();
    const ends = await admin.topicOffsets(e.topic);
    const total = ends.reduce((n, p) => n + Number(p.high - p.low), 0);
    await admin.setGroupOffsets(
      groupFor(e.config.kafka, { name: 'peer' }),
      e.topic,
      ends.map((p) => ({ partition: p.partition, offset: p.low })),
    );
    await admin.disconnect();

    const events = (await readTopic(app.kafka, e.topic)).filter((m) => m.value !== null).length; // not tombstones
    expect(events).toBeGreaterThan(400);
    expect(total).toBeGreaterThanOrEqual(events);
    pipeline = await runInProcess(app, { producer: false });
    await waitUntil(() => pipeline.consumers[0]!.status().applied >= events, {
      what: `all ${events} events to be applied again`,
    });
    expect(pipeline.consumers[0]!.status().applied).toBe(events);
    expect(await snapshot()).toBe(before);
    await waitForPeerEqual(e);
  });
});

describe('large transactions', () => {
  it('one transaction of 100k rows arrives complete; producer memory stays bounded', async () => {
    const e = await env('bigtx');
    const child = spawnCli(['produce', '-c', e.configFile]);
    cleanups.push(() => child.kill('SIGTERM'));
    const app = testApp(e.config);
    const consumer = await runInProcess(app, { producer: false });
    cleanups.push(() => consumer.stop());
    await waitUntil(
      async () =>
        (
          await query(e.source.url, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [
            e.config.source.slot,
          ])
        ).length > 0,
      {
        what: 'the producer to stream',
      },
    );
    const started = Date.now();
    await query(
      e.source.url,
      "INSERT INTO users (email, username, bio, tags, balance) SELECT 'big' || i || '@x.io', 'u' || i, repeat('x', 200), ARRAY['a', 'b'], i / 100.0 FROM generate_series(1, 100000) i",
    );
    await waitUntil(
      async () =>
        (await query<{ n: number }>(e.peer.url, 'SELECT count(*)::int AS n FROM users'))[0]?.n === 100_000,
      {
        timeoutMs: 300_000,
        intervalMs: 1000,
        what: '100k rows at the peer',
      },
    );
    const seconds = (Date.now() - started) / 1000;
    const rss = child.peakRssMb();
    console.log(
      `100k-row transaction: at the peer after ${seconds.toFixed(1)} s (${Math.round(100_000 / seconds)} rows/s); producer peak RSS ${rss} MiB`,
    );
    expect(rss).toBeLessThan(500);
    await waitForPeerEqual(e, 120_000);
  }, 400_000);
});
