// What the MariaDB phase of the bench asked of the server: the difference of a few global status
// counters (statements by kind, handler row operations, InnoDB rows, bytes received) over a sink
// run or the raw baseline, per 1,000 events (or rows). The stack's MariaDB serves only the phase
// that runs, so the global counters are that run's (plus the phase's own few queries).
import mysql from 'mysql2/promise';

const VARS = [
  'Questions',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_delete',
  'Com_begin',
  'Com_commit',
  'Com_rollback',
  'Handler_write',
  'Handler_update',
  'Handler_delete',
  'Handler_read_key',
  'Handler_read_next',
  'Handler_read_rnd_next',
  'Innodb_rows_read',
  'Innodb_rows_inserted',
  'Innodb_rows_updated',
  'Innodb_rows_deleted',
  'Bytes_received',
] as const;
export type Counters = Record<(typeof VARS)[number], number>;

async function read(adminUrl: string): Promise<Counters> {
  const c = await mysql.createConnection({ uri: adminUrl });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      `SHOW GLOBAL STATUS WHERE Variable_name IN (${VARS.map(() => '?').join(', ')})`,
      [...VARS],
    );
    const out = Object.fromEntries(VARS.map((v) => [v, 0])) as Counters;
    for (const r of rows) out[String(r.Variable_name) as keyof Counters] = Number(r.Value);
    return out;
  } finally {
    await c.end();
  }
}

/** Starts counting; the returned function gives the counters' growth since, per 1,000 of `per`. */
export async function mariadbCounters(adminUrl: string): Promise<(per: number) => Promise<Counters>> {
  const start = await read(adminUrl);
  return async (per) => {
    const end = await read(adminUrl);
    return Object.fromEntries(
      VARS.map((v) => [v, Math.round(((end[v] - start[v]) * 1000 * 10) / per) / 10]),
    ) as Counters;
  };
}

/** One line: statements and row operations per 1,000. */
export function countersLine(c: Counters): string {
  return (
    `per 1,000: ${c.Questions} statements (select ${c.Com_select}, insert ${c.Com_insert}, update ${c.Com_update}, ` +
    `delete ${c.Com_delete}, commit ${c.Com_commit}, rollback ${c.Com_rollback}), handler write ${c.Handler_write} ` +
    `update ${c.Handler_update} delete ${c.Handler_delete} read_key ${c.Handler_read_key} read_next ${c.Handler_read_next} ` +
    `read_rnd_next ${c.Handler_read_rnd_next}, InnoDB rows read ${c.Innodb_rows_read} inserted ${c.Innodb_rows_inserted} ` +
    `updated ${c.Innodb_rows_updated} deleted ${c.Innodb_rows_deleted}, ${Math.round(c.Bytes_received / 1024)} KiB received`
  );
}
