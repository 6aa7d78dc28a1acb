// Shared set-up of the operators' one-shot commands (status, replay, check, slots): the config,
// a quiet logger (warnings to stderr or --log-file) and a Kafka client that gives up quickly.
import type { Command } from 'commander';
import type { Config } from '../../pipeline/config/schema.ts';
import { createKafkajsFactory } from '../../pipeline/kafka/kafkajs.ts';
import type { KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { createLogger, type Logger } from '../../pipeline/observability/logger.ts';
import { loadConfig } from './pipeline.ts';

export interface OpsOpts {
  config?: string;
  json?: boolean;
  logLevel?: string;
  logFile?: string;
}

export function withOpsOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default $PGCDC_CONFIG or ./pgcdc.yaml')
    .option('--json', 'print JSON instead of text')
    .option('--log-level <level>', 'trace|debug|info|warn|error (logs go to stderr)', 'error')
    .option('--log-file <path>', 'write the logs to this file instead of stderr');
}

export interface OpsContext {
  config: Config;
  logger: Logger;
  kafka: KafkaClientFactory;
}

export function opsContext(opts: OpsOpts, config: Config = loadConfig(opts.config)): OpsContext {
  const logger = createLogger({
    level: opts.logLevel ?? 'error',
    ...(opts.logFile ? { file: opts.logFile } : {}),
  });
  const kafka = createKafkajsFactory({
    brokers: config.kafka.brokers,
    clientId: `${config.kafka.clientId}-ops`,
    logger,
    connectionTimeoutMs: 3000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  return { config, logger, kafka };
}
