// A PostgreSQL cluster with ssl=on for the security tests, beside the stack's plaintext one: the
// stack's own cluster set-up (postgres.ts: initdb, wal_level=logical, loopback) in the secured
// state folder on its own port, then the test PKI's server certificate (issued for `localhost`,
// so connecting by 127.0.0.1 is "a certificate for the wrong host") and ssl=on, applied by a
// configuration reload. Plain connections stay possible (trust on loopback, a test server).
import { chownSync, copyFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { execFileP } from './process.ts';
import { pgPaths, startPostgres, stopPostgres } from './postgres.ts';
import type { SecuredSettings, TestPki } from './secured.ts';
import type { StackSettings } from './settings.ts';
import { stackUrls } from './settings.ts';

const IS_ROOT = process.getuid?.() === 0;

/** The stack settings of the secured cluster: the stack's, in the secured folder, on its port. */
export const securedPgSettings = (s: SecuredSettings): StackSettings => ({
  ...s.base,
  stateDir: s.dir,
  pgPort: s.pgPort,
});

/** URL of a database on the secured cluster, by the certificate's host name unless `host` is given. */
export function securedPgUrl(s: SecuredSettings, db: string, host = s.certHost): string {
  return `postgres://postgres@${host}:${s.pgPort}/${db}`;
}

export async function startSecuredPostgres(
  s: SecuredSettings,
  pki: TestPki,
  pgBinDir: string,
  log: (m: string) => void,
): Promise<void> {
  const settings = securedPgSettings(s);
  await startPostgres(settings, pgBinDir, log);
  const { dataDir } = await pgPaths(settings);
  const owner = IS_ROOT ? await postgresIds() : undefined;
  for (const [from, to] of [
    [pki.serverCertFile, 'server.crt'],
    [pki.serverKeyFile, 'server.key'],
  ] as const) {
    const dest = path.join(dataDir, to);
    copyFileSync(from, dest);
    chmodSync(dest, 0o600);
    if (owner) chownSync(dest, ...owner);
  }
  const admin = new pg.Client({ connectionString: stackUrls(settings).adminUrl });
  await admin.connect();
  try {
    await admin.query(`ALTER SYSTEM SET ssl_cert_file = 'server.crt'`);
    await admin.query(`ALTER SYSTEM SET ssl_key_file = 'server.key'`);
    await admin.query('ALTER SYSTEM SET ssl = on');
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout: uid } = await execFileP('id', ['-u', 'postgres']);
  const { stdout: gid } = await execFileP('id', ['-g', 'postgres']);
  return [Number(uid.trim()), Number(gid.trim())];
}

export async function stopSecuredPostgres(s: SecuredSettings, pgBinDir: string): Promise<void> {
  await stopPostgres(securedPgSettings(s), pgBinDir);
}
