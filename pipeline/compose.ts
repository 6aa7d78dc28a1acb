// Composition root: builds the shared clients once and wires producer and target consumers.
import http from 'node:http';
import pg from 'pg';
import { createTargetConsumer } from '../consumers/runner.ts';
import { PostgresSink } from '../consumers/postgres/sink.ts';
import type { Sink } from '../consumers/sink.ts';
import { WebhookSink } from '../consumers/webhook/sink.ts';
import { createProducer } from '../producers/producer.ts';
import { loadContract } from '../schemas/contract.ts';
import type { Config, TargetConfig } from './config/schema.ts';
import { topicFor } from './config/schema.ts';
import { ConfigError, describeError, UnavailableError } from './errors.ts';
import { createKafkajsFactory } from './kafka/kafkajs.ts';
import type { KafkaClientFactory } from './kafka/port.ts';
import type { Logger } from './observability/logger.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import {
  restoreTargetCounters,
  superviseConsumer,
  superviseProducer,
  type SupervisedConsumer,
} from './supervision/supervise.ts';
import { createEventCodec, type EventCodec } from '../schemas/codec.ts';
import { retryUntil } from './retry.ts';

export interface App {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  kafka: KafkaClientFactory;
}

export function createApp(config: Config, logger: Logger, opts: { defaultMetrics?: boolean } = {}): App {
  return {
    config,
    logger,
    metrics: createMetrics({ defaults: opts.defaultMetrics ?? true }),
    kafka: createKafkajsFactory({
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      logger,
    }),
  };
}

export function startProducer(app: App) {
  // slot monitor (WAL retained, stall), readiness and the status record wrap the producer
  const source = app.config.source;
  const producer = superviseProducer(
    app,
    createProducer({
      ...app,
      sourceClient: () => new pg.Client({ connectionString: source.url, application_name: 'pgcdc-producer' }),
      codec: (topic, contract) => createEventCodec({ registryUrl: app.config.registry.url, topic, contract }),
    }),
  );
  const done = producer.run();
  return { producer, done };
}

export function createSink(app: App, target: TargetConfig): Sink {
  const contract = loadContract(app.config.source.table, app.config.source.schema);
  switch (target.type) {
    case 'postgres':
      return new PostgresSink(target, contract, app.logger.child({ target: target.name }));
    case 'webhook':
      return new WebhookSink(target, contract.columns, { logger: app.logger, metrics: app.metrics });
    default:
      return target satisfies never;
  }
}

export async function startConsumer(app: App, targetName: string): Promise<SupervisedConsumer> {
  const target = app.config.targets.find((t) => t.name === targetName);
  if (!target) {
    throw new ConfigError(`no target named "${targetName}"`, {
      hint: `configured targets: ${app.config.targets.map((t) => t.name).join(', ') || '(none)'}`,
    });
  }
  const topic = topicFor(app.config.kafka, app.config.source);
  const contract = loadContract(app.config.source.table, app.config.source.schema);
  const codec = await codecOnceReachable(app, targetName, () =>
    createEventCodec({ registryUrl: app.config.registry.url, topic, contract }),
  );
  const consumer = createTargetConsumer({
    target,
    kafkaConfig: app.config.kafka,
    topic,
    table: { schema: app.config.source.schema, table: app.config.source.table },
    kafka: app.kafka,
    codec,
    sink: createSink(app, target),
    logger: app.logger,
    metrics: app.metrics,
    restored: await restoreTargetCounters(app, target.name),
    auditSummaryIntervalMs: app.config.operations.auditSummaryIntervalMs,
  });
  // status record (published, restored above), lag polling and readiness wrap the consumer
  const supervised = superviseConsumer(app, target, consumer);
  try {
    await supervised.run();
  } catch (err) {
    await supervised.stop().catch(() => undefined);
    throw err;
  }
  return supervised;
}

/**
 * A consumer that starts while the schema registry is unreachable or answers badly waits for it
 * (backoff up to 15 s, one error line per attempt) instead of exiting, as the producer does: a
 * process manager would otherwise restart it in a tight loop. A refused schema still exits.
 */
function codecOnceReachable(
  app: App,
  target: string,
  create: () => Promise<EventCodec>,
): Promise<EventCodec> {
  return retryUntil(create, {
    backoff: { initialMs: 500, maxMs: 15_000 },
    retriable: (err) => err instanceof UnavailableError,
    onRetry: ({ err, delayMs }) =>
      app.logger.error(
        { target, err: describeError(err), retryInMs: delayMs },
        'schema registry unreachable; retrying',
      ),
  });
}

/** /metrics, /healthz (process alive), /readyz (the pipeline's own judgement). */
export function serveMetrics(app: App, ready: () => { ok: boolean; detail: unknown }): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', app.metrics.registry.contentType);
        res.end(await app.metrics.registry.metrics());
      } else if (req.url === '/healthz') {
        res.end('ok\n');
      } else if (req.url === '/readyz') {
        const r = ready();
        res.statusCode = r.ok ? 200 : 503;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(r.detail, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
      } else {
        res.statusCode = 404;
        res.end();
      }
    })().catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(app.config.metrics.port, app.config.metrics.host, () => resolve(server));
  });
}
