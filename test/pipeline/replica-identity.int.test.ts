// REPLICA IDENTITY USING INDEX on an index without the primary key (issue 14 item 6): a delete then
// carries no key, which stalled the stream in a silent restart loop. The delete now stops the stream
// with a non-retriable error naming table and LSN, and the producer refuses such a table at start
// with the fix; readiness shows it at once and keeps showing it.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, runInProcess, testApp, waitForPeerEqual } from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('REPLICA IDENTITY USING INDEX without the key', () => {
  it('a delete stops the stream visibly with the fix, not a silent restart loop', async () => {
    const e = await pipelineEnv(urls, 'replident');
    cleanups.push(() => e.drop());
    const pipeline = await runInProcess(testApp(e.config));
    cleanups.push(() => pipeline.stop());
    await query(
      e.source.url,
      "INSERT INTO users (id, email, username) VALUES (1, 'a@x.io', 'a'), (2, 'b@x.io', 'b')",
    );
    await waitForPeerEqual(e);
    await query(e.source.url, 'ALTER TABLE users REPLICA IDENTITY USING INDEX users_email_key');
    await query(e.source.url, 'DELETE FROM users WHERE id = 2');
    const producer = pipeline.producer!;
    const problems = await waitUntil(
      () => {
        const r = producer.readiness();
        return !r.ok && /users_email_key/.test(r.problems.join(' ')) && r.problems.join(' ');
      },
      { timeoutMs: 30_000, what: 'readiness to name the replica identity index' },
    );
    expect(problems).toMatch(
      /public\.users has REPLICA IDENTITY USING INDEX users_email_key, which lacks the primary key column\(s\) id/,
    );
    expect(producer.state().lastError).toMatch(/REPLICA IDENTITY DEFAULT/);
    for (let i = 0; i < 10; i++) {
      expect(producer.readiness().ok).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
