// Fault: the source table's schema changes while changes stream. The contract (.avsc) is the
// single source of truth (README: Schema changes):
//   - ADD COLUMN (NOT NULL, with a default): the column is not in the contract, so it is not
//     published; the producer warns once and goes on;
//   - DROP COLUMN of a NULLABLE contract column (middle_name): events carry null for it, with a
//     warning; the peer keeps the column, rows written after the drop get null there.
// Neither restarts the producer; nothing is lost: the peer equals the source on every column the
// source still has, and the dead-letter topic stays empty. A re-snapshot after the drop
// (`pgcdc snapshot --restart`) reads the dropped column as null too, and the peer stays equal. (Dropping a NOT NULL contract column
// stops the stream with a non-retriable SchemaMismatchError: unit-tested in assembler.test.ts.)
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { compareTables, type CompareResult } from '../../dev/verify/compare.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { continuousWriter, pipelineEnv, query, runInProcess } from '../support/pipeline.ts';
import {
  appWithLog,
  deadLetters,
  metricValue,
  orderViolations,
  pgcdc,
  topicEvents,
  type TopicEvent,
} from '../support/faults.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('schema change while streaming', () => {
  it('an added column is ignored, a dropped nullable column is carried as null; no restart, nothing lost', async () => {
    const e = await pipelineEnv(urls, 'schemachg');
    cleanups.push(() => e.drop());
    const { app, lines } = appWithLog(e.config);
    await query(
      e.source.url,
      "INSERT INTO users (email, username, middle_name) SELECT 's' || i || '@x.io', 's' || i, 'mid' || i FROM generate_series(1, 300) i",
    );
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const consumer = pipeline.consumers[0]!;
    const writer = continuousWriter(e.source.url, 21);
    cleanups.push(() => writer.stop());
    const flowing = async (what: string) => {
      const from = consumer.status().applied;
      await waitUntil(() => consumer.status().applied > from + 50, { what, timeoutMs: 60_000 });
    };
    await flowing('events to flow');

    await query(e.source.url, 'ALTER TABLE users ADD COLUMN loyalty integer NOT NULL DEFAULT 7');
    await query(
      e.source.url,
      "UPDATE users SET loyalty = 9, city = 'after-add' WHERE id % 5 = 0 AND id <= 300",
    );
    await flowing('events to flow after ADD COLUMN');
    await query(e.source.url, 'ALTER TABLE users DROP COLUMN middle_name');
    await query(
      e.source.url,
      "UPDATE users SET city = 'after-drop', updated_at = now() WHERE id % 3 = 0 AND id <= 300",
    );
    await flowing('events to flow after DROP COLUMN');
    await writer.stop();

    // Equal on every column the source still has (waitForPeerEqual compares the whole contract).
    const columns = loadContract().columns.filter((c) => c.name !== 'middle_name');
    let last: CompareResult | undefined;
    const peerEqual = (what: string) =>
      waitUntil(
        async () => {
          last = await compareTables(
            { url: e.source.url, schema: 'public', table: 'users' },
            { url: e.peer.url, schema: 'public', table: 'users' },
            columns,
          );
          return last.equal;
        },
        { what, timeoutMs: 90_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify({ ...last, missing: last?.missing.slice(0, 5) })}`);
      });
    await peerEqual('the peer to equal the source (without middle_name)');
    // Rows changed after the drop carry null; rows untouched since keep what they had.
    const peer = await query<{ after_drop: string; kept: string; loyalty_cols: string }>(
      e.peer.url,
      `SELECT count(*) FILTER (WHERE city = 'after-drop' AND middle_name IS NOT NULL)::text AS after_drop,
              count(*) FILTER (WHERE city IS DISTINCT FROM 'after-drop' AND middle_name LIKE 'mid%')::text AS kept,
              (SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'loyalty')::text AS loyalty_cols
         FROM users`,
    );
    expect(peer[0]).toMatchObject({ after_drop: '0', loyalty_cols: '0' });
    expect(Number(peer[0]!.kept)).toBeGreaterThan(0);

    // Re-feed after the drop: every row, with null for the dropped column.
    const snap = await pgcdc(['snapshot', '--restart', '-c', e.configFile]);
    await peerEqual('the peer to equal the source after the re-snapshot');
    const sourceRows = (await query<{ n: string }>(e.source.url, 'SELECT count(*)::text AS n FROM users'))[0]!
      .n;
    const snapshotOf = (t: TopicEvent) => t.event.event_id.split(':')[1]!;
    const fed = (await topicEvents(app, e.topic)).filter((t) => t.event.op === 'r');
    const latest = fed.map(snapshotOf).sort().at(-1);
    const snapshotEvents = fed.filter((t) => snapshotOf(t) === latest);
    const refed = new Set(snapshotEvents.map((t) => String(t.key.id)));
    expect(refed.size, snap).toBe(Number(sourceRows));
    expect(snapshotEvents.filter((t) => t.event.after?.middle_name !== null)).toEqual([]);
    const afterSnap = await query<{ n: string }>(
      e.peer.url,
      'SELECT count(*)::text AS n FROM users WHERE middle_name IS NOT NULL',
    );
    expect(afterSnap[0]!.n).toBe('0');

    expect(await metricValue(app, 'pgcdc_producer_restarts_total')).toBe(0);
    const drift = lines
      .filter((l) => l.msg.startsWith('source table differs from the event contract'))
      .map((l) => l as unknown as { droppedNullable: string[]; notInContract: string[] });
    expect(drift.some((l) => l.notInContract.includes('loyalty'))).toBe(true);
    expect(drift.some((l) => l.droppedNullable.includes('middle_name'))).toBe(true);
    expect(lines.filter((l) => l.level >= 50 && l.component !== 'kafkajs')).toEqual([]);
    const events = await topicEvents(app, e.topic);
    expect(orderViolations(events)).toEqual([]);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `schema change: ${events.length} events, peer equal on ${columns.length} columns; ${peer[0]!.kept} untouched rows keep middle_name; ` +
        `warnings: ${drift.map((l) => JSON.stringify({ dropped: l.droppedNullable, ignored: l.notInContract })).join(' ')}`,
    );
  }, 180_000);
});
