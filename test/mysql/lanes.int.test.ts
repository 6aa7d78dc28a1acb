// Two lanes of a mysql target (two sinks on one database, each its own connection, as
// consumers/group/lanes.ts runs them for `applyConnections` > 1) against the stack's MariaDB: a
// REAL deadlock between them (InnoDB picks a victim and rolls its whole transaction back) is
// retried, never thrown as a target failure and never dead-lettered, and both partitions end with
// the rows their events say. The deadlock is built, not hoped for: a third connection holds row 5,
// lane A inserts email X and waits for row 5, lane B inserts email Y and waits for A's X; when the
// holder lets go, A's update of row 5 to Y waits for B: a cycle, which InnoDB breaks at once.
// Each partition is driven as the consumer loop does (a batch, then its rest from `retryFrom` after
// a short growing delay). Once on the set-based path, once on the event-by-event path (a value
// MySQL cannot hold sends both batches there).
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { MysqlSink } from '../../consumers/mysql/sink.ts';
import type { ApplyResult, DecodedEvent } from '../../consumers/sink.ts';
import { MysqlTargetSchema } from '../../pipeline/config/mysql.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { backoffMs, sleep } from '../../pipeline/retry.ts';
import { loadContract } from '../../schemas/contract.ts';
import { TS_POS_INFINITY } from '../../schemas/values.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls } from '../support/index.ts';
import { waitUntil } from '../support/wait.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { freshMysqlDatabase, mysqlRows } from './support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

function sinkOn(url: string): MysqlSink {
  const cfg = MysqlTargetSchema.parse({ name: 'peer', type: 'mysql', url });
  // lock waits far longer than the test's own steps: the cycle must be a deadlock, not a timeout
  const sink = new MysqlSink(cfg, loadContract(), createLogger({ level: 'warn' }), {
    connectTimeoutMs: 5000,
    statementTimeoutMs: 120_000,
    lockTimeoutMs: 60_000,
  });
  cleanups.push(() => sink.close());
  return sink;
}

/** A partition's batches, each applied until done, resumed from retryFrom as the consumer loop does. */
async function drive(sink: MysqlSink, batches: DecodedEvent[][], results: ApplyResult[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (const batch of batches) {
    let rest = batch;
    for (let attempt = 1; rest.length > 0; attempt++) {
      if (Date.now() > deadline)
        throw new Error(`partition still waiting: ${JSON.stringify(results.at(-1)?.retryFrom)}`);
      const res = await sink.apply(rest);
      results.push(res);
      const from = res.retryFrom?.offset;
      rest = from === undefined ? [] : rest.filter((e) => e.offset >= from);
      if (rest.length > 0) await sleep(backoffMs(Math.min(attempt, 5), { initialMs: 20, maxMs: 500 }));
    }
  }
}

/**
 * The locks that transactions wait for on this database's tables, as `table.index` (sorted), read
 * from SHOW ENGINE INNODB STATUS, which InnoDB writes from its lock queues when asked.
 * Not information_schema.INNODB_TRX: that is a cache that InnoDB refreshes only when it has not
 * been read for 100 ms (trx0i_s.cc: every read restarts the 100 ms), so polling it every 50 ms
 * keeps the snapshot of the first poll, taken before lane A waited (state RUNNING), for as long
 * as the polling goes on; only a poll late by more than 50 ms (a loaded machine) refreshed it.
 */
async function lockWaits(admin: mysql.Connection, db: string): Promise<string[]> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SHOW ENGINE INNODB STATUS');
  const status = String(rows[0]!.Status);
  const waits: string[] = [];
  // each waiting transaction: "------- TRX HAS BEEN WAITING ... GRANTED:" then the lock it waits for
  for (const m of status.matchAll(/TRX HAS BEEN WAITING [^\n]*\n([^\n]*)/g)) {
    const lock = /index `?([^`\s]+)`? of table `([^`]+)`\.`([^`]+)`/.exec(m[1]!);
    if (lock && lock[2] === db) waits.push(`${lock[3]}.${lock[1]}`);
    else if (!lock && m[1]!.includes(`\`${db}\``)) waits.push(m[1]!); // a table lock: unexpected
  }
  return waits.sort();
}

/** Waits until exactly `expected` lock waits exist in `db` (the last ones seen are in the timeout error). */
async function untilWaits(
  admin: mysql.Connection,
  db: string,
  expected: string[],
  what: string,
  lanes: Promise<void>[],
): Promise<void> {
  let settled = false;
  for (const lane of lanes)
    lane.then(
      () => (settled = true),
      () => (settled = true),
    );
  await waitUntil(
    async () => {
      if (settled) return true; // a lane ended early: the awaits below report how
      const waits = await lockWaits(admin, db);
      if (JSON.stringify(waits) === JSON.stringify(expected)) return true;
      throw new Error(`lock waits seen: ${JSON.stringify(waits)}`);
    },
    { what, timeoutMs: 60_000, intervalMs: 50 },
  );
  if (!settled) return;
  await Promise.all(lanes); // a lane that failed reports its error here
  throw new Error(`a lane finished before ${what}`);
}

/** InnoDB's report of the latest deadlock it broke (empty when none since the server started). */
async function latestDeadlock(admin: mysql.Connection): Promise<string> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SHOW ENGINE INNODB STATUS');
  const status = String(rows[0]!.Status);
  const m = /LATEST DETECTED DEADLOCK\n-+\n([\s\S]*?)\n-{5,}\n/.exec(status);
  return m?.[1] ?? '';
}

async function deadlockBetweenLanes(prefix: string, viaEventByEvent: boolean) {
  const db = await freshMysqlDatabase(urls, prefix);
  cleanups.push(() => db.drop());
  const [a, b] = [sinkOn(db.url), sinkOn(db.url)];
  await a.open();
  await b.open();
  await mysqlRows(
    db.url,
    'ALTER TABLE users MODIFY email VARCHAR(320) NOT NULL, ADD UNIQUE KEY email_u (email)',
  );
  const ev = positionedChanges();
  await a.apply([ev('c', 5n, 10n, { email: 'e5@x.io' }), ev('c', 6n, 10n, { email: 'e6@x.io' })]);
  // Partition A (keys 1, 5) and partition B (keys 2, 6). Their first batches each take an email
  // (X, Y) and then move an existing row to the other's; their second batches release X and Y.
  const X = { email: 'x@x.io' };
  const Y = { email: 'y@x.io' };
  // a value MySQL cannot hold sends a batch event by event (it is dead-lettered, once)
  const bad = (id: bigint, lsn: bigint) => ev('c', id, lsn, { last_login_at: TS_POS_INFINITY });
  const partA = [
    [ev('c', 1n, 20n, X), ev('u', 5n, 40n, Y), ...(viaEventByEvent ? [bad(9n, 45n)] : [])],
    [ev('u', 1n, 60n, { email: 'x2@x.io' })],
  ];
  const partB = [
    [ev('c', 2n, 30n, Y), ev('u', 6n, 50n, X), ...(viaEventByEvent ? [bad(10n, 55n)] : [])],
    [ev('u', 2n, 70n, { email: 'y2@x.io' })],
  ];

  const admin = await mysql.createConnection({ uri: urls.mariadbAdminUrl });
  cleanups.push(() => admin.end());
  const holder = await mysql.createConnection({ uri: db.url });
  cleanups.push(() => holder.end());
  await holder.query('BEGIN');
  await holder.query('SELECT id FROM users WHERE id = 5 FOR UPDATE');

  const results: { a: ApplyResult[]; b: ApplyResult[] } = { a: [], b: [] };
  // A takes X (row 1's email) and waits for row 5, which the holder has (the users PRIMARY key)
  const laneA = drive(a, partA, results.a);
  await untilWaits(admin, db.name, ['users.PRIMARY'], 'lane A to hold X and wait for row 5', [laneA]);
  // B takes Y (row 2's email) and waits for A's X (moving row 6 to it: the email_u index)
  const laneB = drive(b, partB, results.b);
  await untilWaits(
    admin,
    db.name,
    ['users.PRIMARY', 'users.email_u'],
    "lane B to hold Y and wait for A's X",
    [laneA, laneB],
  );
  const before = await latestDeadlock(admin);
  await holder.query('ROLLBACK'); // A takes row 5 and asks for B's Y: the cycle
  await Promise.all([laneA, laneB]);

  const deadlock = await latestDeadlock(admin);
  expect(deadlock).not.toBe(before);
  expect(deadlock).toContain(`\`${db.name}\`.\`users\``);
  const all = [...results.a, ...results.b];
  expect(all.flatMap((r) => r.deadLetters.map((d) => d.reason))).toEqual(
    viaEventByEvent ? ['unrepresentable', 'unrepresentable'] : [],
  );
  const rows = await mysqlRows(db.url, 'SELECT id, email, _pgcdc_lsn AS lsn FROM users ORDER BY id');
  expect(rows.map((r) => [r.id, r.email, r.lsn])).toEqual([
    ['1', 'x2@x.io', '60'],
    ['2', 'y2@x.io', '70'],
    ['5', 'y@x.io', '40'],
    ['6', 'x@x.io', '50'],
  ]);
  return all;
}

describe('mysql lanes: a deadlock between two lanes', () => {
  it('on the set-based path: the victim goes event by event, both partitions end as their events say, no dead letters', async () => {
    await deadlockBetweenLanes('mylanes_fast', false);
  }, 300_000);

  it('on the event-by-event path: the victim is retried from its first event (lock-wait), nothing dead-lettered twice', async () => {
    const all = await deadlockBetweenLanes('mylanes_each', true);
    expect(all.some((r) => r.retryFrom?.reason === 'lock-wait' && r.applied.length === 0)).toBe(true);
  }, 300_000);
});
