// Order per user under concurrency and retries: a later event of a user is never delivered before
// an earlier one succeeded; and a receiver that is down (connection refused) for a while loses
// nothing and gets nothing out of order once it is back. The outage lasts ~6 s here (instead of
// 20 s) to keep the suite fast; the circuit breaker keeps the number of attempts small meanwhile.
import { describe, expect, it } from 'vitest';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  closeAfterEach,
  delivered,
  freePort,
  insertUser,
  startReceiver,
  webhookPipeline,
  type Received,
} from '../support/webhook.ts';

closeAfterEach();

const userOf = (r: Received) => String(r.body.key.id);
const cityOf = (r: Received) => r.body.after?.city ?? null;

describe('webhook ordering', () => {
  it('two updates of one user, the first failing twice, arrive in order (other users flow meanwhile)', async () => {
    const receiver = await startReceiver((req, nth) =>
      cityOf(req) === 'first' && nth <= 2 ? { status: 503 } : { status: 200 },
    );
    const p = await webhookPipeline(stackUrls(), 'wh_order', receiver.url, { concurrency: 4 });
    await p.startConsumer();
    const user = await insertUser(p, 'ordered');
    const others = [await insertUser(p, 'o1'), await insertUser(p, 'o2'), await insertUser(p, 'o3')];
    await p.sql(
      `BEGIN;
       UPDATE users SET city = 'first' WHERE id = ${user};
       UPDATE users SET city = 'x' WHERE id IN (${others.join(',')});
       UPDATE users SET city = 'second' WHERE id = ${user};
       COMMIT;`,
    );
    await waitUntil(() => delivered(receiver).length === 9, { what: 'nine deliveries', timeoutMs: 60_000 });
    const mine = receiver.received.filter((r) => userOf(r) === user);
    expect(mine.map((r) => [r.body.type, cityOf(r), r.answer])).toEqual([
      ['created', null, 200],
      ['updated', 'first', 503],
      ['updated', 'first', 503],
      ['updated', 'first', 200],
      ['updated', 'second', 200],
    ]);
    expect(new Set(delivered(receiver).map((r) => r.id)).size).toBe(9);
  });

  it('a receiver down (connection refused) for ~6 s: nothing lost, nothing out of order', async () => {
    const port = await freePort();
    const p = await webhookPipeline(stackUrls(), 'wh_down', `http://127.0.0.1:${port}/hook`, {
      maxAttempts: 30,
      backoff: { initial: 0.1, max: 1, jitter: 0.2 },
      circuitBreaker: { failureThreshold: 3, cooldown: 1 },
    });
    await p.startConsumer();
    const outageStart = performance.now();
    const users: string[] = [];
    for (let i = 0; i < 5; i++) users.push(await insertUser(p, `down${i}`));
    for (let step = 1; step <= 3; step++) {
      await p.sql(`UPDATE users SET city = 'c${step}' WHERE id IN (${users.join(',')})`);
    }
    await waitUntil(async () => (await p.metric('webhookCircuitOpen')) === 1, {
      what: 'the circuit to open',
      timeoutMs: 30_000,
    });
    expect(p.consumer!.status().state).toBe('ERR');
    // The outage itself: the receiver comes back ~6 s after the first writes.
    await waitUntil(() => performance.now() - outageStart >= 6000, {
      what: 'the outage to last 6 s',
      timeoutMs: 10_000,
    });
    const refused = await p.metric('webhookResponses', { code: 'network' });
    const receiver = await startReceiver(undefined, port);

    await waitUntil(() => delivered(receiver).length >= 20, { what: '20 deliveries', timeoutMs: 60_000 });
    const got = delivered(receiver);
    expect(got).toHaveLength(20);
    expect(new Set(got.map((r) => r.id)).size).toBe(20);
    for (const u of users) {
      const seq = got.filter((r) => userOf(r) === u);
      expect(seq.map((r) => [r.body.type, cityOf(r)])).toEqual([
        ['created', null],
        ['updated', 'c1'],
        ['updated', 'c2'],
        ['updated', 'c3'],
      ]);
    }
    // the receiver records a request before it answers: wait until the consumer counted the last
    await waitUntil(() => p.consumer!.status().applied >= 20, { what: 'the deliveries counted' });
    expect(p.consumer!.status()).toMatchObject({ deadLettered: 0, applied: 20 });
    await waitUntil(() => p.consumer!.status().state === 'OK', { what: 'state OK', timeoutMs: 10_000 });
    expect(await p.metric('webhookCircuitOpen')).toBe(0);
    // Without the breaker, 4 workers retrying every <= 1 s for 6 s would make ~40 attempts.
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(refused).toBeLessThanOrEqual(20);
    console.log(
      `outage: ${refused} refused attempts in ${((performance.now() - outageStart) / 1000).toFixed(1)} s`,
    );
  });
});
