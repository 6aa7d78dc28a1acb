// Local schema registry: Apicurio Registry 3 (Maven Central distribution), serving the Confluent
// Schema Registry API under /apis/ccompat/v7, with its storage in the stack's PostgreSQL so that
// registered schemas (and their ids) survive a restart of the stack.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../pipeline/errors.ts';
import { mavenOnce } from './maven.ts';
import {
  assertPortFree,
  execFileP,
  isAlive,
  readPid,
  startDaemon,
  stopPid,
  tailFile,
  waitFor,
} from './process.ts';
import { stackUrls, type StackSettings } from './settings.ts';

export function registryPaths(s: StackSettings) {
  const dir = path.join(s.stateDir, 'registry');
  const home = path.join(s.cacheDir, `apicurio-registry-${s.apicurioVersion}`);
  return {
    dir,
    logFile: path.join(dir, 'registry.log'),
    pidFile: path.join(dir, 'registry.pid'),
    home,
    download: path.join(home, 'download'),
    dist: path.join(home, 'dist'),
  };
}

export async function installRegistry(s: StackSettings, log: (m: string) => void): Promise<string> {
  const p = registryPaths(s);
  await mavenOnce(
    `Apicurio Registry ${s.apicurioVersion}`,
    p.download,
    [
      'dependency:copy',
      `-Dartifact=io.apicurio:apicurio-registry-app:${s.apicurioVersion}:tar.gz:all`,
      `-DoutputDirectory=${p.download}`,
    ],
    log,
  );
  const runner = () =>
    existsSync(p.dist) ? readdirSync(p.dist).find((f) => f.endsWith('-runner.jar')) : undefined;
  if (!runner() || !existsSync(path.join(p.dist, 'lib'))) {
    mkdirSync(p.dist, { recursive: true });
    const archive = readdirSync(p.download).find((f) => f.endsWith('.tar.gz'));
    if (!archive)
      throw new StackError(`registry archive missing in ${p.download}; delete that folder and retry`);
    await execFileP('tar', ['xzf', path.join(p.download, archive), '-C', p.dist]);
  }
  const jar = runner();
  if (!jar) throw new StackError(`no *-runner.jar in ${p.dist}`);
  return path.join(p.dist, jar);
}

export async function startRegistry(s: StackSettings, log: (m: string) => void): Promise<number> {
  const p = registryPaths(s);
  const existing = readPid(p.pidFile);
  if (isAlive(existing) && existing !== undefined) return existing;
  const jar = await installRegistry(s, log);
  await assertPortFree('registry', s.host, s.registryPort, 'PGCDC_STACK_REGISTRY_PORT');
  mkdirSync(p.dir, { recursive: true });
  const jdbc = `jdbc:postgresql://${s.host}:${s.pgPort}/${s.registryDb}`;
  const pid = startDaemon({
    name: 'registry',
    command: 'java',
    args: [
      `-Xmx${s.registryHeapMb}m`,
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      `-Dquarkus.http.host=${s.host}`,
      `-Dquarkus.http.port=${s.registryPort}`,
      '-Dquarkus.http.access-log.enabled=false',
      '-Dquarkus.log.level=WARN',
      '-Dquarkus.log.category."io.apicurio".level=INFO',
      '-Dapicurio.storage.kind=sql',
      '-Dapicurio.storage.sql.kind=postgresql',
      `-Dapicurio.datasource.url=${jdbc}`,
      '-Dapicurio.datasource.username=postgres',
      '-Dapicurio.datasource.password=unused',
      '-jar',
      jar,
    ],
    logFile: p.logFile,
    pidFile: p.pidFile,
  });
  try {
    await waitFor(() => registryReady(s), {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `schema registry on ${stackUrls(s).registryUrl}`,
      abortIf: () => (isAlive(pid) ? undefined : 'registry exited during start-up'),
    });
  } catch (err) {
    await stopPid(pid, 5000);
    throw new StackError(
      `schema registry failed to start: ${(err as Error).message}\n--- ${p.logFile} ---\n${tailFile(p.logFile)}`,
    );
  }
  return pid;
}

export async function registryReady(s: StackSettings): Promise<boolean> {
  try {
    const res = await fetch(`${stackUrls(s).registryUrl}/subjects`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function stopRegistry(s: StackSettings): Promise<void> {
  await stopPid(readPid(registryPaths(s).pidFile), 20_000);
}
