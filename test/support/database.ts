// One fresh database per test file (or test): created on the stack's Postgres, optionally with the
// `users` table, and dropped at the end. drop() fails the test if it left connections or
// replication slots behind (it still cleans them up, so one leak does not break later tests).
import pg from 'pg';
import { createUsersTable } from '../../dev/stack/stack.ts';
import { withDeadline } from './deadline.ts';
import { randomName } from './names.ts';
import { waitUntil } from './wait.ts';

export interface FreshDatabase {
  /** Connection URL of the new database (same server and user as the admin URL). */
  url: string;
  name: string;
  /** Drops the database; rejects if the test left sessions or replication slots in it. Idempotent. */
  drop(): Promise<void>;
}

export interface FreshDatabaseOptions {
  /** Create the `users` table from schemas/users.sql (default false). */
  usersTable?: boolean;
}

/** Creates a uniquely named database `<prefix>_<time>_<random>` on the server of `adminUrl`. */
export async function freshDatabase(
  adminUrl: string,
  prefix: string,
  opts: FreshDatabaseOptions = {},
): Promise<FreshDatabase> {
  const name = randomName(prefix);
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  let dropped = false;
  const db: FreshDatabase = {
    url,
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      const leaks = await withClient(adminUrl, (c) => dropDatabase(c, name));
      if (leaks.length)
        throw new Error(`the test left ${leaks.join(' and ')} in database ${name}; close them in the test`);
    },
  };
  if (opts.usersTable) {
    try {
      await createUsersTable(url);
    } catch (err) {
      await db.drop().catch(() => undefined);
      throw err;
    }
  }
  return db;
}

/** Connection and query deadlines of every test client: a hang fails with the query's text. */
export const TEST_CLIENT_TIMEOUTS = { connectionTimeoutMillis: 15_000, query_timeout: 120_000 } as const;

/**
 * Runs `fn` with a client connected to `url`, then closes it (also when `fn` fails). Connecting
 * and every query have deadlines (TEST_CLIENT_TIMEOUTS); so has closing.
 */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, ...TEST_CLIENT_TIMEOUTS });
  c.on('error', () => undefined); // a server-side disconnect fails the query in flight instead
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await withDeadline(c.end(), 15_000, 'closing a test database client').catch(() => undefined);
  }
}

/** Drops `name` whatever is left in it, and returns a description of each leak found. */
async function dropDatabase(c: pg.Client, name: string): Promise<string[]> {
  const leaks: string[] = [];
  const listSessions = async () => {
    const r = await c.query<{ who: string }>(
      `SELECT coalesce(nullif(application_name, ''), backend_type) || ' (pid ' || pid || ')' AS who
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [name],
    );
    return r.rows.map((row) => row.who);
  };
  // A client that just called end() may still have a backend exiting: give sessions a moment.
  const sessions = await waitUntil(async () => (await listSessions()).length === 0 && [], {
    timeoutMs: 5000,
    what: 'sessions to close',
  }).catch(listSessions);
  if (sessions.length) leaks.push(`open sessions [${sessions.join(', ')}]`);

  const slots = await c.query<{ slot_name: string; active_pid: number | null }>(
    'SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1',
    [name],
  );
  if (slots.rows.length) leaks.push(`replication slots [${slots.rows.map((s) => s.slot_name).join(', ')}]`);
  for (const slot of slots.rows) {
    if (slot.active_pid !== null) await c.query('SELECT pg_terminate_backend($1)', [slot.active_pid]);
    await waitUntil(() => c.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]).then(() => true), {
      timeoutMs: 10_000,
      what: `replication slot ${slot.slot_name} to be dropped`,
    });
  }
  await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  return leaks;
}
