// Where the local stack's MariaDB server comes from: the machine's own (Debian's mariadb-server,
// /usr/sbin/mariadbd) when installed, else Debian's packages fetched with `apt-get download` and
// unpacked with `dpkg -x` into the cache folder, once (no root, no system service, nothing
// installed system-wide). A marker file records a complete unpack, so later runs do no network work.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../pipeline/errors.ts';
import { execFileP } from './process.ts';
import type { StackSettings } from './settings.ts';

/** The server core and its client, plus the libraries a bare Debian lacks (harmless if present). */
const PACKAGES = ['mariadb-server-core', 'mariadb-client-core', 'libaio1', 'liburing2', 'libnuma1'];

export interface MariadbBinaries {
  /** the server: mariadbd */
  server: string;
  /** mariadb-install-db (creates a data directory) */
  installDb: string;
  /** --basedir of the installation (its share/mysql holds the bootstrap SQL and messages) */
  baseDir: string;
  /** LD_LIBRARY_PATH for the unpacked libraries, if any */
  libDir: string | undefined;
  /** where the binaries come from, for messages */
  origin: 'system' | 'cache';
}

const cacheRoot = (s: StackSettings) => path.join(s.cacheDir, 'mariadb', 'root');

function fromRoot(root: string, origin: MariadbBinaries['origin']): MariadbBinaries | undefined {
  const usr = path.join(root, 'usr');
  const server = path.join(usr, 'sbin', 'mariadbd');
  const installDb = path.join(usr, 'bin', 'mariadb-install-db');
  if (!existsSync(server) || !existsSync(installDb)) return undefined;
  const libDir = origin === 'cache' ? path.join(usr, 'lib', 'x86_64-linux-gnu') : undefined;
  return { server, installDb, baseDir: usr, libDir, origin };
}

/** The binaries to run, without installing anything: the system's first, else the cache's. */
export function findMariadb(s: StackSettings): MariadbBinaries | undefined {
  const cached = existsSync(path.join(s.cacheDir, 'mariadb', '.complete'))
    ? fromRoot(cacheRoot(s), 'cache')
    : undefined;
  return fromRoot('/', 'system') ?? cached;
}

/** Makes MariaDB available (see the header); returns where it is. */
export async function installMariadb(s: StackSettings, log: (m: string) => void): Promise<MariadbBinaries> {
  const found = findMariadb(s);
  if (found) return found;
  const dir = path.join(s.cacheDir, 'mariadb');
  mkdirSync(dir, { recursive: true });
  const debs = mkdtempSync(path.join(dir, 'download-'));
  log('downloading MariaDB from Debian packages (first run only) ...');
  try {
    await download(debs);
    rmSync(cacheRoot(s), { recursive: true, force: true });
    for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb')))
      await execFileP('dpkg', ['-x', path.join(debs, deb), cacheRoot(s)], { maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new StackError(`installing MariaDB failed: ${(e.stderr || e.message).trim().split('\n').pop()}`, {
      cause: err,
      hint: `the stack unpacks Debian's ${PACKAGES.join(', ')} (apt-get download + dpkg -x) into ${dir}; on a non-Debian machine install MariaDB 10.6+ so that /usr/sbin/mariadbd exists`,
    });
  } finally {
    rmSync(debs, { recursive: true, force: true });
  }
  const bins = fromRoot(cacheRoot(s), 'cache');
  if (!bins) throw new StackError(`MariaDB unpacked into ${cacheRoot(s)} but mariadbd is missing there`);
  writeFileSync(path.join(dir, '.complete'), new Date().toISOString());
  return bins;
}

/** `apt-get download`; with stale package lists (a fresh machine) it updates them first, as root. */
async function download(into: string): Promise<void> {
  const get = () => execFileP('apt-get', ['download', '-q', ...PACKAGES], { cwd: into, maxBuffer: 16 << 20 });
  try {
    await get();
  } catch (err) {
    if (process.getuid?.() !== 0) throw err;
    await execFileP('apt-get', ['update', '-q'], { maxBuffer: 64 << 20 });
    await get();
  }
}
