// Hostile values through every statement the MySQL sink sends (several per round trip:
// multipleStatements), on the stack's MariaDB: quotes, backslashes, statement and comment
// delimiters, NUL and ^Z, 4-byte UTF-8, long strings, JSON with quotes, every byte value, in key
// and data columns, through the set-based path (multi-row upsert over new and existing rows,
// partial updates many and one, deletes with their markers, the reads of markers and of the
// truncate mark, the missing-row look-up) and the per-event path (each of those one by one, a
// refused row, the unique-key holder look-up). The target must hold exactly the values (compared
// as hex by queries that take no values) and nothing else may have run (a canary table, the
// database's tables, the markers). Run with the session as the sink sets it, with
// NO_BACKSLASH_ESCAPES forced on the sink's session (where mysql2's own backslash escaping would
// let a value end its string), and with NO_BACKSLASH_ESCAPES as the server's default, where
// `pgcdc check` warns and every pgcdc connection still reads each value back exactly.
import type mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { modeSafeFormat } from '../../consumers/mysql/literals.ts';
import { connectMysql } from '../../consumers/mysql/setup.ts';
import { MysqlSink } from '../../consumers/mysql/sink.ts';
import type { DecodedEvent } from '../../consumers/sink.ts';
import { checkMysqlTarget } from '../../ops/check/mysql.ts';
import { withMysqlTarget } from '../../ops/reconcile/mysql.ts';
import { MysqlTargetSchema } from '../../pipeline/config/mysql.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract, type ColumnSpec, type Row, type TableContract } from '../../schemas/contract.ts';
import type { PgType } from '../../schemas/types.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls } from '../support/index.ts';
import { changeEvent } from '../unit/support/events.ts';
import { freshMysqlDatabase, mysqlRows, withMysql } from './support.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

const HOSTILE = [
  "'",
  "''",
  '"',
  '\\',
  '\\\\',
  "\\'",
  "\\\\'",
  '\\"',
  "x'; DROP TABLE canary; -- ",
  "x\\'; DROP TABLE canary; -- ",
  "x')); DROP TABLE canary; -- ",
  "'); DELETE FROM canary; #",
  '*/; DELETE FROM canary; /*',
  '/* open comment',
  '-- dash',
  '# hash',
  ';',
  "'; UPDATE canary SET v = 'pwned'; SELECT '",
  '\0',
  'nul\0in\0middle\0',
  '\x1a',
  '\\Z\x1a\\0',
  '\b\t\n\r',
  '%_\\%\\_',
  '?',
  '??',
  '`tick`',
  '$1 :name @var',
  "🐘𝔘 4-byte ' \\ 😀",
  'trailing space ',
  '\u2028\u2029\uFEFF',
];
const N = HOSTILE.length;
const h = (i: number) => HOSTILE[i % N]!;
/** about 1.3 MB of quotes, backslashes, delimiters and 4-byte characters */
const LONG = `'\\"; -- /* ?\0🐘`.repeat(100_000);
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const col = (name: string, pgType: PgType, sqlType: string = pgType): ColumnSpec => ({
  name,
  pgType,
  sqlType,
  nullable: !['n', 'k'].includes(name),
});
const CONTRACT = {
  ...loadContract(),
  columns: [
    col('n', 'bigint'),
    col('k', 'varchar', 'varchar(100)'),
    col('s', 'text'),
    col('u', 'text'),
    col('j', 'jsonb'),
    col('b', 'bytea'),
    col('arr', 'text[]'),
    col('email', 'varchar', 'varchar(255)'),
    col('v', 'varchar', 'varchar(8)'),
  ],
  keyColumns: ['n', 'k'],
} satisfies TableContract;

/** Row i's values (shifted by `shift` for a later version of the row). */
function rowOf(n: number, k: string, shift = 0): Row {
  const i = n + shift;
  return {
    n: BigInt(n),
    k,
    s: h(i + 1),
    u: h(i + 2),
    j: JSON.stringify({ q: h(i), list: [h(i + 3), null, 1.5], "k'ey\\": h(i + 4) }),
    b: i % 7 === 0 ? ALL_BYTES : Buffer.concat([Buffer.from(h(i)), Buffer.from([0, 0x27, 0x5c, 0x1a, 0xff])]),
    arr: [h(i), null, h(i + 5)],
    email: `${h(i)}@${n}.${shift}`,
    v: null,
  };
}

/** Events at explicit positions, offsets counting from 1. */
function events() {
  let offset = 0n;
  return (op: 'c' | 'u' | 'd', row: Row, lsn: number, unchanged: string[] = []): DecodedEvent => ({
    offset: ++offset,
    key: { n: row.n!, k: row.k! },
    event: changeEvent({
      op,
      after: op === 'd' ? null : row,
      unchanged,
      source: { table: 'hostile', lsn: BigInt(lsn), commit_lsn: BigInt(lsn) },
      event_id: `${op}-${String(row.n)}-${lsn}`,
    }),
  });
}

const hex = (v: unknown) =>
  v === null || v === undefined
    ? null
    : (Buffer.isBuffer(v) ? v : Buffer.from(v as string, 'utf8')).toString('hex').toUpperCase();

/** What the table must hold, as the verification query returns it. */
class Model {
  readonly rows = new Map<number, Row>();
  readonly deleted = new Set<number>();
  put(r: Row) {
    this.rows.set(Number(r.n), { ...r });
    this.deleted.delete(Number(r.n));
  }
  patch(r: Row, unchanged: string[]) {
    const old = this.rows.get(Number(r.n))!;
    this.rows.set(Number(r.n), { ...r, ...Object.fromEntries(unchanged.map((c) => [c, old[c] ?? null])) });
  }
  del(r: Row) {
    this.rows.delete(Number(r.n));
    this.deleted.add(Number(r.n));
  }
  expected() {
    return [...this.rows.values()]
      .sort((a, b) => Number(a.n) - Number(b.n))
      .map((r) => ({
        n: String(r.n),
        k: hex(r.k),
        s: hex(r.s),
        u: hex(r.u),
        b: hex(r.b),
        email: hex(r.email),
        v: hex(r.v),
        j: JSON.parse(String(r.j)) as unknown,
        arr: r.arr,
      }));
  }
}

/** The target's rows by queries that take no values: text as hex, JSON parsed. */
async function actual(url: string) {
  const rows = await mysqlRows(
    url,
    'SELECT n, HEX(k) AS k, HEX(s) AS s, HEX(u) AS u, HEX(b) AS b, HEX(email) AS email, HEX(v) AS v, ' +
      'CAST(j AS CHAR) AS j, CAST(arr AS CHAR) AS arr FROM hostile ORDER BY n',
  );
  return rows.map((r) => ({
    ...r,
    n: r.n as string,
    j: JSON.parse(r.j as string) as unknown,
    arr: JSON.parse(r.arr as string) as unknown,
  }));
}

type Mode = 'session' | 'forced' | 'server';

async function sinkOn(mode: Mode) {
  const db = await freshMysqlDatabase(urls, `myesc_${mode}`);
  cleanups.push(() => db.drop());
  await mysqlRows(db.url, 'CREATE TABLE canary (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)');
  await mysqlRows(db.url, "INSERT INTO canary VALUES (1, 'untouched')");
  const cfg = MysqlTargetSchema.parse({ name: 'peer', type: 'mysql', url: db.url, table: 'hostile' });
  const sink = new MysqlSink(cfg, CONTRACT, createLogger({ level: 'warn' }), {
    connectTimeoutMs: 5000,
    statementTimeoutMs: 60_000,
    lockTimeoutMs: 5000,
  });
  cleanups.push(() => sink.close());
  await sink.open();
  const conn = () => (sink as unknown as { conn: mysql.Connection }).conn;
  if (mode === 'forced')
    await conn().query("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES')");
  return { db, cfg, sink, conn };
}

/** NO_BACKSLASH_ESCAPES as the server's default for the connections opened in this test. */
async function serverDefaultNoBackslashEscapes() {
  const [was] = await mysqlRows(urls.mariadbAdminUrl, 'SELECT @@GLOBAL.sql_mode AS m');
  cleanups.push(() =>
    withMysql(urls.mariadbAdminUrl, (c) => c.query(`SET GLOBAL sql_mode = '${was!.m as string}'`)),
  );
  await mysqlRows(
    urls.mariadbAdminUrl,
    "SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')",
  );
}

async function sessionMode(c: mysql.Connection): Promise<string> {
  const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@SESSION.sql_mode AS m');
  return String(rows[0]!.m);
}

describe.each<Mode>(['session', 'forced', 'server'])(
  'mysql sink: hostile values in every statement (sql_mode: %s)',
  (mode) => {
    it('the target holds exactly the values, and nothing else ran', async () => {
      if (mode === 'server') await serverDefaultNoBackslashEscapes();
      const { db, sink, conn } = await sinkOn(mode);
      expect((await sessionMode(conn())).includes('NO_BACKSLASH_ESCAPES')).toBe(mode === 'forced');
      const ev = events();
      const m = new Model();
      const check = async () => {
        expect(await actual(db.url)).toEqual(m.expected());
        const markers = await mysqlRows(
          db.url,
          'SELECT n, HEX(k) AS k FROM hostile_pgcdc_deleted ORDER BY n',
        );
        expect(markers).toEqual(
          [...m.deleted].sort((a, b) => a - b).map((n) => ({ n: String(n), k: hex(h(n)) })),
        );
        expect(await mysqlRows(db.url, 'SELECT id, v FROM canary')).toEqual([{ id: 1, v: 'untouched' }]);
        const tables = await mysqlRows(
          db.url,
          'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1',
        );
        expect(tables.map((t) => t.t)).toEqual([
          'canary',
          'hostile',
          'hostile_pgcdc_deleted',
          'hostile_pgcdc_truncated',
        ]);
      };
      const applied = async (batch: DecodedEvent[], dead: [bigint, string][] = []) => {
        const res = await sink.apply(batch);
        expect(res.retryFrom).toBeUndefined();
        expect(res.deadLetters.map((d) => [d.offset, d.reason])).toEqual(dead);
        expect(res.applied.length).toBe(batch.length - dead.length);
      };

      // 1. set-based inserts: every hostile value as key and data, and a long row
      const first = HOSTILE.map((k, n) => rowOf(n, k));
      const long = { ...rowOf(1000, LONG.slice(0, 100)), s: LONG, u: `${LONG}\\` };
      await applied([...first, long].map((r) => ev('c', r, 10)));
      [...first, long].forEach((r) => m.put(r));
      await check();

      // 2. set-based: upserts over existing rows, partial updates (many: CASE; one), deletes and
      // their markers, new rows
      const batch2: DecodedEvent[] = [];
      for (let n = 0; n < 5; n++) batch2.push(ev('u', rowOf(n, h(n), 7), 20));
      for (let n = 5; n < 12; n++) batch2.push(ev('u', rowOf(n, h(n), 3), 20, ['u']));
      batch2.push(ev('u', rowOf(12, h(12), 3), 20, ['u', 'j']));
      for (let n = 13; n < 18; n++) batch2.push(ev('d', rowOf(n, h(n)), 20));
      for (let n = N; n < N + 3; n++) batch2.push(ev('c', rowOf(n, h(n + 11)), 20));
      await applied(batch2);
      for (let n = 0; n < 5; n++) m.put(rowOf(n, h(n), 7));
      for (let n = 5; n < 12; n++) m.patch(rowOf(n, h(n), 3), ['u']);
      m.patch(rowOf(12, h(12), 3), ['u', 'j']);
      for (let n = 13; n < 18; n++) m.del(rowOf(n, h(n)));
      for (let n = N; n < N + 3; n++) m.put(rowOf(n, h(n + 11)));
      m.deleted.forEach((n) => expect(n).toBeLessThan(N)); // markers keyed h(n)
      await check();

      // 3. set-based reads by hostile keys: a partial update of a key deleted later (the missing-row
      // look-up finds its marker), an older upsert of a deleted key (kept out by its marker)
      await applied([
        ev('u', rowOf(13, h(13), 9), 15, ['u']),
        ev('c', rowOf(14, h(14), 9), 15),
        ev('u', rowOf(0, h(0), 8), 25),
      ]);
      m.put(rowOf(0, h(0), 8));
      await check();

      // 4. per event (a refused row sends the batch there): upsert, refused upsert, partial update,
      // delete and marker, an older upsert of a deleted key, a partial update of a missing key
      const refused = { ...rowOf(2, h(2), 5), v: "too ' \\ long for eight" };
      const missing = rowOf(999, "'; DROP TABLE canary; -- ", 1);
      const batch4 = [
        ev('u', rowOf(1, h(1), 5), 30),
        ev('u', refused, 30),
        ev('u', rowOf(5, h(5), 5), 30, ['u']),
        ev('d', rowOf(6, h(6)), 30),
        ev('c', rowOf(15, h(15), 5), 16),
        ev('u', missing, 30, ['u']),
        ev('c', rowOf(N + 10, h(N + 10)), 30),
      ];
      await applied(batch4, [
        [batch4[1]!.offset, 'rejected'],
        [batch4[5]!.offset, 'missing-row'],
      ]);
      m.put(rowOf(1, h(1), 5));
      m.patch(rowOf(5, h(5), 5), ['u']);
      m.del(rowOf(6, h(6)));
      m.put(rowOf(N + 10, h(N + 10)));
      await check();

      // 5. the unique-key holder look-up with hostile emails: a new row whose email an older row
      // holds waits (retryFrom); a change whose email a later row holds is skipped
      await mysqlRows(db.url, 'ALTER TABLE hostile ADD UNIQUE KEY email_u (email)');
      const taker = { ...rowOf(N + 20, h(N + 20)), email: m.rows.get(3)!.email! };
      const waits = ev('c', taker, 40);
      const res = await sink.apply([waits]);
      expect([res.retryFrom?.offset, res.retryFrom?.reason, res.applied.length]).toEqual([
        waits.offset,
        'secondary-unique',
        0,
      ]);
      const skipped = ev('u', { ...rowOf(4, h(4), 7), email: m.rows.get(1)!.email! }, 25);
      await applied([skipped]);
      await check();
      expect((await sessionMode(conn())).includes('NO_BACKSLASH_ESCAPES')).toBe(mode === 'forced');
    }, 240_000);
  },
);

describe('NO_BACKSLASH_ESCAPES as the server default', () => {
  it("mysql2's own escaping is read differently there; every pgcdc connection reads each value back exactly, and check warns", async () => {
    await serverDefaultNoBackslashEscapes();
    const db = await freshMysqlDatabase(urls, 'myesc_conns');
    cleanups.push(() => db.drop());
    const cfg = MysqlTargetSchema.parse({ name: 'peer', type: 'mysql', url: db.url });
    const values = [...HOSTILE, LONG];
    const readBack = async (c: mysql.Connection) => {
      const out: (string | null)[] = [];
      for (const v of values) {
        try {
          const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT HEX(?) AS h', [v]);
          out.push(String(rows[0]!.h));
        } catch {
          out.push(null);
        }
      }
      return out;
    };
    const want = values.map(hex);

    // mysql2 as it comes: backslash escapes, read as plain characters in this mode
    const plain = await withMysql(db.url, async (c) => {
      expect(await sessionMode(c)).toContain('NO_BACKSLASH_ESCAPES');
      return readBack(c);
    });
    expect(plain.filter((x, i) => x !== want[i]).length).toBeGreaterThan(0);
    // the sink's connection (before its session settings) and reconcile's
    const sinkConn = await connectMysql(cfg, 5000);
    try {
      expect(await sessionMode(sinkConn)).toContain('NO_BACKSLASH_ESCAPES');
      expect(await readBack(sinkConn)).toEqual(want);
    } finally {
      await sinkConn.end();
    }
    await withMysqlTarget(cfg, 5000, async (c) => {
      expect(await sessionMode(c)).toContain('NO_BACKSLASH_ESCAPES');
      expect(await readBack(c)).toEqual(want);
    });
    // the formatted text itself reads the same in the default mode too
    await withMysql(urls.mariadbAdminUrl, async (c) => {
      await c.query("SET SESSION sql_mode = 'STRICT_ALL_TABLES'");
      for (const [i, v] of values.entries()) {
        const [rows] = await c.query<mysql.RowDataPacket[]>(modeSafeFormat('SELECT HEX(?) AS h', [v]));
        expect(String(rows[0]!.h), `value ${i}`).toBe(want[i]);
      }
    });

    const results = await checkMysqlTarget(cfg, loadContract());
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));
    expect(byId['target.peer.sql_mode.backslashes']).toMatchObject({ level: 'WARN' });
    expect(byId['target.peer.sql_mode.backslashes']!.message).toMatch(/NO_BACKSLASH_ESCAPES/);
    // the rest of the check runs as before in this mode (its queries take quoted values)
    expect(byId['target.peer.privileges']).toMatchObject({ level: 'OK' });
  }, 120_000);
});
