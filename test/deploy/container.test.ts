// The container artefacts: Dockerfile, .dockerignore and deploy/docker-compose.yml. No Docker
// engine is needed: the files are parsed and checked against the tree (every COPY source and
// mounted host path exists, every module the CLI loads is copied, every package it imports is a
// runtime dependency) and against each other (service names, ports, config paths). `docker
// compose config` runs too when a Compose CLI is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../../dev/stack/settings.ts';
import { parseConfig } from '../../pipeline/config/load.ts';

const DEPLOY = path.join(PROJECT_ROOT, 'deploy');
const read = (rel: string) => readFileSync(path.join(PROJECT_ROOT, rel), 'utf8');

// ---------- Dockerfile ----------

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(read('Dockerfile'));
const copies = dockerfile
  .filter((i) => i.op === 'COPY' || i.op === 'ADD')
  .map((i) => {
    const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
    return { sources: words.slice(0, -1), dest: words[words.length - 1]!, from: /--from=/.test(i.args) };
  })
  .filter((c) => !c.from);
const copiedSources = copies.flatMap((c) => c.sources).map((s) => s.replace(/\/$/, ''));

/** A .dockerignore pattern as a RegExp over context-relative paths (the subset this repo uses). */
function ignoreMatcher(pattern: string): RegExp {
  const body = pattern
    .replace(/^\//, '')
    .replace(/\/$/, '')
    .split('/')
    .map((seg) =>
      seg === '**'
        ? '(?:.*/)?'
        : seg
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]') + '/',
    )
    .join('')
    .replace(/\/$/, '');
  return new RegExp(`^${body}(?:/.*)?$`);
}
const ignored = read('.dockerignore')
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'))
  .map(ignoreMatcher);

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Files the CLI loads (relative imports, followed) and the packages they import. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith('node:'))
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  visit(path.join(PROJECT_ROOT, entry));
  return { files, packages };
}

/** The instructions of each stage (from one FROM to the next). */
const stages = dockerfile.reduce<{ op: string; args: string }[][]>((acc, i) => {
  if (i.op === 'FROM') acc.push([i]);
  else acc.at(-1)?.push(i);
  return acc;
}, []);
const finalStage = stages.at(-1)!;

describe('Dockerfile', () => {
  it('builds in two stages on the current Node.js LTS, the final one with production dependencies only', () => {
    expect(dockerfile[0]).toEqual({ op: 'ARG', args: 'NODE_IMAGE=node:24-bookworm-slim' });
    expect(stages.map((st) => st[0]!.args)).toEqual(['${NODE_IMAGE} AS build', '${NODE_IMAGE}']);
    expect(stages[0]!.some((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args))).toBe(true);
    expect(finalStage.some((i) => i.op === 'RUN' && /\bnpm ci --omit=dev\b/.test(i.args))).toBe(true);
  });

  it('holds compiled code only in the final stage: the package files and the build output', () => {
    const finalCopies = finalStage.filter((i) => i.op === 'COPY' || i.op === 'ADD').map((i) => i.args);
    expect(finalCopies).toEqual(['package.json package-lock.json ./', '--from=build /src/dist ./dist']);
  });

  it('runs the compiled CLI as an unprivileged user', () => {
    const entry = finalStage.filter((i) => i.op === 'ENTRYPOINT').at(-1);
    expect(JSON.parse(entry!.args)).toEqual(['node', 'dist/cli/main.js']);
    expect(finalStage.filter((i) => i.op === 'USER').at(-1)?.args).toBe('node');
  });

  it('compiles with the build configuration the package uses', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    expect(pkg.bin.pgcdc).toBe('dist/cli/main.js');
    expect(copiedSources).toContain('tsconfig.build.json');
  });

  it.each(copiedSources)('copies %s, which exists and is not dockerignored', (src) => {
    expect(existsSync(path.join(PROJECT_ROOT, src))).toBe(true);
    expect(ignored.filter((re) => re.test(src)).map(String)).toEqual([]);
  });

  it('copies every module the CLI loads into the build stage', () => {
    const { files } = importGraph('cli/main.ts');
    expect(files.size).toBeGreaterThan(10);
    const outside = [...files]
      .map((f) => path.relative(PROJECT_ROOT, f))
      .filter((f) => !copiedSources.some((src) => f === src || f.startsWith(`${src}/`)));
    expect(outside).toEqual([]);
  });

  it('holds no development tooling (dev/: stack, demo, bench)', () => {
    expect(copiedSources.filter((src) => src === 'dev' || src.startsWith('dev/'))).toEqual([]);
    expect(ignored.some((re) => re.test('dev/cli/main.ts'))).toBe(true);
  });

  it('needs no dev dependency at run time (npm ci --omit=dev)', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const { packages } = importGraph('cli/main.ts');
    expect(packages).not.toContain('tsx');
    expect([...packages].filter((p) => !(p in pkg.dependencies))).toEqual([]);
    expect(pkg.dependencies).not.toHaveProperty('tsx');
  });

  it('keeps local state and dependencies out of the build context', () => {
    for (const p of ['node_modules', '.pgcdc', '.git', 'bench-results', 'consumers/node_modules']) {
      expect(
        ignored.some((re) => re.test(p)),
        p,
      ).toBe(true);
    }
  });
});

// ---------- docker-compose.yml ----------

type Volume = string | { type?: string; source?: string; target?: string };
interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number>;
  volumes?: Volume[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test: string | string[] };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const COMPOSE_FILE = path.join(DEPLOY, 'docker-compose.yml');
// merge: the file shares the pgcdc service settings through a `<<: *pgcdc` merge key, as Compose does.
const compose = parseYaml(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
const services = Object.entries(compose.services);
const serviceNames = new Set(Object.keys(compose.services));

/** Bind mounts and named volumes of a service, short or long syntax. */
function mounts(s: Service): { source: string; target: string; bind: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = ''] =
      typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target ?? ''];
    return { source, target, bind: /^[./~]/.test(source) };
  });
}
const argv = (s: Service) => (Array.isArray(s.command) ? s.command : (s.command ?? '').split(/\s+/));
const pgcdcServices = services.filter(([, s]) => s.build !== undefined);
const option = (s: Service, ...names: string[]) => {
  const args = argv(s);
  const i = args.findIndex((a) => names.includes(a));
  return i >= 0 ? args[i + 1] : undefined;
};

/** deploy/compose/pgcdc.yaml, parsed and validated by the real config loader. */
function composeConfig() {
  return parseConfig(parseYaml(readFileSync(path.join(DEPLOY, 'compose/pgcdc.yaml'), 'utf8')), {
    PGCDC_PG_PASSWORD: 'secret',
    PGCDC_PEER_PASSWORD: 'secret2',
  });
}

describe('docker-compose.yml', () => {
  it('has the services of the pipeline and its monitoring', () => {
    expect([...serviceNames].sort()).toEqual(
      expect.arrayContaining([
        'kafka',
        'registry',
        'source-db',
        'peer-db',
        'pgcdc-producer',
        'prometheus',
        'grafana',
      ]),
    );
    expect(compose.services.kafka?.image).toBe('apache/kafka:4.1.1');
    expect(compose.services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it.each(services)('%s mounts only host paths that exist and declared volumes', (_name, s) => {
    for (const m of mounts(s)) {
      if (m.bind) expect(existsSync(path.resolve(DEPLOY, m.source)), m.source).toBe(true);
      else expect(Object.keys(compose.volumes ?? {}), m.source).toContain(m.source);
      expect(m.target, m.source).toMatch(/^\//);
    }
  });

  it.each(services)('%s depends only on services that exist', (name, s) => {
    const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
    for (const d of deps) {
      expect(serviceNames, `${name} -> ${d}`).toContain(d);
      expect(d).not.toBe(name);
    }
    if (s.depends_on && !Array.isArray(s.depends_on)) {
      for (const [d, c] of Object.entries(s.depends_on)) {
        if (c.condition === 'service_healthy')
          expect(compose.services[d]?.healthcheck, `${d} needs a healthcheck`).toBeDefined();
      }
    }
  });

  it('builds the pgcdc services from the Dockerfile at the repository root', () => {
    expect(pgcdcServices.length).toBeGreaterThanOrEqual(2);
    for (const [name, s] of pgcdcServices) {
      const context = path.resolve(DEPLOY, s.build!.context);
      expect(context, name).toBe(PROJECT_ROOT);
      expect(existsSync(path.join(context, s.build!.dockerfile ?? 'Dockerfile')), name).toBe(true);
    }
  });

  it('starts a logical-decoding source initialised from schemas/users.sql', () => {
    const src = compose.services['source-db']!;
    expect(src.image).toBe('postgres:15');
    expect(argv(src).join(' ')).toContain('-c wal_level=logical');
    const init = mounts(src).find((m) => m.target.startsWith('/docker-entrypoint-initdb.d/'));
    expect(path.resolve(DEPLOY, init!.source)).toBe(path.join(PROJECT_ROOT, 'schemas/users.sql'));
  });

  it('gives every pgcdc service the mounted config file, and every consumer a configured target', () => {
    const config = composeConfig();
    const roles = new Set<string>();
    for (const [name, s] of pgcdcServices) {
      const [command] = argv(s);
      roles.add(command!);
      const file = option(s, '-c', '--config');
      expect(file, `${name}: --config`).toBeDefined();
      const mount = mounts(s).find((m) => m.target === file);
      expect(mount && path.resolve(DEPLOY, mount.source), name).toBe(path.join(DEPLOY, 'compose/pgcdc.yaml'));
      if (command === 'consume')
        expect(
          config.targets.map((t) => t.name),
          name,
        ).toContain(option(s, '--target', '-t'));
    }
    expect(roles).toEqual(new Set(['produce', 'consume']));
  });
});

describe('deploy/compose/pgcdc.yaml', () => {
  it('is a valid configuration once PGCDC_PG_PASSWORD and PGCDC_PEER_PASSWORD are set, which compose passes in', () => {
    const raw = () => parseYaml(readFileSync(path.join(DEPLOY, 'compose/pgcdc.yaml'), 'utf8')) as unknown;
    expect(() => parseConfig(raw(), {})).toThrow(/PGCDC_PG_PASSWORD/);
    expect(() => parseConfig(raw(), { PGCDC_PG_PASSWORD: 'x' })).toThrow(/PGCDC_PEER_PASSWORD/);
    for (const [name, s] of pgcdcServices) {
      expect(s.environment?.PGCDC_PG_PASSWORD, name).toBeDefined();
      expect(s.environment?.PGCDC_PEER_PASSWORD, name).toBeDefined();
    }
  });

  it('reaches the servers by their compose service names', () => {
    const config = composeConfig();
    const hosts = [
      new URL(config.source.url).host,
      new URL(config.registry.url).host,
      ...config.kafka.brokers,
      ...config.targets.map((t) => new URL(t.url).host),
    ];
    for (const h of hosts) expect(serviceNames, h).toContain(h.split(':')[0]);
    expect(String(compose.services.kafka?.environment?.KAFKA_ADVERTISED_LISTENERS)).toContain(
      `PLAINTEXT://${config.kafka.brokers[0]}`,
    );
  });

  it('serves metrics on all interfaces, on the port Prometheus scrapes', () => {
    const config = composeConfig();
    expect(config.metrics.host).toBe('0.0.0.0');
    const prom = parseYaml(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const scraped = prom.scrape_configs
      .filter((c) => c.job_name.startsWith('pgcdc-'))
      .flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    // Every pgcdc service is scraped, and nothing else under the pgcdc jobs.
    expect(scraped.sort()).toEqual(pgcdcServices.map(([name]) => `${name}:${config.metrics.port}`).sort());
    for (const [name, s] of pgcdcServices) {
      const test = JSON.stringify(s.healthcheck?.test);
      expect(test, name).toContain(`:${config.metrics.port}/readyz`);
    }
  });
});

describe('docker-compose.yml safety rules', () => {
  const text = readFileSync(COMPOSE_FILE, 'utf8');

  it.each(services)('%s publishes its ports on the loopback interface only', (_name, s) => {
    const ports = (s as Service & { ports?: (string | { host_ip?: string })[] }).ports ?? [];
    for (const p of ports) {
      if (typeof p === 'string') expect(p, 'host IP 127.0.0.1 first').toMatch(/^127\.0\.0\.1:/);
      else expect(p.host_ip, JSON.stringify(p)).toBe('127.0.0.1');
    }
  });

  it('has no default password: every password variable is required (${VAR:?message})', () => {
    const refs = [...text.matchAll(/\$\{([A-Z0-9_]*PASSWORD[A-Z0-9_]*)(:?[-?+]?)([^}]*)\}/g)];
    expect(refs.length).toBeGreaterThan(0);
    for (const [ref, , op, message] of refs) {
      expect(op, ref).toBe(':?');
      expect(message, ref).toContain('deploy/.env');
    }
    const literal = services.flatMap(([name, s]) =>
      Object.entries(s.environment ?? {})
        .filter(([k, v]) => /PASSWORD/.test(k) && !/^\$\{/.test(String(v)))
        .map(([k]) => `${name}.${k}`),
    );
    expect(literal, 'passwords written into the file').toEqual([]);
    expect(text).not.toMatch(/admin\/admin|:-admin\}|:-pgcdc\}/);
  });

  it('keeps deploy/.env out of git and the image, and documents every variable it needs', () => {
    const required = [...new Set([...text.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]!))];
    const docs = read('docs/deployment.md');
    for (const v of required) expect(docs, `docs/deployment.md explains ${v}`).toContain(`${v}=`);
    expect(read('.gitignore').split('\n')).toContain('deploy/.env');
    expect(read('.dockerignore').split('\n')).toContain('deploy/.env');
  });
});

describe('monitoring services', () => {
  it('mount deploy/prometheus where Prometheus reads its config', () => {
    const prom = compose.services.prometheus!;
    const mount = mounts(prom).find(
      (m) => path.resolve(DEPLOY, m.source) === path.join(DEPLOY, 'prometheus'),
    );
    const configFile = argv(prom)
      .find((a) => a.startsWith('--config.file='))
      ?.split('=')[1];
    expect(configFile).toBe(`${mount!.target}/prometheus.yml`);
  });

  it('mount the Grafana provisioning and the dashboards where the provider looks', () => {
    const grafana = compose.services.grafana!;
    const byHost = new Map(mounts(grafana).map((m) => [path.resolve(DEPLOY, m.source), m.target]));
    expect(byHost.get(path.join(DEPLOY, 'grafana/provisioning'))).toBe('/etc/grafana/provisioning');
    const provider = parseYaml(read('deploy/grafana/provisioning/dashboards/pgcdc.yml')) as {
      providers: { options: { path: string } }[];
    };
    expect(byHost.get(path.join(DEPLOY, 'grafana/dashboards'))).toBe(provider.providers[0]?.options.path);
  });
});

// ---------- docker compose config ----------

/** `docker compose` (v2 plugin) or else the legacy `docker-compose` (v1), if installed. */
function composeCli(): { cmd: string[]; legacy: boolean } | undefined {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const res = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8' });
    if (res.status === 0) return { cmd, legacy: cmd.length === 1 };
  }
  return undefined;
}
const COMPOSE_CLI = composeCli();

describe.skipIf(!COMPOSE_CLI)(
  COMPOSE_CLI
    ? `${COMPOSE_CLI.cmd.join(' ')} config`
    : 'docker compose config (skipped: no Compose CLI here, neither the `docker compose` plugin nor docker-compose)',
  () => {
    it('accepts the compose file (no engine needed)', () => {
      const [bin, ...pre] = COMPOSE_CLI!.cmd;
      // docker-compose v1 predates the top-level `name`; it reads the file without it from stdin.
      const res = COMPOSE_CLI!.legacy
        ? spawnSync(bin!, ['-f', '-', '--project-directory', DEPLOY, 'config', '-q'], {
            cwd: DEPLOY,
            input: readFileSync(COMPOSE_FILE, 'utf8').replace(/^name:.*$/m, ''),
            encoding: 'utf8',
          })
        : spawnSync(bin!, [...pre, '-f', COMPOSE_FILE, 'config', '-q'], {
            cwd: PROJECT_ROOT,
            encoding: 'utf8',
          });
      expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
    });
  },
);
