// Shared by test/webhook/*.int.test.ts: a real HTTP receiver on 127.0.0.1 (random port) whose
// answers a test scripts, and a pipeline (fresh source database, unique slot, publication, topic
// prefix and groups) whose only target is a webhook pointing at it, run in-process.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkpoint } from './snapshot.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterEach } from 'vitest';
import { createApp, startConsumer, startProducer, type App } from '../../pipeline/compose.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { dlqTopicFor, groupFor, topicFor, type Config } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { withDeadline } from './deadline.ts';
import { STOP_DEADLINE_MS, stopProducer } from './pipeline.ts';
import type { TargetConsumer } from '../../consumers/runner.ts';
import {
  freshDatabase,
  randomName,
  waitUntil,
  withClient,
  type FreshDatabase,
  type StackUrls,
} from './index.ts';

export const SECRET = `whsec_${Buffer.from('pgcdc webhook integration tests').toString('base64')}`;

export interface Payload {
  version: number;
  id: string;
  type: string;
  op: string;
  key: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  unchanged: string[];
  source: { lsn: string; seq: string; transaction_id: string | null; commit_time: string };
  delivery: { target: string; attempt: number; sent_at: string };
}

export interface Received {
  id: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  body: Payload;
  /** performance.now() when the request was complete */
  at: number;
  /** answered status, or 'hang' */
  answer: number | 'hang';
}

export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** the script: request and how many times this webhook-id was seen (1 = first) */
  reply: (req: Received, nth: number) => Reply;
  close(): Promise<void>;
}

/** What the running test opened and has not closed yet (each test file has its own module). */
const open = { pipelines: new Set<WebhookPipeline>(), receivers: new Set<Receiver>() };

/**
 * For a test file's top level: after each test, closes the pipelines it opened (consumer,
 * producer, slot, topics, groups, database), then its receivers.
 */
export function closeAfterEach(): void {
  afterEach(async () => {
    for (const p of [...open.pipelines])
      await withDeadline(p.close(), 120_000, `closing webhook pipeline ${p.topic}`);
    for (const r of [...open.receivers]) await withDeadline(r.close(), 15_000, `closing receiver ${r.url}`);
  });
}

/** Listens on 127.0.0.1 (port 0 = any free one). Answers 200 unless `reply` says otherwise. */
export async function startReceiver(reply?: Receiver['reply'], port = 0): Promise<Receiver> {
  const seen = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      const nth = (seen.get(id) ?? 0) + 1;
      seen.set(id, nth);
      const r: Received = {
        id,
        headers: req.headers,
        rawBody,
        body: JSON.parse(rawBody) as Payload,
        at: performance.now(),
        answer: 'hang',
      };
      const answer = receiver.reply(r, nth);
      receiver.received.push(r);
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      r.answer = answer.status;
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${actual}/hook`,
    port: actual,
    received: [],
    reply: reply ?? (() => ({ status: 200 })),
    async close() {
      open.receivers.delete(receiver);
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  open.receivers.add(receiver);
  return receiver;
}

/** A port nothing listens on (yet): for a receiver that is down. */
export { freePort } from './cluster.ts';

export interface WebhookPipeline {
  db: FreshDatabase;
  config: Config;
  /** the same configuration as a YAML file, for `pgcdc` child processes */
  configFile: string;
  app: App;
  topic: string;
  group: string;
  dlqTopic: string;
  consumer: TargetConsumer | undefined;
  startConsumer(): Promise<TargetConsumer>;
  stopConsumer(): Promise<void>;
  sql(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  /** metric value of this target (a counter / gauge), by extra labels */
  metric(
    name: 'webhookResponses' | 'webhookRetries' | 'webhookCircuitOpen',
    labels?: Record<string, string>,
  ): Promise<number>;
  /** stops everything, deletes topics and groups, drops the database */
  close(): Promise<void>;
}

/**
 * Fresh database + producer + consumer of one webhook target `hooks` at `url`. Retry timings are
 * tiny unless `target` overrides them.
 */
export function webhookPipeline(
  urls: StackUrls,
  name: string,
  url: string,
  target: Record<string, unknown> = {},
): Promise<WebhookPipeline> {
  return targetPipeline(urls, name, {
    name: 'hooks',
    type: 'webhook',
    url,
    secret: SECRET,
    connectTimeout: 1,
    responseTimeout: 1,
    maxAttempts: 5,
    backoff: { initial: 0.05, max: 0.2, jitter: 0 },
    circuitBreaker: { failureThreshold: 50, cooldown: 0.5 },
    ...target,
  });
}

/** The same with any one target named `hooks` (e.g. a postgres target for the DLQ tools). */
export async function targetPipeline(
  urls: StackUrls,
  name: string,
  target: Record<string, unknown>,
  /** extra keys of the source section (e.g. contracts) */
  source: Record<string, unknown> = {},
): Promise<WebhookPipeline> {
  const db = await freshDatabase(urls.adminUrl, name, { usersTable: true });
  const raw = {
    source: {
      url: db.url,
      slot: randomName(`${name}_slot`),
      publication: randomName(`${name}_pub`),
      heartbeatIntervalMs: 1000,
      statusIntervalMs: 500,
      ...source,
    },
    kafka: { brokers: urls.kafkaBrokers, topicPrefix: randomName(name), partitions: 3 },
    registry: { url: urls.registryUrl },
    producer: { batchMaxMessages: 500, lingerMs: 5 },
    targets: [target],
    metrics: { port: 0, consumePort: 0 },
    log: { level: 'warn' },
  };
  const config = parseConfig(raw);
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-webhook-test-'));
  const configFile = path.join(dir, 'pgcdc.yaml');
  writeFileSync(configFile, stringify(raw));
  const app = createApp(config, createLogger({ level: process.env.PGCDC_TEST_LOG ?? 'warn' }), {
    defaultMetrics: false,
  });
  const hooks = config.targets[0]!;
  const started = startProducer(app);
  const { producer } = started;
  await waitUntil(() => producer.state().running, { what: 'the producer to stream', timeoutMs: 60_000 });
  // The initial feed of the (empty) table is done before a test writes: otherwise it can read a
  // row the test just inserted and deliver it a second time (op=r), which tests counting requests see.
  if (config.source.snapshot.mode === 'initial')
    await waitUntil(async () => (await checkpoint(config))?.status === 'done', {
      what: 'the initial snapshot to finish',
      timeoutMs: 60_000,
    });
  const p: WebhookPipeline = {
    db,
    config,
    configFile,
    app,
    topic: topicFor(config.kafka, config.source),
    group: groupFor(config.kafka, hooks),
    dlqTopic: dlqTopicFor(config.kafka, hooks),
    consumer: undefined,
    async startConsumer() {
      p.consumer = await withDeadline(startConsumer(app, 'hooks'), 120_000, 'starting consumer hooks');
      return p.consumer;
    },
    async stopConsumer() {
      if (p.consumer) await withDeadline(p.consumer.stop(), STOP_DEADLINE_MS, 'stopping consumer hooks');
      p.consumer = undefined;
    },
    sql: (text, values = []) => withClient(db.url, (c) => c.query(text, values)),
    async metric(metricName, labels = {}) {
      const m = await app.metrics[metricName].get();
      return m.values
        .filter(
          (v) =>
            v.labels.target === 'hooks' &&
            Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
        )
        .reduce((n, v) => n + v.value, 0);
    },
    async close() {
      open.pipelines.delete(p);
      await p.stopConsumer();
      await stopProducer(started);
      // The slot outlives the producer (that is its point): drop it once its walsender is gone.
      await waitUntil(
        () =>
          p
            .sql(
              'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
              [config.source.slot],
            )
            .then(
              async () =>
                (await p.sql('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [config.source.slot]))
                  .rowCount === 0,
            ),
        { what: `replication slot ${config.source.slot} to be dropped`, timeoutMs: 15_000 },
      );
      const admin = app.kafka.admin();
      const groups = app.kafka.groupAdmin();
      await withDeadline(
        (async () => {
          await Promise.all([admin.connect(), groups.connect()]);
          try {
            for (const t of [p.topic, p.dlqTopic]) await admin.deleteTopic(t).catch(() => undefined);
            for (const g of [p.group, `${p.group}.redrive`])
              await groups.deleteGroup(g).catch(() => undefined);
          } finally {
            await admin.disconnect();
            await groups.disconnect();
          }
        })(),
        60_000,
        `deleting the topics and groups of ${p.topic}`,
      );
      await db.drop();
    },
  };
  open.pipelines.add(p);
  return p;
}

/** Inserts a user and returns its id (as text). */
export async function insertUser(p: WebhookPipeline, tag: string): Promise<string> {
  const r = await p.sql(
    `INSERT INTO users (email, username, preferences, tags, balance)
     VALUES ($1, $2, '{"n": 12345678901234567890}', ARRAY['a', NULL], 10.50) RETURNING id::text AS id`,
    [`${tag}-${Math.random().toString(36).slice(2)}@example.com`, tag],
  );
  return (r.rows[0] as { id: string }).id;
}

/** Successful deliveries (2xx answers), in arrival order. */
export const delivered = (r: Receiver) =>
  r.received.filter((x) => typeof x.answer === 'number' && x.answer < 300);
