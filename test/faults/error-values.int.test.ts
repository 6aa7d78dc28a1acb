// Row values stay in the dead-letter record: rows the target rejects (a CHECK and a NOT NULL it has
// and the source has not) are dead-lettered with the database's full text (SQLSTATE,
// DETAIL with the failing row), while the target's status, its record in the status topic and
// readiness show SQLSTATE, constraint and table names and the message without the values.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { DLQ_HEADERS } from '../../consumers/dlq.ts';
import { gatherStatus } from '../../ops/status.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { createPeerTable, pipelineEnv, query, runInProcess, testApp } from '../support/pipeline.ts';
import { deadLetters } from '../support/faults.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('error texts with row values', () => {
  it('reach the dead-letter record only, not the status, the status topic or readiness', async () => {
    const e = await pipelineEnv(urls, 'errvals', {
      source: { snapshot: { mode: 'never' } },
      operations: { statusIntervalMs: 200 },
    });
    cleanups.push(() => e.drop());
    await createPeerTable(e);
    await query(e.peer.url, "ALTER TABLE users ADD CONSTRAINT no_reject CHECK (username <> 'reject-me')");
    await query(e.peer.url, 'ALTER TABLE users ALTER COLUMN city SET NOT NULL');
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const consumer = pipeline.consumers[0]!;

    const cases = [
      {
        insert: "INSERT INTO users (email, username, city) VALUES ('secret-mail@x.io', 'reject-me', 'c')",
        secret: 'secret-mail@x.io',
        shown: /check constraint "no_reject" .*\(SQLSTATE 23514, constraint no_reject, table public\.users\)/,
        full: /\(SQLSTATE 23514\)\nDETAIL: Failing row contains \(.*secret-mail@x\.io/,
      },
      {
        insert: "INSERT INTO users (email, username) VALUES ('no-city-secret@x.io', 'nc')",
        secret: 'no-city-secret@x.io',
        shown: /null value in column "city" .*\(SQLSTATE 23502, table public\.users, column city\)/,
        full: /\(SQLSTATE 23502\)\nDETAIL: Failing row contains \(.*no-city-secret@x\.io/,
      },
    ];
    for (const [i, c] of cases.entries()) {
      await query(e.source.url, c.insert);
      const s = await waitUntil(() => consumer.status().deadLettered === i + 1 && consumer.status(), {
        what: `dead letter ${i + 1}`,
      });
      expect(s.lastError).toMatch(c.shown);
      expect(s.lastError).not.toContain(c.secret);
      expect(JSON.stringify(consumer.readiness())).not.toContain(c.secret);
      const published = await waitUntil(
        async () => {
          const t = (await gatherStatus(e.config, app.kafka)).targets[0];
          return t?.deadLettered === i + 1 && t;
        },
        { what: `status record with dead letter ${i + 1}`, intervalMs: 300 },
      );
      expect(published.lastError).toMatch(c.shown);
      expect(published.lastError).not.toContain(c.secret);
      const dead = await waitUntil(
        async () => {
          const d = await deadLetters(app.kafka, e);
          return d.length === i + 1 && d;
        },
        { what: `dead letter ${i + 1} in the topic` },
      );
      const error = dead.map((d) => d.headers[DLQ_HEADERS.error] ?? '').find((t) => c.full.test(t));
      expect(error, dead.map((d) => d.headers[DLQ_HEADERS.error]).join(' | ')).toBeDefined();
      console.log(`status: ${s.lastError} | dead letter: ${error!.replace(/\n/g, ' \\n ')}`);
    }
  });
});
