// The fault-injection harness of test/faults: surroundings a test owns and may break without
// touching the shared stack (other runs use it at the same time):
//   - a TCP proxy in front of a server (the registry, the peer Postgres): cut() is the outage
//     (listener closed, live connections reset), restore() ends it;
//   - a Kafka broker of the test's own (Kafka clients follow advertised listeners, so a proxy cannot
//     cut Kafka): stop() / start() keep its data;
//   - a small Postgres cluster of the test's own, for server settings the shared one must not get
//     (a tiny max_slot_wal_keep_size) or a WAL that no other test writes to;
// plus what every fault test checks at the end: the events in the topic (decoded, per-key order)
// and the dead-letter topic.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { startKafka, stopKafka } from '../../dev/stack/kafka.ts';
import { stackSettingsFromEnv, StackSettingsSchema } from '../../dev/stack/settings.ts';
import { parseLsn, type Lsn } from '../../schemas/lsn.ts';
import { createApp, type App } from '../../pipeline/compose.ts';
import type { InMessage, KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { loadContract } from '../../schemas/contract.ts';
import { waitUntil } from './index.ts';
import { freePort, startOwnCluster } from './cluster.ts';
import { query, readTopic, runCli, type PipelineEnv } from './pipeline.ts';

export { freePort } from './cluster.ts';
export { deadLetters } from './pipeline.ts';

/** Runs a pgcdc command to its end and returns its output; fails on a non-zero exit. */
export async function pgcdc(args: string[]): Promise<string> {
  const r = await runCli(args, 120_000);
  const output = `${r.stdout}${r.stderr}`;
  if (r.code !== 0) throw new Error(`pgcdc ${args.join(' ')} exited with ${r.code}:\n${output}`);
  return output;
}

/** Holds an outage for its stated duration: the one place a fault test sleeps on purpose. */
export function holdFor(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------
// TCP proxy

export interface TcpProxy {
  port: number;
  /** `url` with its host:port replaced by the proxy's */
  rewrite(url: string): string;
  /** connections accepted so far */
  accepted(): number;
  /** outage: stop listening (new connections are refused) and reset every live connection */
  cut(): Promise<void>;
  /** end the outage: listen again on the same port */
  restore(): Promise<void>;
  stop(): Promise<void>;
}

/** A proxy on a free loopback port forwarding to the host:port of `targetUrl`. */
export async function startProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const upstream = { host: target.hostname, port: Number(target.port) };
  const live = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const up = net.connect(upstream);
    live.add(client).add(up);
    const drop = () => {
      client.destroy();
      up.destroy();
      live.delete(client);
      live.delete(up);
    };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    client.pipe(up);
    up.pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const cut = async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of live) s.destroy();
    live.clear();
    await closed;
  };
  return {
    port,
    rewrite(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    accepted: () => accepted,
    cut,
    restore: () => listen(port),
    stop: () => (server.listening ? cut() : Promise.resolve()),
  };
}

// ---------------------------------------------------------------------------------------------
// A Kafka broker of the test's own

export interface OwnKafka {
  brokers: string[];
  /** graceful stop (SIGTERM, waits for the process); data is kept */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stops it and deletes its data */
  destroy(): Promise<void>;
}

/** One KRaft node (broker + controller) on free ports, 256 MB heap, jars from the shared cache. */
export async function startOwnKafka(): Promise<OwnKafka> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'pgcdc-fault-kafka-'));
  const shared = stackSettingsFromEnv(process.env);
  const settings = StackSettingsSchema.parse({
    ...shared,
    stateDir,
    kafkaPort: await freePort(),
    kafkaControllerPort: await freePort(),
    kafkaHeapMb: 256,
  });
  const log = (m: string) => console.error(`[own kafka] ${m}`);
  await startKafka(settings, log);
  return {
    brokers: [`${settings.host}:${settings.kafkaPort}`],
    stop: () => stopKafka(settings),
    start: async () => {
      await startKafka(settings, log);
    },
    async destroy() {
      await stopKafka(settings);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A Postgres cluster of the test's own

export interface OwnPostgres {
  adminUrl: string;
  /** SQL as the superuser on database `postgres` */
  sql<T extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** the last lines of the server's log (for a failure message) */
  logTail(lines?: number): string;
  destroy(): Promise<void>;
}

/**
 * initdb + pg_ctl start on a free port with logical WAL, 1 MB WAL segments (so WAL is recycled
 * and slots are invalidated at a fine grain) and the given extra settings (`name=value`).
 */
export async function startOwnPostgres(settings: string[] = []): Promise<OwnPostgres> {
  const cluster = await startOwnCluster({
    prefix: 'pgcdc-fault-pg-',
    initdb: ['--wal-segsize=1'],
    settings: [
      'wal_level=logical',
      'max_replication_slots=8',
      'max_wal_senders=8',
      'shared_buffers=32MB',
      'fsync=off',
      'min_wal_size=2MB',
      ...settings,
    ],
  });
  const adminUrl = cluster.url();
  return {
    adminUrl,
    sql: (text, values = []) => query(adminUrl, text, values),
    logTail: (lines) => cluster.logTail(lines),
    destroy: () => cluster.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// Pipeline helpers

/** Changes the test pipeline's configuration (in memory and the YAML file CLI children read). */
export function reconfigure(env: PipelineEnv, change: (c: PipelineEnv['config']) => void): void {
  change(env.config);
  writeYaml(env.configFile, env.config);
}

function writeYaml(file: string, value: unknown): void {
  writeFileSync(file, stringify(value));
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** An app like testApp's whose log lines (level `info` and up) the test can read. */
export function appWithLog(
  config: PipelineEnv['config'],
  wrap?: (k: KafkaClientFactory) => KafkaClientFactory,
): { app: App; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
  const app = createApp(config, logger, { defaultMetrics: false });
  return { app: wrap ? { ...app, kafka: wrap(app.kafka) } : app, lines };
}

export interface TopicEvent {
  message: InMessage;
  key: Row;
  event: ChangeEvent;
}

/** Every change event of the topic (tombstones skipped), decoded, in offset order per partition. */
export async function topicEvents(app: App, topic: string): Promise<TopicEvent[]> {
  const codec = await createEventCodec({
    registryUrl: app.config.registry.url,
    topic,
    contract: loadContract(),
  });
  const messages = (await readTopic(app.kafka, topic))
    .filter((m) => m.value !== null)
    .sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
  const out: TopicEvent[] = [];
  for (const m of messages) {
    out.push({ message: m, key: await codec.decodeKey(m.key!), event: await codec.decodeValue(m.value!) });
  }
  return out;
}

/**
 * Per-key order in the topic: after dropping repeats of an event already seen (a restarted producer
 * publishes again from its acknowledged position), each key's events must follow the source order
 * (commit LSN, then seq). Returns a description of every violation.
 */
export function orderViolations(events: TopicEvent[]): string[] {
  const seen = new Set<string>();
  const last = new Map<string, ChangeEvent>();
  const problems: string[] = [];
  for (const { key, event, message } of events) {
    if (seen.has(event.event_id)) continue;
    seen.add(event.event_id);
    const k = JSON.stringify(key, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const prev = last.get(k);
    if (
      prev &&
      (event.source.commit_lsn < prev.source.commit_lsn ||
        (event.source.commit_lsn === prev.source.commit_lsn && event.source.seq <= prev.source.seq))
    ) {
      problems.push(
        `key ${k}: ${event.event_id} at ${message.partition}:${message.offset} after ${prev.event_id}`,
      );
    }
    last.set(k, event);
  }
  return problems;
}

/** Events published more than once (same event id). */
export function repeats(events: TopicEvent[]): number {
  return events.length - new Set(events.map((e) => e.event.event_id)).size;
}

/** Sum of a metric's values (optionally only those with the given labels) in the app's registry. */
export async function metricValue(app: App, name: string, labels: Record<string, string> = {}) {
  const metric = app.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

/** One metric of a process's /metrics endpoint (sum over label sets), or undefined. */
export async function scrapeMetric(port: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
}

/** The slot's confirmed_flush_lsn / restart_lsn / wal_status, as the server reports them. */
export async function slotRow(url: string, slot: string) {
  const [r] = await query<{
    confirmed: string | null;
    restart: string | null;
    wal_status: string | null;
    safe_wal_size: string | null;
    current: string;
    sent: string | null;
  }>(
    url,
    // sent: how far the server's walsender has decoded and sent the slot's stream (null: no reader)
    `SELECT s.confirmed_flush_lsn::text AS confirmed, s.restart_lsn::text AS restart, s.wal_status,
            s.safe_wal_size::text, pg_current_wal_lsn()::text AS current, r.sent_lsn::text AS sent
       FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE s.slot_name = $1`,
    [slot],
  );
  return r;
}

export const lsn = (text: string | null | undefined): Lsn => parseLsn(text ?? '0/0');

/** Calls `sample` every `intervalMs` until stop(), which resolves with the samples taken. */
export function sampler<T>(intervalMs: number, sample: () => Promise<T>) {
  const samples: T[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      samples.push(await sample());
      await holdFor(intervalMs);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

/** Waits until the source database has a replication connection streaming the pipeline's slot. */
export function waitForStreaming(env: PipelineEnv, timeoutMs = 60_000) {
  return waitUntil(
    async () =>
      (
        await query(env.source.url, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [
          env.config.source.slot,
        ])
      ).length > 0,
    { what: `slot ${env.config.source.slot} to be streamed`, timeoutMs },
  );
}
