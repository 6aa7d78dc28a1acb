// Debian's nginx in front of the stack's schema registry, for the security tests: TLS with the test
// PKI's server certificate and HTTP basic auth (an htpasswd made with `openssl passwd -apr1`).
// nginx comes from Debian's packages without root: `apt-get download nginx` into the stack's cache
// folder and `dpkg-deb -x` (the binary only needs libraries every Debian system has).
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../pipeline/errors.ts';
import {
  execFileP,
  isAlive,
  readPid,
  startDaemon,
  stopPid,
  tailFile,
  waitFor,
  isPortFree,
} from './process.ts';
import type { SecuredCredentials, SecuredSettings, TestPki } from './secured.ts';

const IS_ROOT = process.getuid?.() === 0;

/** The nginx binary, installed from Debian's package into the cache folder once. */
export async function installNginx(s: SecuredSettings, log: (m: string) => void): Promise<string> {
  const root = path.join(s.base.cacheDir, 'nginx');
  const bin = path.join(root, 'usr/sbin/nginx');
  if (existsSync(bin)) return bin;
  const debs = path.join(root, 'debs');
  mkdirSync(debs, { recursive: true });
  log("installing Debian's nginx into the stack cache (apt-get download + dpkg-deb -x)");
  try {
    await execFileP('apt-get', ['download', 'nginx'], { cwd: debs });
    const deb = readdirSync(debs).find((f) => f.startsWith('nginx_') && f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download nginx left no nginx_*.deb');
    await execFileP('dpkg-deb', ['-x', path.join(debs, deb), root]);
  } catch (err) {
    throw new StackError(`installing nginx failed: ${(err as Error).message}`, {
      hint: "the registry's TLS + basic auth front needs Debian's nginx package (apt-get update first)",
      cause: err,
    });
  }
  return bin;
}

function paths(s: SecuredSettings) {
  const dir = path.join(s.dir, 'nginx');
  return {
    dir,
    conf: path.join(dir, 'nginx.conf'),
    htpasswd: path.join(dir, 'htpasswd'),
    pidFile: path.join(dir, 'nginx.pid'),
    logFile: path.join(dir, 'nginx.log'),
  };
}

/** The registry's URL through nginx (by the certificate's host name). */
export const securedRegistryUrl = (s: SecuredSettings) =>
  `https://${s.certHost}:${s.nginxPort}/apis/ccompat/v7`;

export async function startSecuredNginx(
  s: SecuredSettings,
  pki: TestPki,
  creds: SecuredCredentials,
  log: (m: string) => void,
): Promise<number> {
  const p = paths(s);
  const running = readPid(p.pidFile);
  if (running !== undefined && isAlive(running)) return running;
  const bin = await installNginx(s, log);
  mkdirSync(path.join(p.dir, 'tmp'), { recursive: true });
  const { stdout: hash } = await execFileP('openssl', ['passwd', '-apr1', creds.registryPassword]);
  writeFileSync(p.htpasswd, `${creds.registryUser}:${hash.trim()}\n`, { mode: 0o644 });
  const tmp = path.join(p.dir, 'tmp');
  writeFileSync(
    p.conf,
    `${IS_ROOT ? 'user root;\n' : ''}daemon off;
master_process on;
worker_processes 1;
pid ${p.pidFile}.nginx;
error_log stderr warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  server {
    listen ${s.host}:${s.nginxPort} ssl;
    server_name ${s.certHost};
    ssl_certificate ${pki.serverCertFile};
    ssl_certificate_key ${pki.serverKeyFile};
    auth_basic "pgcdc test registry";
    auth_basic_user_file ${p.htpasswd};
    location / {
      proxy_pass http://${s.base.host}:${s.base.registryPort};
      proxy_set_header Authorization "";
    }
  }
}
`,
  );
  const pid = startDaemon({
    name: 'nginx',
    command: bin,
    args: ['-p', p.dir, '-c', p.conf, '-e', 'stderr'],
    logFile: p.logFile,
    pidFile: p.pidFile,
  });
  try {
    await waitFor(async () => !(await isPortFree(s.host, s.nginxPort)), {
      timeoutMs: 20_000,
      what: `nginx on ${s.host}:${s.nginxPort}`,
      abortIf: () => (isAlive(pid) ? undefined : 'nginx exited during start-up'),
    });
  } catch (err) {
    await stopPid(pid, 5000);
    throw new StackError(`nginx failed: ${(err as Error).message}\n${tailFile(p.logFile)}`);
  }
  return pid;
}

export async function stopSecuredNginx(s: SecuredSettings): Promise<void> {
  await stopPid(readPid(paths(s).pidFile), 10_000);
}
