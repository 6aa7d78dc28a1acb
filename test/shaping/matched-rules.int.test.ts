// The matched rules (consumers/matching) at real targets, Postgres and MariaDB, through the mapping
// decorator and the real matched sinks, with the interleavings forced by hand (events with placed
// source positions, partitions applied in a chosen order, each batch a transaction as the consumer
// group applies it):
// - a circle of waits (the cause of a flaky test/shaping/cms.int.test.ts): A changes its email
//   V -> Z and later Z -> W; D takes V in between; C takes Z after A gave it up. C's partition
//   runs ahead, so A's first event finds Z held from a later position: had it been skipped, A's
//   row would keep V at its old position, D would wait for A, and A's next event (W, still D's)
//   for D: both waits are forever (dead-lettered after 40 backoffs, about 3 minutes). Written
//   without its email instead, A's row gives V up and every partition drains;
// - (Postgres) the link owning the row that holds a value is read after that row's lock: a row
//   another lane adopts meanwhile is seen with its new owner, not as a row the target made itself
//   (which would be a match-conflict for a source row with a row of its own);
// - a soft-deleted row coming back whose email a row the target made itself holds meanwhile: a
//   match-conflict (dead-lettered, as for a live row with its own row), and the row keeps its own
//   target row and link; a later source row taking the email the old row had gets it released,
//   never finds an unlinked row of pgcdc's.
import { expect, it } from 'vitest';
import { mappedSink } from '../../consumers/group/mapped-sink.ts';
import { MatchedMysqlSink, matchedMysqlTableOf } from '../../consumers/mysql/match-sink.ts';
import { MatchedPostgresSink, matchedTableOf } from '../../consumers/postgres/matched-sink.ts';
import type { Sink } from '../../consumers/sink.ts';
import { MysqlTargetSchema } from '../../pipeline/config/mysql.ts';
import { PostgresTargetSchema } from '../../pipeline/config/targets.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { freshMysqlDatabase, mysqlRows, withMysql } from '../mysql/support.ts';
import pg from 'pg';
import { freshDatabase, stackUrls, waitUntil, withClient } from '../support/index.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { shapeOf } from '../unit/consumers/mapping/support.ts';

const logger = createLogger({ level: 'warn' });
const TIMEOUTS = { connectTimeoutMs: 10_000, statementTimeoutMs: 60_000, lockTimeoutMs: 5_000 };
const MAPPING = {
  include: ['email', 'username', 'is_active'],
  rename: { username: 'login' },
  filter: 'is_active',
  match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
  deletePolicy: 'soft',
  softDelete: { column: 'deleted', type: 'boolean' },
};
type Ev = ReturnType<ReturnType<typeof positionedChanges>>;

interface Target {
  url: string;
  sink: Sink;
  /** `uid email login deleted` of every row, by uid */
  rows(): Promise<string[]>;
  /** `source id -> uid (deleted)` of every link */
  links(): Promise<string[]>;
  /** a row the target system makes itself */
  own(email: string, login: string): Promise<void>;
  drop(): Promise<void>;
}

async function postgresTarget(): Promise<Target> {
  const db = await freshDatabase(stackUrls().adminUrl, 'matched_rules');
  await withClient(db.url, (c) =>
    c.query(`CREATE TABLE fe_users (uid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text, login text,
      is_active boolean, deleted boolean NOT NULL DEFAULT false);
      CREATE UNIQUE INDEX fe_users_email ON fe_users (lower(email))`),
  );
  const cfg = PostgresTargetSchema.parse({
    name: 'cms',
    type: 'postgres',
    url: db.url,
    table: 'fe_users',
    createTable: true,
    mapping: MAPPING,
  });
  const shape = shapeOf(MAPPING);
  const sink = mappedSink(new MatchedPostgresSink(cfg, matchedTableOf(cfg, shape), logger), shape);
  const text = async (sql: string) =>
    withClient(db.url, async (c) => (await c.query<{ r: string }>(sql)).rows.map((x) => x.r));
  return {
    url: db.url,
    sink,
    rows: () =>
      text(
        `SELECT concat_ws(' ', uid, coalesce(email, 'null'), login, deleted::int) AS r FROM fe_users ORDER BY uid`,
      ),
    links: () =>
      text(
        `SELECT concat(id, ' -> ', _pgcdc_target_key, CASE WHEN _pgcdc_deleted THEN ' (deleted)' END) AS r FROM fe_users_pgcdc_links ORDER BY id`,
      ),
    own: async (email, login) => {
      await withClient(db.url, (c) =>
        c.query('INSERT INTO fe_users (email, login) VALUES ($1, $2)', [email, login]),
      );
    },
    drop: () => db.drop(),
  };
}

async function mariadbTarget(): Promise<Target> {
  const db = await freshMysqlDatabase(stackUrls(), 'my_rules');
  await withMysql(db.url, (c) =>
    c.query(`CREATE TABLE fe_users (uid INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL, login VARCHAR(255) NULL,
      is_active BOOLEAN NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE, UNIQUE KEY fe_users_email (email))
      ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`),
  );
  const cfg = MysqlTargetSchema.parse({
    name: 'cms',
    type: 'mysql',
    url: db.url,
    table: 'fe_users',
    createTable: true,
    mapping: MAPPING,
  });
  const shape = shapeOf(MAPPING);
  const sink = mappedSink(
    new MatchedMysqlSink(cfg, matchedMysqlTableOf(cfg, shape), logger, TIMEOUTS),
    shape,
  );
  const text = async (sql: string) => (await mysqlRows(db.url, sql)).map((x) => x.r as string);
  return {
    url: db.url,
    sink,
    rows: () =>
      text(
        `SELECT concat_ws(' ', uid, coalesce(email, 'null'), login, deleted + 0) AS r FROM fe_users ORDER BY uid`,
      ),
    links: () =>
      text(
        `SELECT concat(id, ' -> ', _pgcdc_target_key, CASE WHEN _pgcdc_deleted THEN ' (deleted)' ELSE '' END) AS r FROM fe_users_pgcdc_links ORDER BY id`,
      ),
    own: async (email, login) => {
      await withMysql(db.url, (c) =>
        c.query('INSERT INTO fe_users (email, login) VALUES (?, ?)', [email, login]),
      );
    },
    drop: () => db.drop(),
  };
}

/**
 * Applies partitions as the consumer group does: each round, every partition with events left
 * applies them as one batch (one transaction) up to an event that must wait; a partition that
 * waits is tried again next round. Throws when a round moves nothing (a circle of waits).
 */
async function drain(sink: Sink, partitions: Ev[][]) {
  const left = partitions.map((p) => [...p]);
  const dead: string[] = [];
  while (left.some((p) => p.length > 0)) {
    let moved = false;
    const waits: string[] = [];
    for (const p of left) {
      if (p.length === 0) continue;
      const r = await sink.apply(p);
      dead.push(...r.deadLetters.map((d) => `${d.offset}: ${d.reason}`));
      const done = p.filter((e) => r.retryFrom === undefined || e.offset < r.retryFrom.offset).length;
      if (done > 0) moved = true;
      if (r.retryFrom) waits.push(`${p[done]!.event.event_id} waits: ${r.retryFrom.error}`);
      p.splice(0, done);
    }
    if (!moved) throw new Error(`no partition can move: ${waits.join('; ')}`);
  }
  return dead;
}

for (const [name, make] of [
  ['Postgres', postgresTarget],
  ['MariaDB', mariadbTarget],
] as const) {
  it(`${name}: an event whose email a later position holds gives its old email up (no circle of waits)`, async () => {
    const target = await make();
    const ev = positionedChanges();
    const [A, C, D] = [1n, 2n, 3n];
    try {
      await target.sink.open();
      expect(
        await drain(target.sink, [
          [
            ev('c', A, 10n, { email: 'v@x.io' }),
            ev('c', C, 11n, { email: 'c@x.io' }),
            ev('c', D, 12n, { email: 'w@x.io' }),
          ],
        ]),
      ).toEqual([]);
      // A: v -> z at 20 and z -> w at 40; D: w -> v at 30; C: c -> z at 50 (after A gave z up).
      // C's partition first: z is C's, written from 50, when A's event of 20 comes.
      const dead = await drain(target.sink, [
        [ev('u', C, 50n, { email: 'z@x.io' })],
        [ev('u', A, 20n, { email: 'z@x.io' }), ev('u', A, 40n, { email: 'w@x.io' })],
        [ev('u', D, 30n, { email: 'v@x.io' })],
      ]);
      expect(dead).toEqual([]);
      expect(await target.rows()).toEqual(['1 w@x.io u1 0', '2 z@x.io u2 0', '3 v@x.io u3 0']);
    } finally {
      await target.sink.close();
      await target.drop();
    }
  }, 60_000);

  it(`${name}: a soft-deleted row coming back keeps its own row; a foreign row holding its email is a conflict`, async () => {
    const target = await make();
    const ev = positionedChanges();
    try {
      await target.sink.open();
      const apply = (...events: Ev[]) => drain(target.sink, [events]);
      expect(await apply(ev('c', 1n, 10n, { email: 'a@x.io' }))).toEqual([]);
      expect(await apply(ev('u', 1n, 20n, { is_active: false, email: 'a@x.io' }))).toEqual([]); // soft-deleted
      await target.own('b@x.io', 'cms-own'); // the CMS makes a row of its own with b@x.io
      // user 1 takes b@x.io at the source while out of the filter, then comes back
      expect(await apply(ev('u', 1n, 30n, { is_active: false, email: 'b@x.io' }))).toEqual([]);
      const back = ev('u', 1n, 40n, { email: 'b@x.io' });
      expect(await apply(back)).toEqual([`${back.offset}: match-conflict`]);
      expect(await target.rows()).toEqual(['1 a@x.io u1 1', '2 b@x.io cms-own 0']);
      expect(await target.links()).toEqual(['1 -> 1 (deleted)']);
      // user 2 takes a@x.io (user 1's old email): released from user 1's soft-deleted row
      expect(await apply(ev('c', 2n, 50n, { email: 'a@x.io' }))).toEqual([]);
      const rows = await target.rows();
      expect(rows.slice(0, 2)).toEqual(['1 null u1 1', '2 b@x.io cms-own 0']);
      expect(rows.slice(2).map((r) => r.replace(/^\d+ /, ''))).toEqual(['a@x.io u2 0']);
      expect((await target.links()).slice(0, 1)).toEqual(['1 -> 1 (deleted)']);
    } finally {
      await target.sink.close();
      await target.drop();
    }
  }, 60_000);
}

it('Postgres: the owner of a holder is read after its lock, so a row adopted meanwhile is no foreign row', async () => {
  const target = await postgresTarget();
  const ev = positionedChanges();
  const other = new pg.Client({ connectionString: target.url, application_name: 'other-lane' });
  try {
    await target.sink.open();
    expect(await drain(target.sink, [[ev('c', 1n, 10n, { email: 'a@x.io' })]])).toEqual([]);
    await target.own('x@x.io', 'cms-own'); // uid 2
    // another lane adopts uid 2 for source row 2 at position 30, its transaction still open
    await other.connect();
    await other.query('BEGIN');
    await other.query("UPDATE fe_users SET login = 'u2' WHERE uid = 2");
    await other.query(
      `INSERT INTO fe_users_pgcdc_links (id, _pgcdc_target_key, _pgcdc_deleted, _pgcdc_lsn, _pgcdc_seq, _pgcdc_event_id)
       VALUES (2, '2', false, 30, 0, 'other')`,
    );
    // source row 1 takes x@x.io at 20 (before 30): it waits for the row's lock
    const pending = target.sink.apply([ev('u', 1n, 20n, { email: 'x@x.io' })]);
    await waitUntil(
      async () =>
        (
          await withClient(target.url, (c) =>
            c.query(
              "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgcdc-sink:%' AND wait_event_type = 'Lock'",
            ),
          )
        ).rowCount === 1,
      { what: 'the sink to wait for the lock of uid 2', timeoutMs: 30_000 },
    );
    await other.query('COMMIT');
    const r = await pending;
    // uid 2 is source row 2's, written from 30: row 1's event of 20 gives its email up
    expect([r.deadLetters, r.retryFrom, r.applied.length]).toEqual([[], undefined, 1]);
    expect(await target.rows()).toEqual(['1 null u1 0', '2 x@x.io u2 0']);
  } finally {
    await other.end().catch(() => undefined);
    await target.sink.close();
    await target.drop();
  }
}, 60_000);
