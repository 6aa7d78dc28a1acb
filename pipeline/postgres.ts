// The one Postgres connection factory: every connection the product opens (replication stream,
// source queries, position store, target apply, operator verbs) is configured here, with the
// statement and lock timeouts of its role, TCP keepalives (pipeline/config/connections.ts) and the
// TLS of its database (source.tls or the target's tls: verify-full unless configured otherwise).
// The composition root builds it from the configuration and hands it to the stages.
import pg from 'pg';
import { CONNECTION_DEFAULTS, type ConnectionsConfig, type PgRole } from './config/connections.ts';
import { databaseOf } from './config/tls.ts';
import { pgSslOptions } from './transport.ts';

export type { PgRole } from './config/connections.ts';

export interface PgConnections {
  /** The client settings of a connection in `role` (for libraries that open it themselves). */
  config(url: string, role: PgRole, applicationName: string, options?: string): pg.ClientConfig;
  /** A client in `role`, not connected yet. */
  client(url: string, role: PgRole, applicationName: string, options?: string): pg.Client;
  /** Connects, runs `fn`, and always closes the connection. */
  withClient<T>(
    url: string,
    role: PgRole,
    applicationName: string,
    fn: (c: pg.Client) => Promise<T>,
  ): Promise<T>;
}

/** Pure: the settings of a connection in `role`. */
export function clientConfigFor(
  settings: ConnectionsConfig,
  url: string,
  role: PgRole,
  applicationName: string,
  options?: string,
): pg.ClientConfig {
  const r = settings[role];
  return {
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: settings.keepAliveIdleMs,
    statement_timeout: r.statementTimeoutMs,
    lock_timeout: r.lockTimeoutMs,
    ...(options ? { options } : {}),
  };
}

export function createPgConnections(settings: ConnectionsConfig = CONNECTION_DEFAULTS): PgConnections {
  // a configured database's TLS (source.tls, a target's tls), its files read at each connection
  const config = (url: string, role: PgRole, app: string, options?: string): pg.ClientConfig => {
    const base = clientConfigFor(settings, url, role, app, options);
    const entry = settings.tls?.find((e) => e.database === databaseOf(url));
    return entry ? { ...base, ssl: pgSslOptions(entry.tls, entry.at) } : base;
  };
  const client = (url: string, role: PgRole, app: string, options?: string) =>
    new pg.Client(config(url, role, app, options));
  return {
    config,
    client,
    async withClient(url, role, app, fn) {
      const c = client(url, role, app);
      c.on('error', () => undefined); // surfaced by the query that meets it
      try {
        await c.connect();
        return await fn(c);
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };
}
