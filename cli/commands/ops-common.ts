// Shared set-up of the operators' one-shot commands (status, replay, check, slots): the config,
// a quiet logger (warnings to stderr or --log-file), and their wiring from the composition root
// (a Kafka client that gives up quickly, the Postgres connection factory).
import type { Command } from 'commander';
import type { Config } from '../../pipeline/config/schema.ts';
import { createOpsWiring, type OpsWiring } from '../../pipeline/compose.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
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
    .option('--json', 'print one JSON document on stdout instead of text (docs/cli.md)')
    .option('--log-level <level>', 'trace|debug|info|warn|error (logs go to stderr)', 'error')
    .option('--log-file <path>', 'write the logs to this file instead of stderr');
}

/** The verb's wiring from the composition root, with a quiet logger (warnings to stderr or --log-file). */
export function opsContext(opts: OpsOpts, config: Config = loadConfig(opts.config)): OpsWiring {
  const logger = createLogger({
    level: opts.logLevel ?? 'error',
    ...(opts.logFile ? { file: opts.logFile } : {}),
  });
  return createOpsWiring(config, logger);
}
