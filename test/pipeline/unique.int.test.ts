// A secondary unique key (email) at the target must neither break apply nor touch the wrong row
// when partitions are applied in another order than the source committed: swaps inside one
// transaction, and an email released by one user and taken by another. Both forms of a unique key:
// a constraint, and a unique index that is no constraint (on an expression, lower(email)).
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { PostgresSink } from '../../consumers/postgres/sink.ts';
import { createTableSql } from '../../consumers/postgres/sql.ts';
import { PostgresTargetSchema } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshDatabase, stackUrls } from '../support/index.ts';
import { TEST_CLIENT_TIMEOUTS } from '../support/database.ts';
import { changeEvent } from '../unit/support/events.ts';
import { releaseTakeSql, seedUsersSql, swapNeighboursSql } from '../../dev/bench/unique-swaps.ts';
import {
  pipelineEnv,
  query,
  runInProcess,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';

const urls = stackUrls();
let env: PipelineEnv | undefined;
let pipeline: Awaited<ReturnType<typeof runInProcess>> | undefined;

afterEach(async () => {
  await pipeline?.stop();
  pipeline = undefined;
  await env?.drop();
  env = undefined;
});

it.each([
  ['a unique constraint', 'ALTER TABLE users ADD CONSTRAINT users_email_unique UNIQUE (email)'],
  ['a unique index on an expression', 'CREATE UNIQUE INDEX users_email_lower ON users (lower(email))'],
])(
  'with %s: email swaps and re-used emails across partitions end equal to the source, nothing dead-lettered',
  async (_form, unique) => {
    env = await pipelineEnv(urls, 'unique');
    const contract = loadContract();
    // The peer table keeps the source's unique email (in one of its two forms).
    await query(
      env.peer.url,
      createTableSql({ schema: 'public', table: 'users', columns: contract.columns, keyColumns: ['id'] }),
    );
    await query(env.peer.url, unique);
    pipeline = await runInProcess(testApp(env.config));
    await query(env.source.url, seedUsersSql(30));
    await waitForPeerEqual(env);
    // Swap the emails of neighbours in one transaction (through a temporary value), several times.
    for (let round = 0; round < 3; round++) await query(env.source.url, swapNeighboursSql(1, 30));
    // A user releases an email and another one takes it right after, in separate transactions.
    const [released] = await query<{ email: string }>(
      env.source.url,
      'SELECT email FROM users WHERE id = 30',
    );
    for (const sql of releaseTakeSql(30, 29, released!.email)) await query(env.source.url, sql);

    const result = await waitForPeerEqual(env, 120_000);
    expect(result.sourceRows).toBe(30);
    const [swapped] = await query<{ email: string }>(env.peer.url, 'SELECT email FROM users WHERE id = 1');
    expect(swapped?.email).toBe('user2@x.io'); // three swaps: 1 <-> 2
    const st = pipeline.consumers[0]!.status();
    expect(st.deadLettered).toBe(0);
  },
  180_000,
);

it.each([
  ['a unique constraint', 'ALTER TABLE users ADD CONSTRAINT users_email_unique UNIQUE (email)'],
  ['a unique index on an expression', 'CREATE UNIQUE INDEX users_email_lower ON users (lower(email))'],
  ['a partial unique index', 'CREATE UNIQUE INDEX users_email_active ON users (email) WHERE is_active'],
])(
  'with %s: a change whose value a later change of another row holds is skipped, not retried',
  async (_form, unique) => {
    const peer = await freshDatabase(urls.adminUrl, 'unique_holder');
    const contract = loadContract();
    const target = PostgresTargetSchema.parse({ name: 'peer', type: 'postgres', url: peer.url });
    const sink = new PostgresSink(target, contract, createLogger({ level: 'warn' }));
    const user = (id: bigint, email: string, lsn: bigint, op: 'c' | 'u' = 'u') => ({
      offset: lsn,
      key: { id },
      event: changeEvent({
        op,
        after: {
          id,
          email,
          username: `u${id}`,
          is_active: true,
          is_blocked: false,
          created_at: 1_700_000_000_000_000n,
          updated_at: 1_700_000_000_000_000n,
        },
        source: { lsn, commit_lsn: lsn },
        event_id: `${id}@${lsn}`,
      }),
    });
    try {
      await sink.open();
      await query(peer.url, unique);
      await sink.apply([user(1n, 'a@x.io', 10n, 'c'), user(2n, 'b@x.io', 11n, 'c')]);
      // Source: user 1 takes x@x.io (lsn 20), gives it up (lsn 30) when user 2 takes it (lsn 30).
      // User 2's partition is ahead: it applied lsn 30 before user 1's partition reaches lsn 20.
      expect((await sink.apply([user(2n, 'x@x.io', 30n)])).retryFrom).toBeUndefined();
      const res = await sink.apply([user(1n, 'x@x.io', 20n)]);
      expect(res.retryFrom).toBeUndefined();
      expect([res.applied.length, res.deadLetters.length]).toEqual([1, 0]);
      const rows = await query<{ id: string; email: string }>(
        peer.url,
        'SELECT id::text AS id, email FROM users ORDER BY id',
      );
      expect(rows).toEqual([
        { id: '1', email: 'a@x.io' },
        { id: '2', email: 'x@x.io' },
      ]);
    } finally {
      await sink.close();
      await peer.drop();
    }
  },
);

it('an event that waits for a lock longer than 100 ms commits the prefix and waits (lock-wait), instead of blocking the lane until lock_timeout or a deadlock', async () => {
  const peer = await freshDatabase(urls.adminUrl, 'unique_lock');
  const contract = loadContract();
  const target = PostgresTargetSchema.parse({ name: 'peer', type: 'postgres', url: peer.url });
  const sink = new PostgresSink(target, contract, createLogger({ level: 'warn' }));
  const user = (id: bigint, email: string, lsn: bigint, op: 'c' | 'u' = 'u') => ({
    offset: lsn,
    key: { id },
    event: changeEvent({
      op,
      after: {
        id,
        email,
        username: `u${id}`,
        is_active: true,
        is_blocked: false,
        created_at: 1_700_000_000_000_000n,
        updated_at: 1_700_000_000_000_000n,
      },
      source: { lsn, commit_lsn: lsn },
      event_id: `${id}@${lsn}`,
    }),
  });
  const holder = new pg.Client({ connectionString: peer.url, ...TEST_CLIENT_TIMEOUTS });
  try {
    await sink.open();
    await query(peer.url, 'ALTER TABLE users ADD CONSTRAINT users_email_unique UNIQUE (email)');
    await sink.apply([user(1n, 'a@x.io', 10n, 'c'), user(2n, 'b@x.io', 11n, 'c')]);
    // another transaction (another lane, or anything at the target) holds user 2's row
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query("UPDATE users SET username = 'held' WHERE id = 2");
    const started = Date.now();
    const res = await sink.apply([user(1n, 'c@x.io', 20n), user(2n, 'd@x.io', 21n)]);
    const tookMs = Date.now() - started;
    expect(res.retryFrom).toMatchObject({ offset: 21n, reason: 'lock-wait' });
    expect(res.applied.map((e) => e.offset)).toEqual([20n]); // the prefix is committed
    expect(tookMs).toBeLessThan(4_000); // the target role's lock_timeout is 5 s
    await holder.query('ROLLBACK');
    const again = await sink.apply([user(2n, 'd@x.io', 21n)]);
    expect(again.retryFrom).toBeUndefined();
    const rows = await query<{ id: string; email: string }>(
      peer.url,
      'SELECT id::text AS id, email FROM users ORDER BY id',
    );
    expect(rows).toEqual([
      { id: '1', email: 'c@x.io' },
      { id: '2', email: 'd@x.io' },
    ]);
  } finally {
    await holder.end().catch(() => undefined);
    await sink.close();
    await peer.drop();
  }
});
