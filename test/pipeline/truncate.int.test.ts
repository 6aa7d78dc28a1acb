// TRUNCATE of the captured table (issue 14 item 17). Until truncates are published as events,
// the README promises that a TRUNCATE is logged: targets keep their rows, and the operator must
// hear of it. It was dropped without a trace.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { appWithLog } from '../support/faults.ts';
import { pipelineEnv, query, runInProcess, waitForPeerEqual } from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('TRUNCATE', () => {
  it('is logged as a warning naming the table and its commit LSN; the stream goes on', async () => {
    const e = await pipelineEnv(urls, 'truncate');
    cleanups.push(() => e.drop());
    const { app, lines } = appWithLog(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    await query(e.source.url, "INSERT INTO users (id, email, username) VALUES (1, 'a@x.io', 'a')");
    await waitForPeerEqual(e);
    await query(e.source.url, 'TRUNCATE users');
    const line = await waitUntil(() => lines.find((l) => /TRUNCATE/.test(String(l.msg))), {
      timeoutMs: 30_000,
      what: 'the TRUNCATE warning',
    });
    expect(line).toMatchObject({ level: 40, table: 'public.users' });
    expect(String((line as Record<string, unknown>).commitLsn)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    await query(e.source.url, "INSERT INTO users (id, email, username) VALUES (2, 'b@x.io', 'b')");
    await waitUntil(
      async () =>
        (await query<{ n: string }>(e.peer.url, 'SELECT count(*)::text AS n FROM users WHERE id = 2'))[0]
          ?.n === '1',
      { timeoutMs: 30_000, what: 'the insert after the TRUNCATE at the peer' },
    );
  });
});
