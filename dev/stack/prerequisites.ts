// Checks (and where possible installs) what the local stack needs from the machine:
// Java 17+ and Maven for Kafka and the registry, PostgreSQL server binaries for the database.
import { existsSync, readdirSync } from 'node:fs';
import { StackError } from '../../pipeline/errors.ts';
import { execFileP } from './process.ts';

export interface Prerequisites {
  java: string;
  mvn: string;
  pgBinDir: string;
}

export async function javaMajor(java = 'java'): Promise<number> {
  const { stderr, stdout } = await execFileP(java, ['-version']);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(stderr + stdout);
  if (!m) return 0;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
}

async function checkJava(): Promise<string> {
  let major: number;
  try {
    major = await javaMajor();
  } catch {
    throw new StackError('Java not found: Kafka and the schema registry need Java 17 or newer', {
      hint: 'install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless) and put `java` on PATH',
    });
  }
  if (major < 17) {
    throw new StackError(`Java ${major} found, but Kafka 4 and Apicurio Registry 3 need Java 17 or newer`, {
      hint: 'install openjdk-17 and put it first on PATH',
    });
  }
  return 'java';
}

async function checkMaven(): Promise<string> {
  try {
    await execFileP('mvn', ['-v']);
    return 'mvn';
  } catch {
    throw new StackError('Maven (`mvn`) not found: it fetches Kafka and the registry from Maven Central', {
      hint: 'install Maven (Debian: apt-get install maven)',
    });
  }
}

export function findPgBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(`${base}/${v}/bin/initdb`))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? `${base}/${versions[0]}/bin` : undefined;
}

async function checkPostgres(log: (msg: string) => void): Promise<string> {
  const found = findPgBinDir();
  if (found) return found;
  if (process.getuid?.() === 0) {
    log('PostgreSQL server binaries not found; installing Debian package postgresql ...');
    try {
      await execFileP('apt-get', ['update', '-q'], { maxBuffer: 64 << 20 });
      await execFileP('apt-get', ['install', '-y', '-q', 'postgresql'], {
        maxBuffer: 64 << 20,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch (err) {
      throw new StackError('installing PostgreSQL with apt-get failed', {
        cause: err,
        hint: 'apt-get install postgresql',
      });
    }
    const after = findPgBinDir();
    if (after) return after;
  }
  throw new StackError('PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql', {
    hint: 'install them: apt-get install postgresql (as root)',
  });
}

/** Node 20+ (ESM loader hooks used by tsx, fetch, AbortSignal.timeout). */
export function checkNode(version = process.versions.node): void {
  const major = Number(version.split('.')[0]);
  if (!(major >= 20)) {
    throw new StackError(`Node.js ${version} found, but pgcdc needs Node.js 20 or newer`, {
      hint: 'install Node.js 20 LTS or newer (https://nodejs.org, or nvm install 20)',
    });
  }
}

export async function checkPrerequisites(log: (msg: string) => void): Promise<Prerequisites> {
  checkNode();
  const [java, mvn, pgBinDir] = await Promise.all([checkJava(), checkMaven(), checkPostgres(log)]);
  return { java, mvn, pgBinDir };
}
