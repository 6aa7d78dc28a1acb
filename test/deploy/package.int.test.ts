// The npm package as a user gets it: `npm pack` (which compiles, prepack -> npm run build) and
// `npm install <tarball>` into an empty folder, then the installed `pgcdc` runs --help and `check`
// against the test stack with compiled JavaScript only (no tsx in the package's dependencies), and
// the webhook verification helper is imported by its documented specifier. The same tarball runs
// on Node.js 24 too, fetched as the npm registry's `node` package (the machine has Node 20).
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../dev/stack/settings.ts';
import { stackUrls } from '../support/index.ts';
import { pipelineEnv, type PipelineEnv } from '../support/pipeline.ts';

const execFileP = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** Packing compiles the whole product (tsc): minutes on a loaded 2-core machine. */
const PACK_MS = 300_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  try {
    const r = await execFileP(cmd, args, {
      cwd,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 16 << 20,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; killed?: boolean; stdout?: string; stderr?: string };
    if (typeof e.code === 'number') return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    throw new Error(`${cmd} ${args.join(' ')} failed or did not finish within ${timeoutMs} ms`, {
      cause: err,
    });
  }
}

let work: string;
let app: string;
let env: PipelineEnv;
const bin = () => path.join(app, 'node_modules/pgcdc/dist/cli/main.js');

/** Signs and verifies one request through the installed package, by `specifier`. */
const VERIFY_SCRIPT = (specifier: string) => `
import { signWebhook, verifyWebhook } from '${specifier}';
const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const body = Buffer.from('{"id":"0/16B37C0:1"}');
const ts = Math.floor(Date.now() / 1000);
const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook({ secret, id: 'msg_1', timestamp: ts, body }) };
const ok = verifyWebhook({ secret, headers, body, toleranceSeconds: 300 });
const bad = verifyWebhook({ secret, headers, body: Buffer.from('{}'), toleranceSeconds: 300 });
console.log(JSON.stringify({ ok: ok.ok, tampered: bad.ok }));
`;

beforeAll(
  async () => {
    work = mkdtempSync(path.join(tmpdir(), 'pgcdc-pack-'));
    const packed = await run(NPM, ['pack', '--pack-destination', work, '--json'], PROJECT_ROOT, PACK_MS);
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    expect(tarball, packed.stdout).toBeDefined();
    app = path.join(work, 'app');
    mkdirSync(app);
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'user-app', private: true, type: 'module' }),
    );
    const installed = await run(
      NPM,
      ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, tarball!)],
      app,
      PACK_MS,
    );
    expect(installed.code, installed.stderr).toBe(0);
    env = await pipelineEnv(stackUrls(), 'pack');
  },
  2 * PACK_MS + 60_000,
);

afterAll(async () => {
  await env?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball, installed into an empty folder', () => {
  it('holds compiled JavaScript, the contracts and the config schema; no sources, tests or dev tooling', () => {
    const pkgDir = path.join(app, 'node_modules/pgcdc');
    expect(existsSync(path.join(pkgDir, 'dist/cli/main.js'))).toBe(true);
    expect(existsSync(path.join(pkgDir, 'dist/schemas/avro/users-value.avsc'))).toBe(true);
    expect(existsSync(path.join(pkgDir, 'deploy/pgcdc.schema.json'))).toBe(true);
    for (const absent of ['cli/main.ts', 'test', 'dev', 'cli/bin.js', 'node_modules/tsx'])
      expect(existsSync(path.join(pkgDir, absent)), absent).toBe(false);
    const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies).not.toHaveProperty('tsx');
  });

  it('runs `pgcdc --help` through the bin link', async () => {
    const r = await run(path.join(app, 'node_modules/.bin/pgcdc'), ['--help'], app, 60_000);
    expect(r.code, r.stderr).toBe(0);
    for (const verb of ['produce', 'consume', 'run', 'check', 'status', 'replay', 'slots', 'dlq', 'snapshot'])
      expect(r.stdout).toContain(verb);
  });

  it('runs `pgcdc check` against the test stack', async () => {
    const r = await run(
      path.join(app, 'node_modules/.bin/pgcdc'),
      ['check', '-c', env.configFile],
      app,
      120_000,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^OK +source\.wal_level /m);
    expect(r.stdout).toMatch(/^OK +registry\.value_schema /m);
    expect(r.stdout).toMatch(/^0 error\(s\)/m);
  });

  it.each(['pgcdc/webhook/verify', 'pgcdc/consumers/webhook/verify.ts'])(
    'imports the webhook verification helper as %s',
    async (specifier) => {
      const script = path.join(app, `verify-${specifier.replace(/\W/g, '_')}.mjs`);
      writeFileSync(script, VERIFY_SCRIPT(specifier));
      const r = await run(process.execPath, [script], app, 60_000);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ok: true, tampered: false });
    },
  );

  it('runs on Node.js 24 (the registry `node` package): --help and the verification helper', async () => {
    const which = await run(NPM, ['exec', '--yes', '--package=node@24', '--', 'which', 'node'], app, 240_000);
    expect(which.code, which.stderr).toBe(0);
    const node24 = which.stdout.trim();
    const version = await run(node24, ['--version'], app, 30_000);
    expect(version.stdout).toMatch(/^v24\./);
    const help = await run(node24, [bin(), '--help'], app, 60_000);
    expect(help.code, help.stderr).toBe(0);
    const script = path.join(app, 'verify-node24.mjs');
    writeFileSync(script, VERIFY_SCRIPT('pgcdc/webhook/verify'));
    const verify = await run(node24, [script], app, 60_000);
    expect(JSON.parse(verify.stdout)).toEqual({ ok: true, tampered: false });
    const check = await run(node24, [bin(), 'check', '-c', env.configFile], app, 120_000);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 300_000);
});
