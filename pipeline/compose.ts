// Composition root: the one place that builds the clients (Kafka, Postgres connections, registry
// codec, metrics) from the configuration and wires the stages, handing each only its slice of the
// configuration and the clients it needs. Every CLI verb gets its wiring from here: the pipeline
// processes (run, produce, consume) through createApp/startProducer/startConsumer, the operator
// verbs (status, replay, check, slots, snapshot, dlq) through createOpsWiring. The stages never
// see the App: it stays here, as the root's own record of what it built.
import http from 'node:http';
import { createTargetConsumer } from '../consumers/runner.ts';
import { MatchedMysqlSink, matchedMysqlTableOf } from '../consumers/mysql/match-sink.ts';
import { MysqlSink } from '../consumers/mysql/sink.ts';
import { MatchedPostgresSink, matchedTableOf } from '../consumers/postgres/matched-sink.ts';
import { PostgresSink } from '../consumers/postgres/sink.ts';
import type { Sink } from '../consumers/sink.ts';
import { routeByTable } from '../consumers/tables.ts';
import { createRequestLimiter, type RequestLimiter } from '../consumers/webhook/limiter.ts';
import { WebhookSink } from '../consumers/webhook/sink.ts';
import { ignoreTruncates } from '../consumers/group/ignore-truncates.ts';
import { mappedSink } from '../consumers/group/mapped-sink.ts';
import { targetShape } from '../consumers/mapping/shape.ts';
import { mappingFor } from './config/mapping.ts';
import { startReconcileSchedule } from '../ops/reconcile/schedule.ts';
import { createProducer } from '../producers/producer.ts';
import { createEventCodec, type EventCodec } from '../schemas/codec.ts';
import type { TableContract } from '../schemas/contract.ts';
import type { Config, TargetConfig } from './config/schema.ts';
import { contractOf, tableName, targetRoutesOf, topicFor, type TargetRoute } from './config/schema.ts';
import { ConfigError, describeError, UnavailableError } from './errors.ts';
import { createKafkajsFactory } from './kafka/kafkajs.ts';
import type { KafkaClientFactory } from './kafka/port.ts';
import { kafkaSecurity } from './kafka/security.ts';
import type { Logger } from './observability/logger.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import { createPgConnections, type PgConnections } from './postgres.ts';
import { retryUntil } from './retry.ts';
import { evolvingCodecOf, evolvingTableSink, type CurrentContracts } from './schema-changes.ts';
import { insecureSettings, registryAccessOf } from './transport.ts';
import {
  restoreTargetCounters,
  superviseConsumer,
  superviseProducer,
  type SupervisedConsumer,
  type SupervisionDeps,
} from './supervision/supervise.ts';

/** What the composition root built for one process; passed to its own functions, never to a stage. */
export interface App {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  kafka: KafkaClientFactory;
  /** the one Postgres connection factory (timeouts per role, keepalives) */
  pg: PgConnections;
}

/** One warning per setting that accepts any server's certificate: fine in a test, never in production. */
function warnInsecure(config: Config, logger: Logger): void {
  for (const setting of insecureSettings(config))
    logger.warn(
      { setting },
      `${setting}: the server's certificate is not verified, anyone on the path can read and change the traffic`,
    );
}

export function createApp(config: Config, logger: Logger, opts: { defaultMetrics?: boolean } = {}): App {
  warnInsecure(config, logger);
  return {
    config,
    logger,
    metrics: createMetrics({ defaults: opts.defaultMetrics ?? true }),
    kafka: createKafkajsFactory({
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      logger,
      security: kafkaSecurity(config.kafka),
    }),
    pg: createPgConnections(config.connections),
  };
}

/** The wiring of the operators' one-shot verbs: a Kafka client that gives up quickly, and `pg`. */
export interface OpsWiring {
  config: Config;
  logger: Logger;
  kafka: KafkaClientFactory;
  pg: PgConnections;
}

export function createOpsWiring(config: Config, logger: Logger): OpsWiring {
  warnInsecure(config, logger);
  return {
    config,
    logger,
    kafka: createKafkajsFactory({
      brokers: config.kafka.brokers,
      clientId: `${config.kafka.clientId}-ops`,
      logger,
      connectionTimeoutMs: 3000,
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
      security: kafkaSecurity(config.kafka),
    }),
    pg: createPgConnections(config.connections),
  };
}

/** The supervision decorators' slice: the clients, and the kafka, source and operations config. */
function supervision(app: App): SupervisionDeps {
  const { kafka, source, operations } = app.config;
  return {
    kafka: app.kafka,
    metrics: app.metrics,
    logger: app.logger,
    pg: app.pg,
    config: { kafka, source, operations },
  };
}

export function startProducer(app: App) {
  // slot monitor (WAL retained, stall), readiness and the status record wrap the producer
  const producer = superviseProducer(
    supervision(app),
    createProducer({
      config: app.config,
      kafka: app.kafka,
      logger: app.logger,
      metrics: app.metrics,
      sourceClient: () => app.pg.client(app.config.source.url, 'source', 'pgcdc-producer'),
      codec: (topic, contract) =>
        createEventCodec({ registryUrl: registryAccessOf(app.config.registry), topic, contract }),
      pg: app.pg,
    }),
  );
  const done = producer.run();
  return { producer, done };
}

/**
 * The sink of one table a target receives (docs/tables.md: where each table goes); a mapped
 * target's sink sees the target's columns and key (consumers/mapping/shape.ts), per table.
 */
function tableSink(
  app: App,
  target: TargetConfig,
  route: TargetRoute,
  current?: CurrentContracts,
  limiter?: RequestLimiter,
): Sink {
  const source = contractOf(app.config.source, route.source);
  const mapping = mappingFor(app.config.source, target, route.source);
  const shape = targetShape({ name: target.name, mapping }, source);
  const logger = app.logger.child({ target: target.name, table: tableName(route.source) });
  const build = (from: TableContract): Sink => {
    const contract = shape ? { ...from, columns: shape.columns, keyColumns: shape.keyColumns } : from;
    switch (target.type) {
      case 'postgres':
        if (shape?.match)
          return new MatchedPostgresSink(
            { ...target, ...route.at, mapping },
            matchedTableOf({ ...target, ...route.at, mapping }, shape),
            logger,
            app.pg,
          );
        return new PostgresSink({ ...target, ...route.at, mapping }, contract, logger, app.pg);
      case 'webhook':
        return new WebhookSink(target, contract.columns, {
          logger: app.logger,
          metrics: app.metrics,
          ...(limiter && { limiter }),
        });
      case 'mysql': {
        const timeouts = {
          connectTimeoutMs: app.config.connections.connectTimeoutMs,
          ...app.config.connections.target,
        };
        const at = { ...target, table: route.at.table };
        if (shape?.match) return new MatchedMysqlSink(at, matchedMysqlTableOf(at, shape), logger, timeouts);
        return new MysqlSink(at, contract, logger, timeouts, shape?.softDelete);
      }
      default:
        return target satisfies never;
    }
  };
  // source.schemaChanges automatic: a database target's table follows the contract's evolutions
  const plain = evolvingTableSink({
    ...app,
    target,
    at: route.at,
    contract: source,
    current: current?.get(tableName(route.source)),
    mapped: shape !== undefined,
    build,
  });
  return shape ? mappedSink(plain, shape) : plain;
}

export function createSink(app: App, target: TargetConfig, current?: CurrentContracts): Sink {
  const routes = targetRoutesOf(app.config.source, target);
  // a webhook target's requests in flight, all its tables and partitions together
  const limiter = target.type === 'webhook' ? createRequestLimiter(target.concurrency) : undefined;
  const sink = routeByTable(
    new Map(routes.map((r) => [tableName(r.source), tableSink(app, target, r, current, limiter)])),
  );
  return target.onTruncate === 'ignore'
    ? ignoreTruncates(sink, { target: target.name, logger: app.logger })
    : sink;
}

/** Does a table of this target match rows by a key of its own (mapping.match)? Applied on one connection then. */
const matchedTables = (app: App, target: TargetConfig): boolean =>
  targetRoutesOf(app.config.source, target).some(
    (r) => mappingFor(app.config.source, target, r.source)?.match,
  );

export async function startConsumer(
  app: App,
  targetName: string,
  opts: { sink?: (target: TargetConfig) => Sink } = {},
): Promise<SupervisedConsumer> {
  const target = app.config.targets.find((t) => t.name === targetName);
  if (!target) {
    throw new ConfigError(`no target named "${targetName}"`, {
      hint: `configured targets: ${app.config.targets.map((t) => t.name).join(', ') || '(none)'}`,
    });
  }
  const current = new Map<string, () => TableContract>();
  const topics = await Promise.all(
    targetRoutesOf(app.config.source, target).map(async ({ source }) => {
      const topic = topicFor(app.config.kafka, source);
      const contract = contractOf(app.config.source, source);
      const codec = await codecOnceReachable(app.logger, targetName, () =>
        createEventCodec({ registryUrl: registryAccessOf(app.config.registry), topic, contract }),
      );
      if (app.config.source.schemaChanges !== 'automatic') return { topic, table: source, codec };
      const evolving = evolvingCodecOf(app.config, app.logger, topic, contract, codec);
      current.set(tableName(source), () => evolving.contract);
      return { topic, table: source, codec: evolving };
    }),
  );
  const sink = opts.sink ? opts.sink(target) : createSink(app, target, current);
  const consumer = createTargetConsumer({
    target,
    kafkaConfig: app.config.kafka,
    topics,
    kafka: app.kafka,
    sink,
    // a Postgres target applies partitions at the same time, a sink (connection) each
    ...((target.type === 'postgres' || (target.type === 'mysql' && !matchedTables(app, target))) &&
      !opts.sink && { laneSink: () => createSink(app, target, current), lanes: target.applyConnections }),
    // a webhook target delivers partitions at the same time through its one sink (its requests
    // in flight stay within `concurrency`), so one partition's last requests do not idle the rest
    ...(target.type === 'webhook' && !opts.sink && { laneSink: () => sink, lanes: target.concurrency }),
    logger: app.logger,
    metrics: app.metrics,
    restored: await restoreTargetCounters(supervision(app), target.name, target),
    auditSummaryIntervalMs: app.config.operations.auditSummaryIntervalMs,
    // 0 (no lock_timeout): a lock wait is reported after the default 5 s
    ...(app.config.connections.target.lockTimeoutMs > 0 && {
      lockWaitLimitMs: app.config.connections.target.lockTimeoutMs,
    }),
  });
  // status record (published, restored above), lag polling and readiness wrap the consumer
  const supervised = superviseConsumer(supervision(app), target, consumer);
  try {
    await supervised.run();
  } catch (err) {
    await supervised.stop().catch(() => undefined);
    throw err;
  }
  // targets[].reconcile: the scheduled reconcile runs beside the consumer and stops before it
  const schedule = startReconcileSchedule(app, target);
  if (!schedule) return supervised;
  const stop = supervised.stop.bind(supervised);
  return Object.assign(supervised, { stop: () => schedule.stop().then(stop) });
}

/**
 * A consumer that starts while the schema registry is unreachable or answers badly waits for it
 * (backoff up to 15 s, one error line per attempt) instead of exiting, as the producer does: a
 * process manager would otherwise restart it in a tight loop. A refused schema still exits.
 */
function codecOnceReachable(
  logger: Logger,
  target: string,
  create: () => Promise<EventCodec>,
): Promise<EventCodec> {
  return retryUntil(create, {
    backoff: { initialMs: 500, maxMs: 15_000 },
    retriable: (err) => err instanceof UnavailableError,
    onRetry: ({ err, delayMs }) =>
      logger.error(
        { target, err: describeError(err), retryInMs: delayMs },
        'schema registry unreachable; retrying',
      ),
  });
}

/** /metrics, /healthz (process alive), /readyz (the pipeline's own judgement), on `address`. */
export function serveMetrics(
  metrics: Metrics,
  address: { host: string; port: number },
  ready: () => { ok: boolean; detail: unknown },
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', metrics.registry.contentType);
        res.end(await metrics.registry.metrics());
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
    server.listen(address.port, address.host, () => resolve(server));
  });
}
