// Brings the secured test servers up (secured.ts: PKI and credentials; secured-kafka.ts,
// secured-postgres.ts, secured-nginx.ts) for the security tests, next to the running stack, and
// down again. Reuses whatever of them already runs, so one secured Kafka serves the whole run.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { findPgBinDir } from './prerequisites.ts';
import { waitFor } from './process.ts';
import { securedBrokers, startSecuredKafka, stopSecuredKafka } from './secured-kafka.ts';
import { securedRegistryUrl, startSecuredNginx, stopSecuredNginx } from './secured-nginx.ts';
import { securedPgUrl, startSecuredPostgres, stopSecuredPostgres } from './secured-postgres.ts';
import {
  credentials,
  ensureTestPki,
  securedSettings,
  type SecuredCredentials,
  type SecuredSettings,
  type TestPki,
} from './secured.ts';
import type { StackSettings } from './settings.ts';
import { StackError } from '../../pipeline/errors.ts';

export interface SecuredStack {
  settings: SecuredSettings;
  pki: TestPki;
  credentials: SecuredCredentials;
  /** SASL_SSL brokers (SCRAM-SHA-512 and -256 users: credentials.kafkaUser) */
  kafkaBrokers: string[];
  /** the stack's registry through nginx: https, basic auth (credentials.registryUser) */
  registryUrl: string;
  /** a database on the ssl=on cluster, by the certificate's host name (or another host) */
  pgUrl(db: string, host?: string): string;
  stop(): Promise<void>;
}

export async function startSecuredStack(
  base: StackSettings,
  log: (m: string) => void,
): Promise<SecuredStack> {
  const s = securedSettings(base);
  const pgBinDir = findPgBinDir();
  if (!pgBinDir) throw new StackError('PostgreSQL server binaries not found (needed for the ssl=on cluster)');
  const pki = await ensureTestPki(s);
  const creds = credentials(s);
  await Promise.all([
    startSecuredKafka(s, pki, creds, log),
    startSecuredPostgres(s, pki, pgBinDir, log),
    startSecuredNginx(s, pki, creds, log),
  ]);
  await waitFor(() => tlsAccepted(s, pki), { timeoutMs: 30_000, what: 'ssl=on on the secured PostgreSQL' });
  return {
    settings: s,
    pki,
    credentials: creds,
    kafkaBrokers: securedBrokers(s),
    registryUrl: securedRegistryUrl(s),
    pgUrl: (db, host) => securedPgUrl(s, db, host),
    stop: async () => {
      await Promise.all([stopSecuredKafka(s), stopSecuredNginx(s), stopSecuredPostgres(s, pgBinDir)]);
    },
  };
}

/** The reload that turns ssl on is asynchronous: wait until a verified TLS connection works. */
async function tlsAccepted(s: SecuredSettings, pki: TestPki): Promise<boolean> {
  const c = new pg.Client({
    connectionString: securedPgUrl(s, 'postgres'),
    ssl: { ca: readFileSync(pki.caFile, 'utf8') },
    connectionTimeoutMillis: 2000,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}
