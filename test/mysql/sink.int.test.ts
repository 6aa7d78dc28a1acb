// The mysql sink against the stack's MariaDB, fed decoded events directly: position-guarded and
// idempotent (a replay or a redelivery never moves a row backwards), delete markers and the
// truncate mark keep older upserts out, partial (TOAST-unchanged) updates, secondary unique keys
// (a new row never overwrites the row holding its email; a superseded state is skipped), and rows
// the target refuses dead-lettered with the error while the rest of the batch applies.
import { describe, expect, it } from 'vitest';
import { MysqlSink } from '../../consumers/mysql/sink.ts';
import { MysqlTargetSchema } from '../../pipeline/config/mysql.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract } from '../../schemas/contract.ts';
import { TS_POS_INFINITY } from '../../schemas/values.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls } from '../support/index.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { freshMysqlDatabase, mysqlRows } from './support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

async function sinkOn(prefix: string, target: Record<string, unknown> = {}) {
  const db = await freshMysqlDatabase(urls, prefix);
  cleanups.push(() => db.drop());
  const cfg = MysqlTargetSchema.parse({ name: 'peer', type: 'mysql', url: db.url, ...target });
  const sink = new MysqlSink(cfg, loadContract(), createLogger({ level: 'warn' }), {
    connectTimeoutMs: 5000,
    statementTimeoutMs: 20_000,
    lockTimeoutMs: 5000,
  });
  cleanups.push(() => sink.close());
  await sink.open();
  const rows = async () =>
    (
      await mysqlRows(db.url, 'SELECT id, email, username, bio, _pgcdc_lsn AS lsn FROM users ORDER BY id')
    ).map((r) => ({ ...r }));
  return { db, sink, rows };
}

describe('mysql sink: positions', () => {
  it('a redelivered or replayed older event never moves a row backwards; seq orders one commit', async () => {
    const { sink, rows } = await sinkOn('mysink_pos');
    const ev = positionedChanges();
    await sink.apply([ev('c', 1n, 10n, { bio: 'v10' }), ev('c', 2n, 10n, { bio: 'b10' })]);
    await sink.apply([ev('u', 1n, 30n, { bio: 'v30' })]);
    // replays of older positions, alone and mixed with a newer one of another key
    const res = await sink.apply([ev('u', 1n, 20n, { bio: 'v20' }), ev('u', 2n, 40n, { bio: 'b40' })]);
    expect([res.applied.length, res.deadLetters.length]).toEqual([2, 0]);
    await sink.apply([ev('u', 1n, 10n, { bio: 'v10' })]);
    expect(await rows()).toMatchObject([
      { id: '1', bio: 'v30', lsn: '30' },
      { id: '2', bio: 'b40', lsn: '40' },
    ]);
    // same commit, later seq wins; an earlier seq of that commit does not
    const later = ev('u', 1n, 50n, { bio: 'seq2' });
    later.event.source.seq = 2n;
    const earlier = ev('u', 1n, 50n, { bio: 'seq1' });
    earlier.event.source.seq = 1n;
    await sink.apply([later]);
    await sink.apply([earlier]);
    expect((await rows())[0]).toMatchObject({ bio: 'seq2', lsn: '50' });
  });

  it('a delete leaves a marker that keeps older upserts out; a newer insert comes back', async () => {
    const { sink, rows, db } = await sinkOn('mysink_del');
    const ev = positionedChanges();
    await sink.apply([ev('c', 1n, 10n, {}), ev('c', 2n, 10n, {})]);
    await sink.apply([ev('d', 1n, 20n)]);
    await sink.apply([ev('u', 1n, 15n, { bio: 'stale' })]); // redriven/replayed older update
    expect((await rows()).map((r) => r.id)).toEqual(['2']);
    expect(await mysqlRows(db.url, 'SELECT id, _pgcdc_lsn AS lsn FROM users_pgcdc_deleted')).toMatchObject([
      { id: '1', lsn: '20' },
    ]);
    await sink.apply([ev('c', 1n, 25n, { bio: 'back' })]);
    expect((await rows()).map((r) => [r.id, r.bio])).toEqual([
      ['1', 'back'],
      ['2', null],
    ]);
    // an older delete does not remove the newer row
    await sink.apply([ev('d', 1n, 22n)]);
    expect((await rows()).length).toBe(2);
  });

  it('a truncate removes the rows older than it and keeps older events out', async () => {
    const { sink, rows } = await sinkOn('mysink_trunc');
    const ev = positionedChanges();
    await sink.apply([ev('c', 1n, 10n, {}), ev('c', 2n, 30n, {})]);
    await sink.apply([ev('t', 0n, 20n)]);
    expect((await rows()).map((r) => r.id)).toEqual(['2']);
    await sink.apply([ev('u', 1n, 15n, {}), ev('c', 3n, 25n, {})]);
    expect((await rows()).map((r) => r.id)).toEqual(['2', '3']);
  });

  it('a batch mixing a truncate, upserts, partial updates and deletes: one transaction in two round trips', async () => {
    const { db, sink, rows } = await sinkOn('mysink_mixed');
    const ev = positionedChanges();
    const conn = (sink as unknown as { conn: { query: (...a: unknown[]) => unknown } }).conn;
    const query = conn.query.bind(conn);
    let roundTrips = 0;
    conn.query = (...a: unknown[]) => (roundTrips++, query(...a));
    const applied = async (events: ReturnType<typeof ev>[]) => {
      roundTrips = 0;
      const res = await sink.apply(events);
      expect([res.applied.length, res.deadLetters.length, res.retryFrom]).toEqual([
        events.length,
        0,
        undefined,
      ]);
      return roundTrips;
    };
    // upserts and deletes: reads, then the writes with the commit
    expect(await applied([1n, 2n, 3n, 4n, 5n].map((id) => ev('c', id, 10n, { bio: `bio ${id}` })))).toBe(2);
    // with partial updates: reads (their rows too, locked), then the writes with the commit
    const partial = (id: bigint, lsn: bigint) =>
      ev('u', id, lsn, { bio: '', username: `${id}-${lsn}` }, ['bio']);
    expect(await applied([ev('c', 6n, 11n, {}), partial(1n, 12n), partial(2n, 12n), ev('d', 5n, 13n)])).toBe(
      2,
    );
    // a truncate at 21 in the middle goes first; 3's partial update at 20 finds no row (truncated
    // later: fine, still two round trips), 7 at 19 stays out, 4's update at 23 and 8 at 22 land, 2
    // is deleted at 24
    const afterTruncate = await applied([
      ev('c', 8n, 22n, {}),
      partial(3n, 20n),
      ev('t', 0n, 21n),
      ev('c', 7n, 19n, {}),
      ev('u', 4n, 23n, { bio: 'four' }),
      ev('d', 2n, 24n),
    ]);
    expect(afterTruncate).toBe(2);
    expect((await rows()).map((r) => [r.id, r.bio, r.lsn])).toEqual([
      ['4', 'four', '23'],
      ['8', null, '22'],
    ]);
    const markers = await mysqlRows(
      db.url,
      'SELECT id, _pgcdc_lsn AS lsn FROM users_pgcdc_deleted ORDER BY id',
    );
    expect(markers.map((m) => [m.id, m.lsn])).toEqual([['2', '24']]);
    const [mark] = await mysqlRows(db.url, 'SELECT _pgcdc_lsn AS lsn FROM users_pgcdc_truncated');
    expect(mark!.lsn).toBe('21');
  });

  it('an update without its unchanged TOAST columns keeps the target values; a missing row is dead-lettered', async () => {
    const { sink, rows } = await sinkOn('mysink_toast');
    const ev = positionedChanges();
    await sink.apply([ev('c', 1n, 10n, { bio: 'long bio' })]);
    await sink.apply([ev('u', 1n, 20n, { bio: '', username: 'renamed' }, ['bio'])]);
    expect((await rows())[0]).toMatchObject({ username: 'renamed', bio: 'long bio', lsn: '20' });
    const res = await sink.apply([ev('u', 9n, 30n, { bio: '' }, ['bio']), ev('c', 2n, 30n, {})]);
    expect(res.deadLetters.map((d) => [d.offset, d.reason])).toEqual([
      [res.deadLetters[0]!.offset, 'missing-row'],
    ]);
    expect((await rows()).map((r) => r.id)).toEqual(['1', '2']);
  });

  it('partial updates of many keys in one batch: newer rows and later-deleted keys kept, only a missing row dead-lettered', async () => {
    const { sink, rows } = await sinkOn('mysink_toast_many');
    const ev = positionedChanges();
    await sink.apply([1n, 2n, 3n, 4n].map((id) => ev('c', id, 10n, { bio: `bio ${id}` })));
    await sink.apply([ev('u', 2n, 40n, { bio: 'newer', username: 'two-40' })]);
    await sink.apply([ev('d', 4n, 50n)]);
    const partial = (id: bigint, lsn: bigint) =>
      ev('u', id, lsn, { bio: '', username: `${id}-${lsn}` }, ['bio']);
    // one set of unchanged columns: one statement; 2 is newer at the target, 4 was deleted later
    const ok = await sink.apply([partial(1n, 20n), partial(2n, 20n), partial(3n, 20n), partial(4n, 20n)]);
    expect([ok.applied.length, ok.deadLetters.length]).toEqual([4, 0]);
    expect((await rows()).map((r) => [r.id, r.username, r.bio, r.lsn])).toEqual([
      ['1', '1-20', 'bio 1', '20'],
      ['2', 'two-40', 'newer', '40'],
      ['3', '3-20', 'bio 3', '20'],
    ]);
    // a missing key among them: only it is dead-lettered, the others land
    const res = await sink.apply([partial(1n, 30n), partial(9n, 30n), partial(3n, 30n)]);
    expect(res.deadLetters.map((d) => d.reason)).toEqual(['missing-row']);
    expect(res.deadLetters[0]!.error).toContain('"9"');
    expect((await rows()).map((r) => [r.id, r.username, r.lsn])).toEqual([
      ['1', '1-30', '30'],
      ['2', 'two-40', '40'],
      ['3', '3-30', '30'],
    ]);
  });

  it('a primary-key change (delete of the old key, insert of the new) moves the row', async () => {
    const { sink, rows } = await sinkOn('mysink_pk');
    const ev = positionedChanges();
    await sink.apply([ev('c', 1n, 10n, { email: 'a@x.io' })]);
    await sink.apply([ev('d', 1n, 20n), ev('c', 7n, 20n, { email: 'a@x.io' })]);
    expect((await rows()).map((r) => [r.id, r.email])).toEqual([['7', 'a@x.io']]);
  });
});

describe('mysql sink: refused rows and unique keys', () => {
  it('dead-letters what the target refuses (CHECK, too long, out of range, unrepresentable) and applies the rest', async () => {
    const { sink, rows, db } = await sinkOn('mysink_reject');
    await mysqlRows(
      db.url,
      "ALTER TABLE users MODIFY username VARCHAR(8) NOT NULL, ADD CONSTRAINT no_bad CHECK (bio IS NULL OR bio <> 'bad')",
    );
    const ev = positionedChanges();
    const res = await sink.apply([
      ev('c', 1n, 10n, {}),
      ev('c', 2n, 10n, { bio: 'bad' }),
      ev('c', 3n, 10n, { username: 'much-too-long-for-eight' }),
      ev('c', 4n, 10n, { balance: '12345678901234.5' }),
      ev('c', 5n, 10n, { last_login_at: TS_POS_INFINITY }),
      ev('c', 6n, 10n, { last_login_at: -62_000_000_000_000_000n }),
      ev('c', 7n, 10n, { bio: '🐘 4-byte' }),
    ]);
    const why = Object.fromEntries(res.deadLetters.map((d) => [String(d.offset), `${d.reason}: ${d.error}`]));
    expect(Object.keys(why)).toEqual(['2', '3', '4', '5', '6']);
    expect(why['2']).toMatch(/rejected: .*(CONSTRAINT|check)/i);
    expect(why['3']).toMatch(/rejected: .*too long/i);
    expect(why['4']).toMatch(/rejected: .*out of range/i);
    expect(why['5']).toMatch(/unrepresentable: column last_login_at: timestamptz infinity has no DATETIME/);
    expect(why['6']).toMatch(/unrepresentable: .*outside DATETIME's range/);
    expect((await rows()).map((r) => [r.id, r.bio])).toEqual([
      ['1', null],
      ['7', '🐘 4-byte'],
    ]);
  });

  it("a new row never overwrites the row holding its email; it waits (retryFrom) until the holder's later change lands", async () => {
    const { sink, rows, db } = await sinkOn('mysink_uniq');
    await mysqlRows(
      db.url,
      'ALTER TABLE users MODIFY email VARCHAR(320) NOT NULL, ADD UNIQUE KEY email_u (email)',
    );
    const ev = positionedChanges();
    await sink.apply([ev('c', 1n, 10n, { email: 'a@x.io' })]);
    // user 2 takes a@x.io at lsn 30 after user 1 gave it up at lsn 20 (another partition, behind)
    const blocked = await sink.apply([ev('c', 2n, 30n, { email: 'a@x.io' })]);
    expect(blocked.retryFrom?.reason).toBe('secondary-unique');
    expect((await rows()).map((r) => [r.id, r.email])).toEqual([['1', 'a@x.io']]);
    await sink.apply([ev('u', 1n, 20n, { email: 'other@x.io' })]);
    const after = await sink.apply([ev('c', 2n, 30n, { email: 'a@x.io' })]);
    expect([after.retryFrom, after.deadLetters.length]).toEqual([undefined, 0]);
    expect((await rows()).map((r) => [r.id, r.email])).toEqual([
      ['1', 'other@x.io'],
      ['2', 'a@x.io'],
    ]);
  });

  it('a change whose email a later change of another row holds is skipped, not retried', async () => {
    const { sink, rows, db } = await sinkOn('mysink_holder');
    await mysqlRows(
      db.url,
      'ALTER TABLE users MODIFY email VARCHAR(320) NOT NULL, ADD UNIQUE KEY email_u (email)',
    );
    const ev = positionedChanges();
    await sink.apply([ev('c', 1n, 10n, { email: 'a@x.io' }), ev('c', 2n, 11n, { email: 'b@x.io' })]);
    expect((await sink.apply([ev('u', 2n, 30n, { email: 'x@x.io' })])).retryFrom).toBeUndefined();
    const res = await sink.apply([ev('u', 1n, 20n, { email: 'x@x.io' })]);
    expect([res.retryFrom, res.applied.length, res.deadLetters.length]).toEqual([undefined, 1, 0]);
    expect((await rows()).map((r) => [r.id, r.email])).toEqual([
      ['1', 'a@x.io'],
      ['2', 'x@x.io'],
    ]);
  });
});
