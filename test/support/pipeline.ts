// A pipeline under test: a fresh source database (with `users`), a fresh peer database, unique
// slot/publication/topic prefix, a Config for them (and the same as a YAML file for CLI children),
// and helpers to run the producer/consumers in-process or as killable child processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../../dev/stack/settings.ts';
import { createTableSql } from '../../consumers/postgres/sql.ts';
import { createApp, startConsumer, startProducer, type App } from '../../pipeline/compose.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { dlqTopicFor, groupFor, topicFor } from '../../pipeline/config/schema.ts';
import type {
  InMessage,
  KafkaAdminPort,
  KafkaClientFactory,
  KafkaProducerPort,
} from '../../pipeline/kafka/port.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { statusTopicFor } from '../../pipeline/supervision/status-store.ts';
import { compareTables, type CompareResult } from '../../dev/verify/compare.ts';
import { loadContract } from '../../schemas/contract.ts';
import { parseLsn, type Lsn } from '../../schemas/lsn.ts';
import { freshDatabase, TEST_CLIENT_TIMEOUTS, withClient, type FreshDatabase } from './database.ts';
import { withDeadline } from './deadline.ts';
import { randomName } from './names.ts';
import type { StackUrls } from './provided.ts';
import { waitUntil } from './wait.ts';

export interface PipelineEnv {
  source: FreshDatabase;
  peer: FreshDatabase;
  config: Config;
  configFile: string;
  topic: string;
  drop(): Promise<void>;
}

/** A fresh source and peer with a config; `overrides.source` / `overrides.peer` are merged into the
 * source section / the peer target, any other key replaces its section. */
export async function pipelineEnv(
  urls: StackUrls,
  name: string,
  overrides: Record<string, unknown> = {},
): Promise<PipelineEnv> {
  const source = await freshDatabase(urls.adminUrl, `${name}_src`, { usersTable: true });
  const peer = await freshDatabase(urls.adminUrl, `${name}_peer`);
  const raw = {
    source: {
      url: source.url,
      slot: randomName(`${name}_slot`),
      publication: randomName(`${name}_pub`),
      heartbeatIntervalMs: 1000,
      statusIntervalMs: 500,
      ...(overrides.source as object | undefined),
    },
    kafka: {
      brokers: urls.kafkaBrokers,
      topicPrefix: randomName(name),
      partitions: 3,
      sessionTimeoutMs: 6000,
    },
    registry: { url: urls.registryUrl },
    producer: { batchMaxMessages: 1000, lingerMs: 5 },
    targets: [
      {
        name: 'peer',
        type: 'postgres',
        url: peer.url,
        batchSize: 500,
        ...(overrides.peer as object | undefined),
      },
    ],
    metrics: { port: 0, consumePort: 0 },
    log: { level: 'warn' },
    ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== 'source' && k !== 'peer')),
  };
  const config = parseConfig(raw);
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-test-'));
  const configFile = path.join(dir, 'pgcdc.yaml');
  writeFileSync(configFile, stringify(raw));
  return {
    source,
    peer,
    config,
    configFile,
    topic: topicFor(config.kafka, config.source),
    async drop() {
      // The pipeline's own slot is expected; anything else left behind is a leak drop() reports.
      await waitUntil(
        async () => {
          await query(
            source.url,
            'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
            [config.source.slot],
          );
          return (
            (
              await query(source.url, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
                config.source.slot,
              ])
            ).length === 0
          );
        },
        { timeoutMs: 15_000, what: `slot ${config.source.slot} to be released and dropped` },
      );
      await source.drop();
      await peer.drop();
    },
  };
}

/**
 * Tears a pipeline down: runs `stops` (the latest first), deletes its change topic, status topic,
 * and the first target's dead-letter topic and consumer group (each may be missing) with admin
 * clients of `kafka`, then drops the databases and the slot (`env.drop()`).
 */
export async function dropPipelineEnv(env: PipelineEnv, kafka: KafkaClientFactory, stops: Stops = []) {
  for (const stop of stops.splice(0).reverse())
    await withDeadline(stop(), STOP_DEADLINE_MS, `stop ${stop.toString()}`);
  const admin = kafka.admin();
  const groups = kafka.groupAdmin();
  await withDeadline(
    Promise.all([admin.connect(), groups.connect()]),
    30_000,
    'connecting the Kafka admin clients',
  );
  const target = env.config.targets[0]!;
  for (const t of [
    env.topic,
    statusTopicFor(env.config.kafka, env.config.operations),
    dlqTopicFor(env.config.kafka, target),
  ])
    await withDeadline(admin.deleteTopic(t), 30_000, `deleting topic ${t}`).catch(() => undefined);
  const group = groupFor(env.config.kafka, target);
  await withDeadline(groups.deleteGroup(group), 30_000, `deleting group ${group}`).catch(() => undefined);
  await withDeadline(admin.disconnect(), 30_000, 'disconnecting the Kafka admin client');
  await withDeadline(groups.disconnect(), 30_000, 'disconnecting the Kafka group admin client');
  await env.drop();
}

/** Creates the peer's `users` table the way the postgres target would (the contract's shape). */
export async function createPeerTable(env: PipelineEnv): Promise<void> {
  const contract = loadContract();
  await query(
    env.peer.url,
    createTableSql({
      schema: 'public',
      table: 'users',
      columns: contract.columns,
      keyColumns: contract.keyColumns,
    }),
  );
}

export function testApp(config: Config, wrap?: (k: KafkaClientFactory) => KafkaClientFactory): App {
  const app = createApp(config, createLogger({ level: process.env.PGCDC_TEST_LOG ?? 'warn' }), {
    defaultMetrics: false,
  });
  return wrap ? { ...app, kafka: wrap(app.kafka) } : app;
}

/** How long a graceful stop of an in-process stage may take before the test fails naming it. */
export const STOP_DEADLINE_MS = 45_000;

/**
 * Producer and the `peer` consumer in this process; `stop()` stops both gracefully, each step
 * within STOP_DEADLINE_MS (a producer whose Kafka sends are held never finishes its stop: open
 * the gate first).
 */
export async function runInProcess(app: App, opts: { producer?: boolean; targets?: string[] } = {}) {
  const p = opts.producer === false ? undefined : startProducer(app);
  const targets = opts.targets ?? ['peer'];
  const consumers = await withDeadline(
    Promise.all(targets.map((t) => startConsumer(app, t))),
    120_000,
    `starting consumer(s) ${targets.join(', ')}`,
  );
  return {
    producer: p?.producer,
    consumers,
    async stop() {
      if (p) await stopProducer(p);
      await withDeadline(
        Promise.all(consumers.map((c) => c.stop())),
        STOP_DEADLINE_MS,
        `stopping consumer(s) ${targets.join(', ')}`,
      );
    },
  };
}

/** startConsumer(app, target) within deadlines: a start or a stop() that hangs names the target. */
export async function startTestConsumer(
  app: App,
  target: string,
): Promise<Awaited<ReturnType<typeof startConsumer>>> {
  const c = await withDeadline(startConsumer(app, target), 120_000, `starting consumer ${target}`);
  const stop = c.stop.bind(c);
  return Object.assign(c, {
    stop: () => withDeadline(stop(), STOP_DEADLINE_MS, `stopping consumer ${target} (consumer.stop())`),
  });
}

/** The graceful stop of a producer started with startProducer: stop(), then the end of its run. */
export async function stopProducer(p: ReturnType<typeof startProducer>): Promise<void> {
  await withDeadline(p.producer.stop(), STOP_DEADLINE_MS, 'stopping the producer (producer.stop())');
  await withDeadline(p.done, STOP_DEADLINE_MS, "the producer's run to end after stop()");
}

/** What a test file stops in its afterAll, the latest first. */
export type Stops = (() => Promise<unknown>)[];

/** startProducer(app); its graceful stop (the producer, then the end of its run) goes onto `stops`. */
export function runProducer(app: App, stops: Stops) {
  const started = startProducer(app);
  stops.push(() => stopProducer(started));
  return started.producer;
}

/** runProducer(app, stops), then startConsumer(app, target) with its stop onto `stops` too. */
export async function runPipeline(app: App, stops: Stops, target = 'peer') {
  const producer = runProducer(app, stops);
  const consumer = await withDeadline(startConsumer(app, target), 120_000, `starting consumer ${target}`);
  stops.push(() => withDeadline(consumer.stop(), STOP_DEADLINE_MS, `stopping consumer ${target}`));
  return { producer, consumer };
}

/**
 * Kafka sends that wait while the gate is closed: Kafka never acknowledges what is sent in that
 * time. A send that passed the gate before it closed is still acknowledged (inFlight, lastDoneAt).
 */
export function gatedKafka(inner: KafkaClientFactory) {
  let open = true;
  let release: () => void = () => undefined;
  let opened = Promise.resolve();
  let blocked = 0;
  let inFlight = 0;
  let lastDoneAt = 0;
  const wrap = (p: KafkaProducerPort): KafkaProducerPort => ({
    connect: () => p.connect(),
    disconnect: () => p.disconnect(),
    async send(topic, messages) {
      while (!open) {
        blocked++;
        await opened;
      }
      inFlight++;
      try {
        return await p.send(topic, messages);
      } finally {
        inFlight--;
        lastDoneAt = Date.now();
      }
    },
  });
  return {
    factory: { ...inner, producer: () => wrap(inner.producer()) } satisfies KafkaClientFactory,
    close() {
      open = false;
      opened = new Promise((r) => (release = r));
    },
    open() {
      open = true;
      release();
    },
    blockedSends: () => blocked,
    /** sends that passed the gate and are not acknowledged yet */
    inFlight: () => inFlight,
    /** when the last send that passed the gate ended (ms since the epoch; 0: none yet) */
    lastDoneAt: () => lastDoneAt,
  };
}

/**
 * The slot's confirmed position once everything Kafka acknowledged before `gate` closed has been
 * acknowledged to the server as well. Two things still move it after close(): a send that had
 * passed the gate is still acknowledged by Kafka, and the position keeper stores and acknowledges
 * a Kafka-acknowledged position up to source.ackIntervalMs later (PositionKeeper). So: no send in
 * flight, and the slot unchanged for `quietMs` since both its last move and the last send's end.
 * From then on, while the gate stays closed, the slot must not move.
 */
export async function slotSettledBehindGate(
  env: PipelineEnv,
  gate: ReturnType<typeof gatedKafka>,
  quietMs = env.config.source.ackIntervalMs + 1000,
): Promise<Lsn> {
  let last: Lsn | undefined;
  let movedAt = Date.now();
  return waitUntil(
    async () => {
      const now = parseLsn((await slotConfirmedLsn(env)) ?? '0/0');
      if (now !== last) {
        last = now;
        movedAt = Date.now();
      }
      const quietSince = Math.max(movedAt, gate.lastDoneAt());
      return gate.inFlight() === 0 && Date.now() - quietSince >= quietMs && now;
    },
    {
      what: 'the acknowledgements of what Kafka confirmed before the gate closed to settle',
      timeoutMs: 60_000,
    },
  );
}

export interface CliChild {
  proc: ChildProcess;
  output(): string;
  /** Peak resident set size (VmHWM) in MiB, read from /proc while the process lives. */
  peakRssMb(): number;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliChild {
  const proc = spawn(process.execPath, [path.join(PROJECT_ROOT, 'cli/bin.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    peakRssMb() {
      const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return Math.round(kb / 1024);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return withDeadline(exited, 60_000, `pgcdc ${args.join(' ')} to exit after ${signal}`);
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const execFileP = promisify(execFile);

/** Runs a pgcdc command to its end: exit code, stdout, stderr. Killed (an error) after `timeoutMs`. */
export async function runCli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileP(
      process.execPath,
      [path.join(PROJECT_ROOT, 'cli/bin.js'), ...args],
      { cwd: PROJECT_ROOT, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; killed?: boolean; stdout?: string; stderr?: string };
    if (typeof e.code === 'number') return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    if (e.killed) {
      throw new Error(
        `pgcdc ${args.join(' ')} did not finish within ${timeoutMs} ms; its output:\n${e.stdout ?? ''}${e.stderr ?? ''}`,
        { cause: err },
      );
    }
    throw err;
  }
}

export async function query<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  return withClient(url, async (c) => (await c.query<T>(text, values)).rows);
}

export function compareWithPeer(env: PipelineEnv, table = 'users'): Promise<CompareResult> {
  return compareTables(
    { url: env.source.url, schema: 'public', table: 'users' },
    { url: env.peer.url, schema: 'public', table },
    loadContract().columns,
  );
}

/** Waits until the peer equals the source row by row; the timeout message names what differs. */
export async function waitForPeerEqual(env: PipelineEnv, timeoutMs = 90_000): Promise<CompareResult> {
  let last: CompareResult | undefined;
  try {
    return await waitUntil(
      async () => {
        last = await compareWithPeer(env);
        return last.equal && last;
      },
      { timeoutMs, intervalMs: 300, what: 'the peer to equal the source' },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}: ${JSON.stringify({ ...last, missing: last?.missing.slice(0, 5), extra: last?.extra.slice(0, 5) })}`,
    );
  }
}

export async function slotConfirmedLsn(env: PipelineEnv): Promise<string | undefined> {
  const rows = await query<{ lsn: string }>(
    env.source.url,
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [env.config.source.slot],
  );
  return rows[0]?.lsn;
}

/** One call of a throwaway Kafka admin client (connected, then disconnected), within 30 s. */
function askAdmin<T>(
  kafka: KafkaClientFactory,
  what: string,
  fn: (a: KafkaAdminPort) => Promise<T>,
): Promise<T> {
  const admin = kafka.admin();
  const call = (async () => {
    await admin.connect();
    return fn(admin).finally(() => admin.disconnect());
  })();
  return withDeadline(call, 30_000, what);
}

/** Reads every message of a topic up to its current end with a throwaway group. */
export async function readTopic(kafka: KafkaClientFactory, topic: string): Promise<InMessage[]> {
  const ends = await askAdmin(kafka, `the offsets of topic ${topic}`, (a) => a.topicOffsets(topic));
  const expected = ends.reduce((n, p) => n + Number(p.high - p.low), 0);
  const got: InMessage[] = [];
  if (expected === 0) return got;
  const consumer = kafka.consumer(randomName('reader'));
  try {
    await withDeadline(
      consumer.run(topic, (batch) => {
        got.push(...batch.messages);
        return Promise.resolve({ kind: 'done' });
      }),
      60_000,
      `a reader of topic ${topic} to join`,
    );
    await waitUntil(() => got.length >= expected, {
      timeoutMs: 30_000,
      what: `${expected} messages from ${topic}`,
    });
  } finally {
    await withDeadline(consumer.stop(), 30_000, `stopping the reader of topic ${topic}`);
  }
  return got;
}

/** The messages of the target's dead-letter topic ([] when it was never created). */
export async function deadLetters(kafka: KafkaClientFactory, env: PipelineEnv, target = 'peer') {
  const topic = dlqTopicFor(env.config.kafka, { name: target });
  const exists = await askAdmin(kafka, `describing topic ${topic}`, (a) => a.describeTopic(topic));
  return exists ? readTopic(kafka, topic) : [];
}

/**
 * SQLSTATEs of a transaction the server aborted because of another writer (deadlock, serialization
 * failure): the writers' own race at the source, not a pipeline fault. The step is rolled back and
 * the loop goes on; the source simply does not hold that transaction.
 */
const WRITER_RACES = new Set(['40P01', '40001']);

/**
 * Runs `step` in a loop on one connection (`client`) until stop(); stop() resolves with `counts`
 * once the current step finished and the connection is closed (and rejects if a step failed).
 * A step the server aborted for a deadlock or a serialization failure with another test writer is
 * rolled back and counted in `aborted()`; any other error ends the loop and fails stop().
 */
export function writerLoop<C>(client: pg.ClientConfig, counts: C, step: (c: pg.Client) => Promise<void>) {
  let stopping = false;
  let aborted = 0;
  const run = (async () => {
    const c = new pg.Client({ ...TEST_CLIENT_TIMEOUTS, ...client });
    await c.connect();
    try {
      while (!stopping) {
        try {
          await step(c);
        } catch (err) {
          if (!WRITER_RACES.has((err as { code?: string }).code ?? '')) throw err;
          await c.query('ROLLBACK');
          aborted++;
        }
      }
    } finally {
      await c.end();
    }
  })();
  return {
    counts,
    aborted: () => aborted,
    async stop(): Promise<C> {
      stopping = true;
      await withDeadline(run, 60_000, 'a writer loop to finish its step and close');
      return counts;
    },
  };
}

/**
 * Keeps writing to `users` (inserts, updates, deletes; several rows per transaction, rows of one
 * transaction sharing its commit LSN) until stop() is called. Resolves stop() with the counts.
 */
export function continuousWriter(url: string, seed = 1) {
  const counts = { txns: 0, inserts: 0, updates: 0, deletes: 0 };
  let n = 0;
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648), x / 2147483648);
  return writerLoop({ connectionString: url }, counts, async (c) => {
    await c.query('BEGIN');
    for (let i = 0; i < 5; i++) {
      n++;
      await c.query(
        "INSERT INTO users (email, username, bio, balance) VALUES ($1, $2, repeat('b', $3), $4)",
        [`w${seed}-${n}@example.org`, `w${n}`, Math.floor(rand() * 3000), (rand() * 1000).toFixed(2)],
      );
    }
    const upd = await c.query(
      "UPDATE users SET city = 'c' || floor(random() * 100)::text, updated_at = clock_timestamp() WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT 3)",
    );
    const del = await c.query(
      'DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT 1)',
    );
    await c.query('COMMIT');
    // counted once committed (a transaction aborted by a deadlock with another writer is not)
    counts.txns++;
    counts.inserts += 5;
    counts.updates += upd.rowCount ?? 0;
    counts.deletes += del.rowCount ?? 0;
  });
}
