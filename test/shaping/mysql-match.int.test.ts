// Match keys and soft deletes at a MariaDB target (issue 16), through the mapping decorator and the
// real sinks (consumers/mysql/match-sink.ts, soft.ts) against the stack's MariaDB, event by event
// with hand-placed source positions:
// - id-keyed, soft delete: a row leaving the filter and a source delete mark the row (the commit
//   time in deleted_at) and keep it; entering again, or an insert again, revives it in place; an
//   older event replayed after the delete changes nothing;
// - matched by email (case-insensitive collation), soft delete: the first event adopts the CMS's
//   twin (its uid kept); leaving the filter and a delete soft-delete; a re-inserted source row
//   revives its soft-deleted twin (same uid); an email swap converges through retries; a row the
//   CMS made itself is never touched (a source row wanting its email is dead-lettered as
//   match-conflict, a truncate leaves it); a soft-deleted row gives its email up to a live one.
import { expect, it } from 'vitest';
import { mappedSink } from '../../consumers/group/mapped-sink.ts';
import { MatchedMysqlSink, matchedMysqlTableOf } from '../../consumers/mysql/match-sink.ts';
import { MysqlSink } from '../../consumers/mysql/sink.ts';
import type { Sink } from '../../consumers/sink.ts';
import { MysqlTargetSchema } from '../../pipeline/config/mysql.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshMysqlDatabase, mysqlRows, withMysql } from '../mysql/support.ts';
import { stackUrls } from '../support/index.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { shapeOf } from '../unit/consumers/mapping/support.ts';

const TIMEOUTS = { connectTimeoutMs: 10_000, statementTimeoutMs: 60_000, lockTimeoutMs: 5_000 };
const logger = createLogger({ level: 'warn' });
type Ev = ReturnType<ReturnType<typeof positionedChanges>>;

function applier(sink: Sink) {
  return async (...events: Ev[]) => {
    const r = await sink.apply(events);
    expect([r.deadLetters, r.retryFrom]).toEqual([[], undefined]);
    expect(r.applied.length).toBe(events.length);
  };
}

it('id-keyed soft delete: leaving or deleting marks, entering or re-inserting revives, replays change nothing', async () => {
  const db = await freshMysqlDatabase(stackUrls(), 'my_soft');
  const mapping = {
    include: ['id', 'email', 'is_active'],
    filter: 'is_active',
    deletePolicy: 'soft',
    softDelete: { column: 'deleted_at' },
  };
  const target = MysqlTargetSchema.parse({ name: 'peer', type: 'mysql', url: db.url, mapping });
  const shape = shapeOf(mapping);
  const contract = { ...loadContract(), columns: shape.columns, keyColumns: shape.keyColumns };
  const sink = mappedSink(new MysqlSink(target, contract, logger, TIMEOUTS, shape.softDelete), shape);
  const ev = positionedChanges();
  const state = () =>
    mysqlRows(
      db.url,
      'SELECT CAST(id AS CHAR) AS id, email, CAST(deleted_at IS NOT NULL AS CHAR) AS deleted FROM users ORDER BY id',
    );
  try {
    await sink.open();
    const apply = applier(sink);
    await apply(ev('c', 1n, 10n, {}), ev('c', 2n, 11n, { is_active: false }));
    expect(await state()).toEqual([{ id: '1', email: 'u1@x.io', deleted: '0' }]); // 2 never written
    await apply(ev('u', 1n, 20n, { is_active: false }));
    expect(await state()).toEqual([{ id: '1', email: 'u1@x.io', deleted: '1' }]);
    const [mark] = await mysqlRows(
      db.url,
      "SELECT DATE_FORMAT(deleted_at, '%Y-%m-%d %H:%i:%s') AS t FROM users",
    );
    expect(mark?.t).toBe('1970-01-01 00:00:00'); // the commit time of the event (ts_us 0 in these events)
    await apply(ev('u', 1n, 30n, { is_active: true, email: 'back@x.io' }));
    expect(await state()).toEqual([{ id: '1', email: 'back@x.io', deleted: '0' }]);
    await apply(ev('d', 1n, 40n));
    expect(await state()).toEqual([{ id: '1', email: 'back@x.io', deleted: '1' }]);
    await apply(ev('u', 1n, 35n, { email: 'older@x.io' }), ev('c', 1n, 39n, {})); // older than the delete
    expect(await state()).toEqual([{ id: '1', email: 'back@x.io', deleted: '1' }]);
    await apply(ev('c', 1n, 50n, { email: 'again@x.io' }));
    expect(await state()).toEqual([{ id: '1', email: 'again@x.io', deleted: '0' }]);
  } finally {
    await sink.close();
    await db.drop();
  }
}, 60_000);

it('matched by email with soft delete: adopts the twin, revives it, converges swaps, never touches a foreign row', async () => {
  const db = await freshMysqlDatabase(stackUrls(), 'my_match');
  await withMysql(db.url, async (c) => {
    await c.query(`CREATE TABLE fe_users (uid INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL, login VARCHAR(255) NULL,
      is_active BOOLEAN NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE, UNIQUE KEY fe_users_email (email))
      ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await c.query(
      "INSERT INTO fe_users (email, login) VALUES ('twin@x.io', 'cms-twin'), ('foreign@cms.local', 'cms-only')",
    );
  });
  const mapping = {
    include: ['email', 'username', 'is_active'],
    rename: { username: 'login' },
    filter: 'is_active',
    match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
    deletePolicy: 'soft',
    softDelete: { column: 'deleted', type: 'boolean' },
  };
  const target = MysqlTargetSchema.parse({
    name: 'cms',
    type: 'mysql',
    url: db.url,
    table: 'fe_users',
    mapping,
  });
  const shape = shapeOf(mapping);
  const sink = mappedSink(
    new MatchedMysqlSink(target, matchedMysqlTableOf(target, shape), logger, TIMEOUTS),
    shape,
  );
  const ev = positionedChanges();
  const state = async () =>
    (
      await mysqlRows(
        db.url,
        'SELECT CAST(uid AS CHAR) AS uid, email, login, CAST(deleted AS CHAR) AS d FROM fe_users ORDER BY uid',
      )
    ).map((r) => [r.uid, r.email, r.login, r.d].map((v) => (v === null ? 'null' : (v as string))).join(' '));
  const FOREIGN = '2 foreign@cms.local cms-only 0';
  try {
    await sink.open();
    const apply = applier(sink);
    await apply(
      ev('c', 1n, 10n, { email: 'Twin@X.io' }),
      ev('c', 2n, 11n, {}),
      ev('c', 3n, 12n, { is_active: false }), // outside the filter: never written
    );
    expect(await state()).toEqual(['1 Twin@X.io u1 0', FOREIGN, '3 u2@x.io u2 0']); // uid 1 adopted
    await apply(ev('u', 1n, 20n, { is_active: false, email: 'Twin@X.io' }), ev('d', 2n, 21n));
    expect(await state()).toEqual(['1 Twin@X.io u1 1', FOREIGN, '3 u2@x.io u2 1']);
    await apply(ev('u', 2n, 15n, { email: 'older@x.io' }), ev('c', 1n, 19n, {})); // older: nothing
    expect(await state()).toEqual(['1 Twin@X.io u1 1', FOREIGN, '3 u2@x.io u2 1']);
    // re-inserted (2) and entering again (1): their soft-deleted twins revived, same uid
    await apply(ev('c', 2n, 30n, {}), ev('u', 1n, 31n, { email: 'Twin@X.io' }));
    expect(await state()).toEqual(['1 Twin@X.io u1 0', FOREIGN, '3 u2@x.io u2 0']);

    // an email swap in one source transaction, its events on two partitions, 2's arriving first
    const tmp = ev('u', 1n, 40n, { email: 'tmp-1' });
    const to2 = ev('u', 2n, 41n, { email: 'Twin@X.io' });
    const to1 = ev('u', 1n, 42n, { email: 'u2@x.io' });
    let r = await sink.apply([to2]); // Twin@X.io is still uid 1's, written earlier: wait
    expect([r.applied, r.retryFrom?.offset, r.deadLetters]).toEqual([[], to2.offset, []]);
    r = await sink.apply([tmp, to1]); // u2@x.io is still uid 3's: the prefix lands, then wait
    expect([r.applied.map((a) => a.offset), r.retryFrom?.offset]).toEqual([[tmp.offset], to1.offset]);
    await apply(to2);
    await apply(to1);
    expect(await state()).toEqual(['1 u2@x.io u1 0', FOREIGN, '3 Twin@X.io u2 0']);

    // the CMS's own row: a source row wanting its email is a conflict, never an update of it
    r = await sink.apply([ev('u', 2n, 50n, { email: 'FOREIGN@cms.local' })]);
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['match-conflict']);
    // a truncate soft-deletes the linked rows only
    await apply(ev('t', 0n, 60n));
    expect(await state()).toEqual(['1 u2@x.io u1 1', FOREIGN, '3 Twin@X.io u2 1']);
    await apply(ev('c', 2n, 70n, { email: 'Twin@X.io' })); // revived after the truncate
    // a soft-deleted row gives its email up to a live source row that holds it
    await apply(ev('c', 5n, 80n, { email: 'u2@x.io' }));
    const rows = await state();
    expect(rows.slice(0, 3)).toEqual(['1 null u1 1', FOREIGN, '3 Twin@X.io u2 0']);
    expect(rows.slice(3).map((x) => x.replace(/^\d+ /, ''))).toEqual(['u2@x.io u5 0']);
    const links = await mysqlRows(
      db.url,
      'SELECT CAST(id AS CHAR) AS id, CAST(_pgcdc_target_key AS CHAR) AS uid, CAST(_pgcdc_deleted AS CHAR) AS d FROM fe_users_pgcdc_links ORDER BY id',
    );
    expect(links.slice(0, 2)).toEqual([
      { id: '1', uid: '1', d: '1' },
      { id: '2', uid: '3', d: '0' },
    ]);
  } finally {
    await sink.close();
    await db.drop();
  }
}, 60_000);
