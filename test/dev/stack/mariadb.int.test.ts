// The stack's MariaDB (dev/stack/mariadb.ts) is what mysql targets are tested against: up on
// loopback, strict sql_mode, utf8mb4 (a 4-byte character survives), UTC, and stopped and started
// again by pid with its data kept.
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { mariadbPid, mariadbReady, startMariadb, stopMariadb } from '../../../dev/stack/mariadb.ts';
import { stackSettingsFromEnv } from '../../../dev/stack/settings.ts';
import { stackUrls, waitUntil } from '../../support/index.ts';

const urls = stackUrls();

async function withMysql<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ uri: urls.mysqlPeerUrl });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('mariadb in the stack', () => {
  it('runs strict, in UTC, with utf8mb4, bound to loopback', async () => {
    const [rows] = await withMysql((c) =>
      c.query<mysql.RowDataPacket[]>(
        'SELECT @@sql_mode AS mode, @@time_zone AS tz, @@character_set_server AS cs, @@bind_address AS bind, DATABASE() AS db',
      ),
    );
    const r = rows[0]!;
    expect(String(r.mode).split(',')).toEqual(
      expect.arrayContaining(['STRICT_TRANS_TABLES', 'STRICT_ALL_TABLES']),
    );
    expect(r).toMatchObject({ tz: '+00:00', cs: 'utf8mb4', bind: '127.0.0.1', db: 'pgcdc_peer' });
  });

  it('keeps a 4-byte UTF-8 character', async () => {
    const text = 'emoji 🐘 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢';
    const [rows] = await withMysql(async (c) => {
      await c.query('CREATE TEMPORARY TABLE t (v TEXT) CHARACTER SET utf8mb4');
      await c.query('INSERT INTO t VALUES (?)', [text]);
      return c.query<mysql.RowDataPacket[]>('SELECT v FROM t');
    });
    expect(rows[0]?.v).toBe(text);
  });

  it('stops by its pid and starts again with its data', async () => {
    const s = stackSettingsFromEnv(process.env);
    const table = `keep_${Date.now()}`;
    await withMysql((c) => c.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`));
    await stopMariadb(s);
    expect(mariadbPid(s)).toBeUndefined();
    expect(await mariadbReady(s)).toBe(false);
    await startMariadb(s, () => undefined);
    await waitUntil(() => mariadbReady(s), { what: 'mariadb ready again' });
    const [rows] = await withMysql(async (c) => {
      const r = await c.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`);
      await c.query(`DROP TABLE ${table}`);
      return r;
    });
    expect(Number(rows[0]?.n)).toBe(0);
  });
});
