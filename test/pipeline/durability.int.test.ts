// Nothing is lost and nothing is damaged: WAL is acknowledged only after Kafka acknowledged, a
// producer or consumer killed at any moment (the consumer also right between a target commit and
// its offset commit) resumes without loss, and redelivery changes nothing.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { TEST_CLIENT_TIMEOUTS } from '../support/database.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { parseLsn } from '../../schemas/lsn.ts';
import { groupFor } from '../../pipeline/config/schema.ts';
import { restoreTargetCounters } from '../../pipeline/supervision/supervise.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { checkpoint } from '../support/snapshot.ts';
import { appliedButUncommitted } from '../support/target-faults.ts';
import {
  continuousWriter,
  createPeerTable,
  deadLetters,
  gatedKafka,
  pipelineEnv,
  query,
  readTopic,
  runInProcess,
  slotConfirmedLsn,
  slotSettledBehindGate,
  spawnCli,
  testApp,
  waitForPeerEqual,
  type CliChild,
  type PipelineEnv,
} from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

async function env(name: string, overrides: Record<string, unknown> = {}): Promise<PipelineEnv> {
  const e = await pipelineEnv(urls, name, overrides);
  cleanups.push(() => e.drop());
  return e;
}

describe('acknowledgement follows Kafka', () => {
  it('does not advance the slot while Kafka has not acknowledged, and catches up after', async () => {
    // A long ackIntervalMs: the position keeper acknowledges what Kafka confirmed up to 2 s later,
    // so an acknowledgement is usually still pending when the gate closes (the case this test must
    // tell apart from an acknowledgement of what Kafka has not confirmed).
    const e = await env('ack', { source: { ackIntervalMs: 2000 } });
    let gate: ReturnType<typeof gatedKafka> | undefined;
    const app = testApp(e.config, (k) => (gate = gatedKafka(k)).factory);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    cleanups.push(() => gate!.open()); // first: a stop would wait for the held sends
    await query(e.source.url, "INSERT INTO users (email, username) VALUES ('first@x.io', 'first')");
    await waitForPeerEqual(e);

    gate!.close();
    // What Kafka confirmed before the gate closed may still be acknowledged (a send in flight, the
    // keeper's ackIntervalMs): the reference is the position once that has settled.
    const before = await slotSettledBehindGate(e, gate!);
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
    // Duplicates (events published again after a kill) were absorbed: count them for the record.
    const ids = (await readTopic(app.kafka, e.topic)).flatMap((m) =>
      m.value ? [m.headers['pgcdc-event-id']] : [],
    );
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `producer killed 3 times: ${ids.length} events in the topic, ${ids.length - new Set(ids).size} published more than once; writer ${counts.txns} txns`,
    );
  }, 240_000);

  // with partition lanes (several target connections applying at once) and with one connection
  it.each([3, 1])(
    'consumer SIGKILLed between apply and commit: redelivery is absorbed, the peer ends equal (applyConnections %i)',
    async (applyConnections) => {
      const e = await env(`killcons${applyConnections}`, { peer: { applyConnections } });
      // The peer table exists before the consumer would create it, with a trigger that notifies at
      // every target COMMIT. The test kills the consumer the moment a commit is announced, before
      // it has committed the Kafka offsets of that batch; each round then proves from the group's
      // committed offsets whether the kill really landed between apply and commit.
      await createPeerTable(e);
      await query(
        e.peer.url,
        `CREATE FUNCTION notify_applied() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN PERFORM pg_notify('applied', ''); RETURN NULL; END $$;
       CREATE TRIGGER notify_applied AFTER INSERT OR UPDATE OR DELETE ON users
         FOR EACH STATEMENT EXECUTE FUNCTION notify_applied()`,
      );
      const listener = new pg.Client({ connectionString: e.peer.url, ...TEST_CLIENT_TIMEOUTS });
      await listener.connect();
      cleanups.push(() => listener.end());
      await listener.query('LISTEN applied');
      let onCommit: (() => void) | undefined;
      listener.on('notification', () => onCommit?.());

      const app = testApp(e.config);
      const producer = await runInProcess(app, { targets: [] });
      cleanups.push(() => producer.stop());
      const writer = continuousWriter(e.source.url, 11);
      cleanups.push(() => writer.stop());
      const admin = app.kafka.admin();
      await admin.connect();
      cleanups.push(() => admin.disconnect());
      const group = groupFor(e.config.kafka, { name: 'peer' });
      const uncommitted: number[] = [];
      // At least 3 kills; more (up to 8) until one is proven to have hit the window.
      for (let round = 0; round < 8 && (round < 3 || !uncommitted.some((n) => n > 0)); round++) {
        const child = spawnCli(['consume', '-c', e.configFile, '--target', 'peer']);
        let commits = 0;
        await waitUntil(
          () =>
            new Promise<boolean>((resolve) => {
              onCommit = () => {
                if (++commits < 5) return; // let it apply a few batches first
                child.proc.kill('SIGKILL');
                onCommit = undefined;
                resolve(true);
              };
            }),
          { timeoutMs: 60_000, what: `target commits in round ${round}` },
        ).catch((err: unknown) => {
          throw new Error(
            `${String(err)}; ${commits} commits seen; the consumer said:\n${child.output().slice(-4000)}`,
          );
        });
        await child.kill('SIGKILL'); // waits for the exit
        // Applied but not committed: peer rows written from messages at or after the committed offset.
        const atPeer = new Set(
          (await query<{ id: string }>(e.peer.url, 'SELECT _pgcdc_event_id AS id FROM users')).map(
            (r) => r.id,
          ),
        );
        uncommitted.push(await appliedButUncommitted(app.kafka, admin, group, e.topic, atPeer));
      }
      expect(uncommitted.some((n) => n > 0)).toBe(true);
      const child = spawnCli(['consume', '-c', e.configFile, '--target', 'peer']);
      cleanups.push(() => child.kill('SIGTERM'));
      await writer.stop();
      await waitForPeerEqual(e);
      expect(await deadLetters(app.kafka, e)).toEqual([]);
      console.log(
        `consumer (applyConnections ${applyConnections}) killed at a target commit ${uncommitted.length} times; applied-but-uncommitted events per kill: ${uncommitted.join(', ')}`,
      );
    },
    300_000,
  );
});

/** The initial snapshot is done and the peer's group committed every offset of the topic. */
async function appliedEverything(e: PipelineEnv, app: ReturnType<typeof testApp>): Promise<void> {
  await waitUntil(async () => (await checkpoint(e.config))?.status === 'done', {
    what: 'the initial snapshot to finish',
    timeoutMs: 60_000,
  });
  const admin = app.kafka.admin();
  await admin.connect();
  try {
    const group = groupFor(e.config.kafka, { name: 'peer' });
    await waitUntil(
      async () => {
        const [ends, done] = await Promise.all([
          admin.topicOffsets(e.topic),
          admin.groupOffsets(group, e.topic),
        ]);
        const behind = ends.filter((p) => {
          const at = done.find((d) => d.partition === p.partition)?.offset ?? -1n;
          return p.high > p.low && at < p.high;
        });
        if (behind.length > 0)
          throw new Error(`partitions ${behind.map((p) => p.partition).join(', ')} behind`);
        return true;
      },
      { what: 'the peer to apply every event of the topic', timeoutMs: 90_000 },
    );
  } finally {
    await admin.disconnect();
  }
}

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
    // The peer's data can equal the source while events that change only the bookkeeping are
    // still on their way: `op = r` rows of the initial snapshot, when it began after the insert
    // (a slow producer start), carry the same values at a later position. The state a redelivery
    // must reproduce is the one after everything was applied.
    await appliedEverything(e, app);
    const snapshot = () =>
      query(
        e.peer.url,
        'SELECT id, email, city, bio, _pgcdc_lsn, _pgcdc_seq, _pgcdc_event_id FROM users ORDER BY id',
      ).then((r) => JSON.stringify(r));
    const before = await snapshot();
    await pipeline.stop();

    const admin = app.kafka.groupAdmin();
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
    // The applied counter continues from the target's last status record (if the first run lived
    // long enough to publish one): read it as the restarted consumer will.
    const counted = (await restoreTargetCounters(app, 'peer'))?.applied ?? 0;
    pipeline = await runInProcess(app, { producer: false });
    await waitUntil(() => pipeline.consumers[0]!.status().applied >= counted + events, {
      what: `all ${events} events to be applied again`,
    });
    expect(pipeline.consumers[0]!.status().applied).toBe(counted + events);
    expect(await snapshot()).toBe(before);
    await waitForPeerEqual(e);
  });
});

// One huge transaction (producer and consumer peak memory): test/faults/big-transaction.int.test.ts.
