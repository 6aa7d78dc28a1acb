// Fault: rows and transactions larger than Kafka takes in one request (issue 14 item 6). Batches
// are bounded by bytes as well as by count, so a transaction of 1,000 rows with 10 kB random bios
// reaches the peer; a single row larger than producer.maxMessageBytes cannot be carried and stops
// the stream with a non-retriable error naming table, key and LSN, shown by readiness at once; so
// does a value the contract cannot carry (a timestamptz beyond its range, a 2-D array, a NULL in a
// NOT NULL column), which used to restart forever as retriable.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, runInProcess, testApp, waitForPeerEqual } from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

/** `bytes` of random hex per row: incompressible (no Kafka or TOAST compression shrinks it). */
const randomSql = (bytes: number) =>
  `(SELECT string_agg(md5(random()::text || i || g.n), '') FROM generate_series(1, ${Math.ceil(bytes / 32)}) g(n))`;

describe('large rows and transactions', () => {
  it('one transaction of 1,000 rows with 10 kB random bios reaches the peer', async () => {
    const e = await pipelineEnv(urls, 'largetx');
    cleanups.push(() => e.drop());
    const pipeline = await runInProcess(testApp(e.config));
    cleanups.push(() => pipeline.stop());
    await query(
      e.source.url,
      `INSERT INTO users (email, username, bio)
       SELECT 'big' || i || '@x.io', 'big' || i, ${randomSql(10_000)} FROM generate_series(1, 1000) i`,
    );
    const result = await waitForPeerEqual(e, 100_000);
    expect(result.sourceRows).toBe(1000);
  }, 150_000);

  it('a row larger than producer.maxMessageBytes stops the stream visibly, naming table, key and LSN', async () => {
    const e = await pipelineEnv(urls, 'oversize');
    cleanups.push(() => e.drop());
    const pipeline = await runInProcess(testApp(e.config));
    cleanups.push(() => pipeline.stop());
    await query(e.source.url, "INSERT INTO users (id, email, username) VALUES (1, 'ok@x.io', 'ok')");
    await waitForPeerEqual(e);
    await query(
      e.source.url,
      `INSERT INTO users (id, email, username, bio) SELECT 2, 'huge@x.io', 'huge', ${randomSql(1_200_000)} FROM (SELECT 1 AS i) s`,
    );
    const producer = pipeline.producer!;
    const problems = await waitUntil(
      () => {
        // (the stream is down a moment before its error is recorded: wait for the error)
        const r = producer.readiness();
        return !r.ok && /maxMessageBytes/.test(r.problems.join(' ')) && r.problems.join(' ');
      },
      { timeoutMs: 30_000, what: 'readiness to report the oversized row' },
    );
    expect(problems).toMatch(/public\.users/);
    expect(problems).toMatch(/key \{"id":"2"\}/);
    expect(problems).toMatch(/LSN [0-9A-F]+\/[0-9A-F]+/);
    expect(producer.state().lastError).toMatch(/maxMessageBytes/);
    // It stays visible (no flicker back to ready while the stream restarts onto the same row).
    for (let i = 0; i < 10; i++) {
      expect(producer.readiness().ok).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('a value the contract cannot carry (timestamptz beyond its range) stops the stream visibly, non-retriable', async () => {
    const e = await pipelineEnv(urls, 'uncarriable');
    cleanups.push(() => e.drop());
    const pipeline = await runInProcess(testApp(e.config));
    cleanups.push(() => pipeline.stop());
    await query(e.source.url, "INSERT INTO users (id, email, username) VALUES (1, 'ok@x.io', 'ok')");
    await waitForPeerEqual(e);
    await query(
      e.source.url,
      "INSERT INTO users (id, email, username, created_at) VALUES (3, 'far@x.io', 'far', '294270-01-01 00:00:00+00')",
    );
    const producer = pipeline.producer!;
    const problems = await waitUntil(
      () => {
        const r = producer.readiness();
        return !r.ok && /cannot be carried/.test(r.problems.join(' ')) && r.problems.join(' ');
      },
      { timeoutMs: 30_000, what: 'readiness to report the uncarriable row' },
    );
    expect(problems).toMatch(/public\.users key \{"id":"3"\} at LSN [0-9A-F]+\/[0-9A-F]+/);
    expect(problems).toMatch(/column created_at: timestamptz .* beyond the range/);
    for (let i = 0; i < 10; i++) {
      expect(producer.readiness().ok).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
