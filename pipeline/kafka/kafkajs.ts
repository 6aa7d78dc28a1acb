// kafkajs behind our Kafka ports: one kafkajs client per process, one adapter per role (producer,
// consumer, topic admin, group admin, reader), each in its own file. Nothing outside pipeline/kafka
// imports kafkajs; the rest of the pipeline sees only the ports of port.ts.
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import { KafkajsAdmin } from './kafkajs-admin.ts';
import { KafkajsConsumer } from './kafkajs-consumer.ts';
import { KafkajsGroupAdmin } from './kafkajs-group-admin.ts';
import { KafkajsProducer } from './kafkajs-producer.ts';
import { KafkajsReader } from './kafkajs-reader.ts';
import type { KafkaClientFactory } from './port.ts';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
  /** Consumer group session timeout: how soon a dead member's partitions move (default 30 s). */
  sessionTimeoutMs?: number;
  /** Client-level retries (default: 8, up to 10 s apart); one-shot tools such as `pgcdc check` use fewer. */
  retry?: { retries: number; initialRetryTime: number; maxRetryTime: number };
}

function kafkajsLogger(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      // Creating a topic that exists is how ensureTopic works; kafkajs logs it as an error.
      if (
        message.startsWith('Response CreateTopics') &&
        String(extra.error).includes('Topic creation errors')
      ) {
        child.debug(extra, message);
      } else if (level === logLevel.ERROR) child.warn(extra, message);
      else if (level === logLevel.WARN) child.warn(extra, message);
      else child.debug(extra, message);
    };
}

export function createKafkajsFactory(opts: KafkaClientOptions): KafkaClientFactory {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const kafka = new Kafka({
    brokers: opts.brokers,
    clientId: opts.clientId,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogger(opts.logger),
    retry: opts.retry ?? { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
  });
  return {
    producer: () => new KafkajsProducer(kafka),
    consumer: (groupId) => new KafkajsConsumer(kafka, groupId, opts.logger, opts.sessionTimeoutMs ?? 30_000),
    admin: () => new KafkajsAdmin(kafka),
    groupAdmin: () => new KafkajsGroupAdmin(kafka),
    reader: () => new KafkajsReader(kafka, opts.clientId),
  };
}
