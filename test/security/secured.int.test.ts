// The pipeline against real servers configured for production transport (dev/stack/secured*.ts,
// started once for this file and stopped after it): Kafka over SASL_SSL with SCRAM, PostgreSQL with
// ssl=on and verify-full (replication connection included), the registry behind nginx with TLS and
// basic auth. Ends equal; a wrong password, a wrong CA, a certificate for another host and wrong
// registry credentials are each a clear error with the fix, without a crash loop, and healthy
// events are never dead-lettered because the registry refused us. Planted secrets appear in no log
// line (trace level), no `status --json`, no `check` output and no error message.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { stackSettingsFromEnv } from '../../dev/stack/settings.ts';
import { startSecuredStack, type SecuredStack } from '../../dev/stack/secured-stack.ts';
import { createApp, createOpsWiring, startConsumer, startProducer } from '../../pipeline/compose.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { dlqTopicFor, type Config } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { runChecks } from '../../ops/check/index.ts';
import { stackUrls, waitUntil, withDeadline } from '../support/index.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runCli,
  spawnCli,
  stopProducer,
  waitForPeerEqual,
  type PipelineEnv,
  type Stops,
} from '../support/pipeline.ts';

const PLANTED_DB_PASSWORD = 'db-Planted-Pw-4471';
const PLANTED_WEBHOOK_SECRET = 'whsec_UGxhbnRlZFdlYmhvb2tTZWNyZXQxMjM=';

let secured: SecuredStack;
const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-secured-'));
const log = (m: string) => console.error(`[secured] ${m}`);

beforeAll(async () => {
  secured = await startSecuredStack(stackSettingsFromEnv(process.env), log);
}, 300_000);
afterAll(async () => {
  await secured?.stop();
}, 120_000);

let env: PipelineEnv | undefined;
const stops: Stops = [];
afterEach(async () => {
  if (env)
    await dropPipelineEnv(env, createApp(securedConfig(env), createLogger({ level: 'error' })).kafka, stops);
  env = undefined;
}, 180_000);

const withPassword = (url: string, password: string) => url.replace('postgres@', `postgres:${password}@`);

/** The raw configuration of `env` over the secured servers; `edit` changes it before parsing. */
function securedRaw(e: PipelineEnv, edit: (raw: Raw) => void = () => undefined): Raw {
  const c = e.config;
  const ca = { caFile: secured.pki.caFile };
  const raw: Raw = {
    source: {
      url: withPassword(e.source.url, PLANTED_DB_PASSWORD),
      slot: c.source.slot,
      publication: c.source.publication,
      heartbeatIntervalMs: 1000,
      statusIntervalMs: 500,
      tls: { ...ca },
    },
    kafka: {
      brokers: secured.kafkaBrokers,
      topicPrefix: c.kafka.topicPrefix,
      partitions: 3,
      sessionTimeoutMs: 6000,
      tls: { ...ca },
      sasl: {
        mechanism: 'scram-sha-512',
        username: secured.credentials.kafkaUser,
        password: secured.credentials.kafkaPassword,
      },
    },
    registry: {
      url: secured.registryUrl,
      auth: {
        type: 'basic',
        username: secured.credentials.registryUser,
        password: secured.credentials.registryPassword,
      },
      tls: { ...ca },
    },
    targets: [{ name: 'peer', type: 'postgres', url: e.peer.url, tls: { ...ca } }],
    metrics: { port: 0 },
    log: { level: 'warn' },
  };
  edit(raw);
  return raw;
}
type Raw = Record<string, Record<string, unknown> | Array<Record<string, unknown>>> & {
  source: Record<string, unknown>;
  kafka: Record<string, unknown>;
  registry: Record<string, unknown>;
  targets: Array<Record<string, unknown>>;
};

const securedConfig = (e: PipelineEnv, edit?: (raw: Raw) => void): Config => parseConfig(securedRaw(e, edit));

function configFile(raw: Raw): string {
  const file = path.join(mkdtempSync(path.join(dir, 'cfg-')), 'pgcdc.yaml');
  writeFileSync(file, stringify(raw));
  return file;
}

/** env on the ssl=on cluster (databases created over a plain loopback connection). */
async function securedEnv(name: string): Promise<PipelineEnv> {
  return pipelineEnv({ ...stackUrls(), adminUrl: secured.pgUrl('postgres') }, name);
}

async function checks(config: Config) {
  const wiring = createOpsWiring(config, createLogger({ level: 'error' }));
  return withDeadline(runChecks(config, wiring.kafka, wiring.pg), 60_000, 'pgcdc check');
}
const finding = (results: Awaited<ReturnType<typeof checks>>, id: string) => results.find((r) => r.id === id);

describe('over SASL_SSL + SCRAM, verify-full PostgreSQL and the registry behind TLS + basic auth', () => {
  it('the pipeline runs end to end and ends equal; the replication connection is TLS', async () => {
    env = await securedEnv('sec_e2e');
    const app = createApp(securedConfig(env), createLogger({ level: 'warn' }), { defaultMetrics: false });
    const p = startProducer(app);
    stops.push(() => stopProducer(p));
    const consumer = await withDeadline(startConsumer(app, 'peer'), 120_000, 'starting the consumer');
    stops.push(() => consumer.stop());
    await query(
      env.source.url,
      "INSERT INTO users (id, email, username) SELECT i, 'u' || i || '@x.io', 'u' || i FROM generate_series(1, 200) i",
    );
    await query(env.source.url, 'UPDATE users SET username = username || $1 WHERE id % 3 = 0', ['-x']);
    await query(env.source.url, 'DELETE FROM users WHERE id % 7 = 0');
    const cmp = await waitForPeerEqual(env, 120_000);
    expect(cmp.equal).toBe(true);
    const walsenders = await query<{ ssl: boolean }>(
      env.source.url,
      "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.backend_type = 'walsender'",
    );
    expect(walsenders.length).toBeGreaterThan(0);
    expect(walsenders.every((w) => w.ssl)).toBe(true);
    const targetSessions = await query<{ n: string }>(
      env.peer.url,
      "SELECT count(*) AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name LIKE 'pgcdc%' AND s.ssl",
    );
    expect(Number(targetSessions[0]?.n)).toBeGreaterThan(0);
    const ok = await checks(securedConfig(env));
    expect(ok.filter((r) => r.level === 'ERROR')).toEqual([]);
  });
});

describe('refusals are clear, explained by check, and never a crash loop', () => {
  it('a wrong SASL password: check names the user and the fix; produce says why and backs off', async () => {
    env = await securedEnv('sec_pw');
    const raw = securedRaw(env, (r) => {
      (r.kafka.sasl as Record<string, unknown>).password = 'Wrong-Password-991';
    });
    const f = finding(await checks(parseConfig(raw)), 'kafka.connect');
    expect(f?.level).toBe('ERROR');
    expect(f?.message).toMatch(/SASL scram-sha-512 authentication failed for user pgcdc/);
    expect(f?.fix).toMatch(/kafka\.sasl\.username/);
    // the producer keeps the process up and restarts with a growing delay (backoff), not in a loop
    const child = spawnCli(['produce', '--config', configFile(raw), '--metrics-port', '0']);
    const failures = () =>
      child
        .output()
        .split('\n')
        .filter(
          (l) => l.includes('"component":"producer"') && l.includes('authentication failed for user pgcdc'),
        )
        .map((l) => (JSON.parse(l) as { time: number }).time);
    try {
      await waitUntil(() => failures().length >= 4, {
        timeoutMs: 90_000,
        what: 'four failed producer sessions',
      });
      const t = failures();
      const gaps = t.slice(1).map((x, i) => x - t[i]!);
      log(`restart gaps after a wrong SASL password: ${gaps.join(', ')} ms`);
      expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
      expect(child.proc.exitCode).toBeNull();
      expect(child.output()).not.toContain('Wrong-Password-991');
    } finally {
      await child.kill('SIGTERM');
    }
  });

  it('a wrong CA: check says the certificate is not signed by a trusted CA and names kafka.tls.caFile', async () => {
    env = await securedEnv('sec_ca');
    const f = finding(
      await checks(
        securedConfig(
          env,
          (r) => ((r.kafka.tls as Record<string, unknown>).caFile = secured.pki.otherCaFile),
        ),
      ),
      'kafka.connect',
    );
    expect(f?.level).toBe('ERROR');
    expect(f?.message).toMatch(/not signed by a trusted CA/);
    expect(f?.fix).toMatch(/kafka\.tls\.caFile/);
  });

  it('an unknown SASL mechanism for the listener: check says so', async () => {
    env = await securedEnv('sec_mech');
    const f = finding(
      await checks(
        securedConfig(env, (r) => ((r.kafka.sasl as Record<string, unknown>).mechanism = 'plain')),
      ),
      'kafka.connect',
    );
    expect(f?.level).toBe('ERROR');
    expect(`${f?.message} ${f?.fix}`).toMatch(/mechanism/i);
  });

  it('PostgreSQL verify-full refuses a certificate for another host, for the source and a target', async () => {
    env = await securedEnv('sec_host');
    const byIp = (url: string) => url.replace('@localhost:', '@127.0.0.1:');
    const results = await checks(
      securedConfig(env, (r) => {
        r.source.url = byIp(r.source.url as string);
        r.targets[0]!.url = byIp(r.targets[0]!.url as string);
      }),
    );
    for (const id of ['source.connect', 'target.peer.connect']) {
      const f = finding(results, id);
      expect(f?.level, id).toBe('ERROR');
      expect(f?.message, id).toMatch(/not issued for the host/);
    }
    // the same host with verify-ca is accepted: the chain is right, only the name differs
    const ca = await checks(
      securedConfig(env, (r) => {
        r.source.url = byIp(r.source.url as string);
        r.source.tls = { caFile: secured.pki.caFile, mode: 'verify-ca' };
      }),
    );
    expect(finding(ca, 'source.connect')?.level).toBe('OK');
  });

  it('wrong registry credentials: check explains; a consumer waits (never dead-letters) and goes on once they are right', async () => {
    env = await securedEnv('sec_reg');
    const wrong = securedConfig(
      env,
      (r) => ((r.registry.auth as Record<string, unknown>).password = 'nope-reg-7'),
    );
    const f = finding(await checks(wrong), 'registry.connect');
    expect(f?.level).toBe('ERROR');
    expect(f?.message).toMatch(/HTTP 401/);
    expect(f?.fix).toMatch(/registry\.auth/);

    // the producer is right; the consumer reads its registry password from a file that is wrong
    const app = createApp(securedConfig(env), createLogger({ level: 'warn' }), { defaultMetrics: false });
    const p = startProducer(app);
    stops.push(() => stopProducer(p));
    await query(
      env.source.url,
      "INSERT INTO users (id, email, username) SELECT i, 'u' || i || '@x.io', 'u' || i FROM generate_series(1, 20) i",
    );
    const pwFile = path.join(mkdtempSync(path.join(dir, 'pw-')), 'registry-password');
    writeFileSync(pwFile, 'still-wrong\n');
    const logFile = path.join(dir, `consumer-${Date.now()}.log`);
    const consumerApp = createApp(
      securedConfig(env, (r) => {
        r.registry.auth = { type: 'basic', username: secured.credentials.registryUser, passwordFile: pwFile };
      }),
      createLogger({ level: 'info', file: logFile }),
      { defaultMetrics: false },
    );
    const starting = startConsumer(consumerApp, 'peer');
    await waitUntil(() => readFileSync(logFile, 'utf8').includes('schema registry unreachable; retrying'), {
      timeoutMs: 60_000,
      what: 'the consumer to report the refused registry and retry',
    });
    expect(readFileSync(logFile, 'utf8')).toMatch(/registry\.auth/);
    writeFileSync(pwFile, `${secured.credentials.registryPassword}\n`);
    const consumer = await withDeadline(
      starting,
      120_000,
      'the consumer to start once the password is right',
    );
    stops.push(() => consumer.stop());
    await waitForPeerEqual(env, 120_000);
    const admin = app.kafka.admin();
    await admin.connect();
    try {
      const dlq = await admin.describeTopic(dlqTopicFor(app.config.kafka, app.config.targets[0]!));
      expect(dlq).toBeUndefined(); // never created: nothing was dead-lettered
    } finally {
      await admin.disconnect();
    }
  });
});

describe('planted secrets', () => {
  it('appear in no trace log line, no status --json, no check output, no error message', async () => {
    env = await securedEnv('sec_leak');
    const planted = [
      PLANTED_DB_PASSWORD,
      secured.credentials.kafkaPassword,
      secured.credentials.registryPassword,
      PLANTED_WEBHOOK_SECRET,
      PLANTED_WEBHOOK_SECRET.slice('whsec_'.length),
    ];
    const raw = securedRaw(env, (r) => {
      r.log = { level: 'trace' };
      r.targets.push({
        name: 'hook',
        type: 'webhook',
        url: 'https://localhost:1/hook',
        secret: PLANTED_WEBHOOK_SECRET,
      });
    });
    const file = configFile(raw);
    const failing = securedRaw(
      env,
      (r) => ((r.kafka.tls as Record<string, unknown>).caFile = secured.pki.otherCaFile),
    );
    let producerError = '';
    // a producer that cannot connect keeps its reason in its state (shown by status): no secret in it
    const failingApp = createApp(parseConfig(failing), createLogger({ level: 'silent' }), {
      defaultMetrics: false,
    });
    const failingProducer = startProducer(failingApp);
    try {
      await waitUntil(() => failingProducer.producer.state().lastError !== undefined, {
        timeoutMs: 90_000,
        what: 'the producer to report the wrong CA',
      });
      const reason = failingProducer.producer.state().lastError ?? '';
      expect(reason).toMatch(/not signed by a trusted CA/);
      producerError = reason;
    } finally {
      await stopProducer(failingProducer);
    }
    const logFile = path.join(dir, `trace-${Date.now()}.log`);
    const app = createApp(parseConfig(raw), createLogger({ level: 'trace', file: logFile }), {
      defaultMetrics: false,
    });
    const p = startProducer(app);
    stops.push(() => stopProducer(p));
    const consumer = await withDeadline(startConsumer(app, 'peer'), 120_000, 'starting the consumer');
    stops.push(() => consumer.stop());
    await query(env.source.url, "INSERT INTO users (id, email, username) VALUES (1, 'a@x.io', 'a')");
    await waitForPeerEqual(env, 120_000);
    const traceLog = readFileSync(logFile, 'utf8');
    const outputs: Record<string, string> = { 'trace log': traceLog };
    const status = await runCli(['status', '--json', '--config', file, '--log-level', 'trace']);
    outputs['status --json'] = status.stdout + status.stderr;
    const check = await runCli(['check', '--config', file, '--log-level', 'trace']);
    outputs.check = check.stdout + check.stderr;
    const checkJson = await runCli(['check', '--json', '--config', file]);
    outputs['check --json'] = checkJson.stdout + checkJson.stderr;
    // error messages: a failing check names what failed, never the secrets around it
    const failed = await runCli(['check', '--config', configFile(failing), '--log-level', 'trace']);
    outputs['failed check'] = failed.stdout + failed.stderr;
    expect(traceLog.split('\n').length).toBeGreaterThan(3);
    expect(failed.stdout + failed.stderr).toMatch(/not signed by a trusted CA/);
    outputs['producer error'] = producerError;
    for (const [where, text] of Object.entries(outputs))
      for (const secret of planted)
        expect(text.includes(secret), `${where} carries a planted secret`).toBe(false);
  }, 300_000);
});
