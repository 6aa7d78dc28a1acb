// Opening a matched target's sink (consumers/postgres/matched-sink.ts) while another connection
// writes its table, as a second lane of the same target does: with every table and index already
// there, opening runs no DDL and so takes no lock on the table. CREATE INDEX IF NOT EXISTS locks
// an existing table (SHARE) before it finds the index, so a lane opening behind another lane's
// open transaction waited for it and, with lock_timeout, failed ("opening target failed") and
// held up the other lanes' next writes meanwhile (seen at every start of the demo's CMS target).
import { afterEach, expect, it } from 'vitest';
import pg from 'pg';
import { cmsTableSql, cmsTarget } from '../../dev/cli/commands/demo-shaping.ts';
import { MatchedPostgresSink, matchedTableOf } from '../../consumers/postgres/matched-sink.ts';
import { targetShape } from '../../consumers/mapping/shape.ts';
import { PostgresTargetSchema } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshDatabase, stackUrls, waitUntil, withClient, type FreshDatabase } from '../support/index.ts';

let db: FreshDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

it('a lane opens without waiting for another lane writing the table', async () => {
  db = await freshDatabase(stackUrls().adminUrl, 'mopen');
  await withClient(db.url, (c) => c.query(cmsTableSql([])));
  const parsed = PostgresTargetSchema.parse({ ...cmsTarget(db.url), createTable: true });
  const mapping = Array.isArray(parsed.mapping) ? parsed.mapping[0] : parsed.mapping;
  const cfg = { ...parsed, table: 'fe_users', mapping }; // the route of public.users, as compose.ts builds it
  const table = matchedTableOf(cfg, targetShape(cfg, loadContract())!);
  const sink = () => new MatchedPostgresSink(cfg, table, createLogger({ level: 'silent' }));
  const first = sink();
  await first.open(); // creates the links table and the indexes
  await first.close();

  const writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
  try {
    await writer.query('BEGIN');
    await writer.query("UPDATE fe_users SET login = login WHERE email = 'nobody'"); // ROW EXCLUSIVE until COMMIT
    const lane = sink();
    const opening: { done: boolean; error?: Error } = { done: false };
    void lane.open().then(
      () => (opening.done = true),
      (err: Error) => Object.assign(opening, { done: true, error: err }),
    );
    // the writer's transaction stays open meanwhile: the lane must not need it to end
    await waitUntil(() => opening.done, { what: 'the lane to open (or fail)', timeoutMs: 60_000 });
    expect(opening.error?.message).toBeUndefined();
    await writer.query('COMMIT');
    await lane.close();
  } finally {
    await writer.end();
  }
}, 120_000);
