// kafkajs behind our Kafka ports: one kafkajs client per process, one adapter per role (producer,
// consumer, topic admin, group admin, reader), each in its own file. Nothing outside pipeline/kafka
// imports kafkajs; the rest of the pipeline sees only the ports of port.ts.
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { PgcdcError, UnavailableError } from '../errors.ts';
import { explainTransportError, type TransportContext } from '../transport-errors.ts';
import type { Logger } from '../observability/logger.ts';
import { KafkajsAdmin } from './kafkajs-admin.ts';
import { KafkajsConsumer } from './kafkajs-consumer.ts';
import { KafkajsGroupAdmin } from './kafkajs-group-admin.ts';
import { KafkajsProducer } from './kafkajs-producer.ts';
import { KafkajsReader } from './kafkajs-reader.ts';
import type { KafkaClientFactory } from './port.ts';
import type { KafkaSecurity } from './security.ts';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
  /** Consumer group session timeout: how soon a dead member's partitions move (default 30 s). */
  sessionTimeoutMs?: number;
  /** Client-level retries (default: 8, up to 10 s apart); one-shot tools such as `pgcdc check` use fewer. */
  retry?: { retries: number; initialRetryTime: number; maxRetryTime: number };
  /** kafka.tls and kafka.sasl as client options (security.ts). */
  security?: KafkaSecurity;
}

const UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|Connection timeout|Failed to connect/;
const UNREACHABLE_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
]);

/** The hint every "cannot reach Kafka" line and error carries: the key and the addresses. */
function unreachableHint(brokers: string[]): string {
  return `check kafka.brokers (${brokers.join(', ')}): the addresses and that the brokers are up and reachable from here; pgcdc check tests the connection`;
}

/** The settings a Kafka transport failure is explained against (transport-errors.ts). */
function kafkaContext(security: KafkaSecurity | undefined): TransportContext {
  const sasl = security?.sasl;
  return {
    system: 'kafka',
    section: 'kafka',
    tls: security?.ssl !== undefined,
    sasl: sasl && { mechanism: sasl.mechanism, username: 'username' in sasl ? sasl.username : undefined },
  };
}

/**
 * A kafkajs failure: a refused TLS handshake or authentication as a PgcdcError saying which
 * setting to fix (not retriable: the same settings fail the same way); a failure to reach the
 * brokers as an UnavailableError naming kafka.brokers.
 */
export function namingBrokers(err: unknown, brokers: string[], security?: KafkaSecurity): unknown {
  const explained = explainTransportError(err, kafkaContext(security));
  if (explained)
    return new PgcdcError(`Kafka at ${brokers.join(', ')}: ${explained.message}`, {
      hint: explained.fix,
      cause: err,
    });
  const e = err as { name?: string; message?: string };
  if (!UNREACHABLE_ERRORS.has(e.name ?? '') && !UNREACHABLE.test(e.message ?? '')) return err;
  return new UnavailableError(`cannot reach Kafka at ${brokers.join(', ')} (kafka.brokers): ${e.message}`, {
    hint: unreachableHint(brokers),
    cause: err,
  });
}

/**
 * kafkajs lines about conditions it retries by itself while a broker, a coordinator or a leader is
 * still settling (right after Kafka starts, a topic is created or a group forms): logged at debug,
 * because they say nothing an operator should act on and read like errors in the middle of output.
 */
const TRANSIENT =
  /coordinator is loading|group coordinator is not available|not the correct coordinator|does not host this topic-partition|There is no leader for this topic-partition|Leader not available|LEADER_NOT_AVAILABLE|rebalance in progress|The group is rebalancing/i;

/** The level pgcdc logs a kafkajs line at (pure; see kafkajsLogger). */
export function kafkajsLineLevel(
  level: logLevel,
  message: string,
  error: unknown,
): 'debug' | 'warn' | 'unreachable' {
  const text = `${message} ${typeof error === 'string' ? error : ''}`;
  // Creating a topic that exists is how ensureTopic works; kafkajs logs it as an error.
  if (message.startsWith('Response CreateTopics') && text.includes('Topic creation errors')) return 'debug';
  if (level <= logLevel.WARN && UNREACHABLE.test(text)) return 'unreachable';
  if (level <= logLevel.WARN && TRANSIENT.test(text)) return 'debug';
  return level <= logLevel.WARN ? 'warn' : 'debug';
}

function kafkajsLogger(logger: Logger, brokers: string[], security: KafkaSecurity | undefined) {
  const child = logger.child({ component: 'kafkajs' });
  const context = kafkaContext(security);
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const error: unknown = extra.error;
      const errorText = typeof error === 'string' ? error : error instanceof Error ? error.message : '';
      const explained =
        level <= logLevel.WARN ? explainTransportError(`${message} ${errorText}`, context) : undefined;
      if (explained) {
        // a TLS or SASL failure: say what to fix (pipeline/kafka/transport errors)
        child.warn(
          { ...extra, key: 'kafka', hint: explained.fix },
          `Kafka at ${brokers.join(', ')}: ${explained.message}`,
        );
        return;
      }
      const at = kafkajsLineLevel(level, message, errorText);
      switch (at) {
        case 'unreachable':
          // kafkajs retries by itself; its lines alone never say which setting to fix
          child.warn(
            { ...extra, key: 'kafka.brokers', brokers, hint: unreachableHint(brokers) },
            `cannot reach Kafka at ${brokers.join(', ')} (kafka.brokers): ${message}`,
          );
          break;
        case 'warn':
          child.warn(extra, message);
          break;
        case 'debug':
          child.debug(extra, message);
          break;
        default:
          at satisfies never;
      }
    };
}

export function createKafkajsFactory(opts: KafkaClientOptions): KafkaClientFactory {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const { ssl, sasl } = opts.security ?? {};
  if (ssl?.rejectUnauthorized === false)
    opts.logger.warn(
      { key: 'kafka.tls.rejectUnauthorized' },
      "kafka.tls.rejectUnauthorized is false: the brokers' certificates are not verified, anyone on the path can read and change the stream",
    );
  const kafka = new Kafka({
    brokers: opts.brokers,
    clientId: opts.clientId,
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogger(opts.logger, opts.brokers, opts.security),
    retry: opts.retry ?? { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
  });
  const named = <T extends object, K extends keyof T>(port: T, method: K): T => {
    const inner = port[method] as (...args: unknown[]) => Promise<unknown>;
    Object.assign(port, {
      [method]: (...args: unknown[]) =>
        inner.apply(port, args).catch((err: unknown) => {
          throw namingBrokers(err, opts.brokers, opts.security);
        }),
    });
    return port;
  };
  return {
    producer: () => named(new KafkajsProducer(kafka), 'connect'),
    consumer: (groupId) =>
      named(new KafkajsConsumer(kafka, groupId, opts.logger, opts.sessionTimeoutMs ?? 30_000), 'run'),
    admin: () => named(new KafkajsAdmin(kafka), 'connect'),
    groupAdmin: () => named(new KafkajsGroupAdmin(kafka), 'connect'),
    reader: () => named(new KafkajsReader(kafka, opts.clientId), 'read'),
  };
}
