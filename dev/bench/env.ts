// The benchmark's own throwaway objects on the local stack: databases (source with `users`, peers),
// publication and slots, topics and groups, and the polls that follow progress (topic ends, group
// positions, peer apply times). Everything is named bench_<run>_... and removed afterwards.
import pg from 'pg';
import { createUsersTable } from '../stack/stack.ts';
import type { KafkaAdminPort } from '../../pipeline/kafka/port.ts';

const q = pg.escapeIdentifier;

export function dbUrl(adminUrl: string, db: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'pgcdc-bench' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function createDatabase(adminUrl: string, name: string, usersTable: boolean): Promise<string> {
  await dropDatabase(adminUrl, name);
  await withPg(adminUrl, (c) => c.query(`CREATE DATABASE ${q(name)}`));
  const url = dbUrl(adminUrl, name);
  if (usersTable) await createUsersTable(url);
  return url;
}

/** Drops the database with its slots (which must not be streamed by then) and sessions. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withPg(adminUrl, async (c) => {
    await c.query(
      'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL',
      [name],
    );
    for (let i = 0; i < 50; i++) {
      await c.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active',
        [name],
      );
      const left = await c.query('SELECT 1 FROM pg_replication_slots WHERE database = $1', [name]);
      if (left.rowCount === 0) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    await c.query(`DROP DATABASE IF EXISTS ${q(name)}`);
  });
}

/** Publication for `users` and pgoutput slots, created before the workload so they see all of it. */
export async function prepareSlots(url: string, publication: string, slots: string[]): Promise<string> {
  return withPg(url, async (c) => {
    await c.query(`CREATE PUBLICATION ${q(publication)} FOR TABLE public.users`);
    for (const s of slots) await c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [s]);
    const r = await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return r.rows[0]!.lsn;
  });
}

export async function dropSlot(url: string, slot: string): Promise<void> {
  await withPg(url, (c) =>
    c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
      slot,
    ]),
  );
}

/** Messages in a topic (sum over partitions of high - low); 0 when it does not exist yet. */
export async function topicMessages(admin: KafkaAdminPort, topic: string): Promise<number> {
  try {
    const offs = await admin.topicOffsets(topic);
    return offs.reduce((n, p) => n + Number(p.high - p.low), 0);
  } catch {
    return 0;
  }
}

/** Messages of the topic the group has committed past. */
export async function groupPosition(admin: KafkaAdminPort, group: string, topic: string): Promise<number> {
  try {
    const [ends, offs] = await Promise.all([admin.topicOffsets(topic), admin.groupOffsets(group, topic)]);
    return ends.reduce((n, p) => {
      const o = offs.find((x) => x.partition === p.partition)?.offset ?? -1n;
      return n + (o < 0n ? 0 : Number(o - p.low));
    }, 0);
  } catch {
    return 0;
  }
}

export async function deleteTopics(admin: KafkaAdminPort, topics: string[]): Promise<void> {
  for (const t of topics) await admin.deleteTopic(t).catch(() => undefined);
}

export interface LatencySample {
  rows: number;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  max: number | undefined;
}

/**
 * Commit -> applied latency (ms) of the peer rows written at the source in [from, to): the source
 * stamped updated_at = clock_timestamp() in the transaction, the peer stamped `syncedColumn` when
 * it wrote the row (both clocks are this machine's). Deleted rows have no sample.
 */
export async function peerLatency(
  peerUrl: string,
  syncedColumn: string,
  from: Date,
  to: Date,
): Promise<LatencySample> {
  return withPg(peerUrl, async (c) => {
    const r = await c.query<{ n: string; p: (number | null)[] | null; max: number | null }>(
      `SELECT count(*)::text AS n,
              percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY l) AS p,
              max(l) AS max
         FROM (SELECT extract(epoch FROM (${q(syncedColumn)} - updated_at::timestamptz)) * 1000 AS l
                 FROM public.users WHERE updated_at::timestamptz >= $1 AND updated_at::timestamptz < $2) x`,
      [from, to],
    );
    const row = r.rows[0]!;
    const p = (row.p ?? []).map((x) => (x === null ? undefined : Number(x)));
    return {
      rows: Number(row.n),
      p50: p[0],
      p95: p[1],
      p99: p[2],
      max: row.max === null ? undefined : Number(row.max),
    };
  });
}

/**
 * The p50 commit -> applied latency (ms) of the peer rows written at the source in each third of
 * [from, to), and their counts (the lag trend of a latency phase: stats.ts lagTrend).
 */
export async function peerLatencyThirds(
  peerUrl: string,
  syncedColumn: string,
  from: Date,
  to: Date,
): Promise<{ p50: (number | undefined)[]; rows: number[] }> {
  const seconds = Math.max(0.001, (to.getTime() - from.getTime()) / 1000);
  return withPg(peerUrl, async (c) => {
    const r = await c.query<{ b: number; p50: number | null; n: string }>(
      `SELECT b, percentile_disc(0.5) WITHIN GROUP (ORDER BY l) AS p50, count(*)::text AS n
         FROM (SELECT least(2, floor(3 * extract(epoch FROM (updated_at::timestamptz - $1::timestamptz)) / $3::float8))::int AS b,
                      extract(epoch FROM (${q(syncedColumn)} - updated_at::timestamptz)) * 1000 AS l
                 FROM public.users WHERE updated_at::timestamptz >= $1 AND updated_at::timestamptz < $2) x
        GROUP BY b ORDER BY b`,
      [from, to, seconds],
    );
    const p50: (number | undefined)[] = [undefined, undefined, undefined];
    const rows = [0, 0, 0];
    for (const row of r.rows) {
      if (row.b < 0 || row.b > 2) continue;
      p50[row.b] = row.p50 === null ? undefined : Number(row.p50);
      rows[row.b] = Number(row.n);
    }
    return { p50, rows };
  });
}

/** First and last apply time of the rows at the peer (a fresh peer filled by one sink run). */
export async function peerApplyWindow(
  peerUrl: string,
  syncedColumn: string,
): Promise<{ first: Date; last: Date; rows: number } | undefined> {
  return withPg(peerUrl, async (c) => {
    const r = await c.query<{ first: Date | null; last: Date | null; n: string }>(
      `SELECT min(${q(syncedColumn)}) AS first, max(${q(syncedColumn)}) AS last, count(*)::text AS n FROM public.users`,
    );
    const row = r.rows[0];
    return row?.first && row.last ? { first: row.first, last: row.last, rows: Number(row.n) } : undefined;
  });
}

export async function tableRows(url: string): Promise<number> {
  return withPg(url, async (c) => {
    const exists = await c.query("SELECT to_regclass('public.users') IS NOT NULL AS e");
    if (!(exists.rows[0] as { e: boolean }).e) return 0;
    const r = await c.query<{ n: string }>('SELECT count(*)::text AS n FROM public.users');
    return Number(r.rows[0]!.n);
  });
}

/**
 * For a peer written by a sink that creates its own table (Debezium's JDBC sink): an event trigger
 * adds `bench_synced_at`, stamped by a row trigger on every insert/update, to `public.users` the
 * moment it is created, so apply times are recorded from the first row on.
 */
export async function installSyncedStamp(peerUrl: string): Promise<string> {
  await withPg(peerUrl, (c) =>
    c.query(`
CREATE FUNCTION bench_synced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.bench_synced_at := clock_timestamp(); RETURN NEW; END $$;
CREATE FUNCTION bench_on_create() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
    IF r.object_identity = 'public.users' THEN
      EXECUTE 'ALTER TABLE public.users ADD COLUMN IF NOT EXISTS bench_synced_at timestamptz';
      EXECUTE 'CREATE TRIGGER bench_synced BEFORE INSERT OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION bench_synced()';
    END IF;
  END LOOP;
END $$;
CREATE EVENT TRIGGER bench_on_create ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION bench_on_create();
`),
  );
  return 'bench_synced_at';
}
