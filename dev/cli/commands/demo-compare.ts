// The demo's verdict on the Postgres peer (and the webhook): waits until the peer equals the
// source table by table, measures single-row latency with probes, prints the comparison.
import { compareTables, describeComparison } from '../../verify/compare.ts';
import { compareFixtureTables } from '../../tables/index.ts';
import { insertUsers, makeUser, type rng } from '../../verify/seed.ts';
import {
  say,
  waitFor,
  withClient,
  type Consumer,
  type DemoPipeline,
  type DemoSetup,
} from './demo-support.ts';

/**
 * Waits until the peer equals the source, measures single-row latency with 20 probes, compares
 * once more and (with --webhook) checks the receiver's findings. Returns whether all is well.
 */
export async function waitAndCompare(
  { config, target, hook, contract }: DemoSetup,
  { consumer, hookConsumer }: DemoPipeline,
  r: ReturnType<typeof rng>,
  t0: number,
): Promise<boolean> {
  const columns = contract.columns;
  const src = { url: config.source.url, schema: 'public', table: 'users' };
  const dst = { url: target.url, schema: target.schema, table: target.table };
  let last = Date.now();
  const allEqual = async () =>
    Object.values(await compareFixtureTables(config.source.url, target.url, config.source.contracts!)).every(
      (r) => r.equal,
    );
  await waitFor('the peer to catch up', async () => {
    const st = consumer.status();
    if (Date.now() - last > 2000) {
      last = Date.now();
      say(`... applied ${st.applied} events so far (${st.state}${st.lastError ? `: ${st.lastError}` : ''})`);
    }
    return allEqual();
  });
  const elapsed = (Date.now() - t0) / 1000;
  const st = consumer.status();
  say(
    `target "${target.name}": ${st.applied} events applied, ${st.deadLettered} dead-lettered, in ${elapsed.toFixed(1)} s`,
  );
  // Latency of single-row changes while the pipeline is idle: 20 probe inserts, one at a time.
  const probes = await withClient(config.source.url, async (c) => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push(...(await insertUsers(c, [makeUser(r, i, { tag: 'probe' })])));
      await new Promise((res) => setTimeout(res, 50));
    }
    return ids;
  });
  await waitFor('the probes to arrive', async () => (await compareTables(src, dst, columns)).equal);
  const lat = await withClient(target.url, (c) =>
    c.query<{ p50: number; p99: number; max: number }>(
      `SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)) AS p50, round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)) AS p99, round(max(ms)) AS max
         FROM (SELECT extract(epoch FROM _pgcdc_synced_at - created_at) * 1000 AS ms FROM users WHERE id = ANY ($1::bigint[])) x`,
      [probes],
    ),
  );
  const l = lat.rows[0]!;
  say(
    `end-to-end latency of single-row changes (commit -> applied at the peer): p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`,
  );
  const results = await compareFixtureTables(config.source.url, target.url, config.source.contracts!);
  let ok = Object.values(results).every((r) => r.equal);
  console.log('');
  for (const [table, result] of Object.entries(results))
    console.log(`${table}: ${describeComparison(result)}`);
  console.log('');
  if (hook && hookConsumer) {
    const done = (c: Consumer) => c.status().applied + c.status().deadLettered;
    await waitFor('the webhook to catch up', () => Promise.resolve(done(hookConsumer) >= done(consumer)));
    const h = hook.stats();
    const hs = hookConsumer.status();
    say(
      `webhook "${hook.target.name}" (${hook.target.url}): ${h.events} events for ${h.users} users in ${h.requests} requests, ${hs.deadLettered} dead-lettered, ${h.badSignatures} bad signatures, ${h.outOfOrder} out of order`,
    );
    ok = ok && h.badSignatures === 0 && h.outOfOrder === 0 && hs.deadLettered === 0;
  }
  return ok;
}
