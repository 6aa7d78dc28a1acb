// `pgcdc produce`, `pgcdc consume --target NAME`, `pgcdc run`: the long-running pipeline processes.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { TargetStatus } from '../../consumers/runner.ts';
import type { ProducerState } from '../../producers/producer.ts';
import { createApp, serveMetrics, startConsumer, startProducer, type App } from '../../pipeline/compose.ts';
import { loadConfigFile } from '../../pipeline/config/load.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { combineReadiness } from '../../pipeline/supervision/readiness.ts';
import { stopWithin } from '../../pipeline/supervision/shutdown.ts';
import { useColour } from '../colour.ts';
import { EXIT } from '../exit-codes.ts';
import { limitHeapGrowth } from '../heap.ts';

export function resolveConfigPath(opt: string | undefined): string {
  const file = opt ?? process.env.PGCDC_CONFIG ?? (existsSync('pgcdc.yaml') ? 'pgcdc.yaml' : undefined);
  if (!file) {
    throw new ConfigError('no configuration file', {
      hint: `pass --config <file> or set PGCDC_CONFIG (for the local development stack: --config deploy/local/pgcdc.local.yaml)`,
    });
  }
  return file;
}

export function loadConfig(opt: string | undefined): Config {
  return loadConfigFile(resolveConfigPath(opt), process.env);
}

interface MetricsAddress {
  host: string;
  port: number;
  /** The option or key that chose the port, named when the port is taken. */
  setBy: string;
}

/** serveMetrics, with a taken port reported as the option to change rather than EADDRINUSE. */
export async function serve(
  app: App,
  at: MetricsAddress,
  ready: Parameters<typeof serveMetrics>[2],
): ReturnType<typeof serveMetrics> {
  try {
    return await serveMetrics(app.metrics, at, ready);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new ConfigError(
      `metrics port ${at.port} on ${at.host} is in use by another process (${at.setBy})`,
      {
        hint: `choose another port with --metrics-port <port> (0 = any free port) or ${at.setBy === '--metrics-port' ? 'metrics.port / metrics.consumePort' : at.setBy} in the configuration; produce and run default to metrics.port (9464), consume to metrics.consumePort (9465)`,
        cause: err,
      },
    );
  }
}

export interface CommonOpts {
  config?: string;
  metricsPort?: string;
  logLevel?: string;
  logFile?: string;
  pretty?: boolean;
}

/**
 * The process's wiring, and where it serves /metrics: --metrics-port over the role's key
 * (metrics.port for produce and run, metrics.consumePort for consume, so that a producer and a
 * consumer on one host do not clash by default). The config stays as parsed.
 */
export function buildApp(
  opts: CommonOpts,
  role: 'produce' | 'consume' | 'run',
): { app: App; metricsAt: MetricsAddress } {
  const config = loadConfig(opts.config);
  const fromOption = opts.metricsPort !== undefined;
  const metricsAt: MetricsAddress = {
    host: config.metrics.host,
    port: fromOption
      ? Number(opts.metricsPort)
      : role === 'consume'
        ? config.metrics.consumePort
        : config.metrics.port,
    setBy: fromOption ? '--metrics-port' : role === 'consume' ? 'metrics.consumePort' : 'metrics.port',
  };
  const logger = createLogger({
    level: opts.logLevel ?? config.log.level,
    pretty: opts.pretty ?? false,
    colour: useColour(process.env, process.stderr.isTTY),
    ...(opts.logFile ? { file: opts.logFile } : {}),
  });
  return { app: createApp(config, logger), metricsAt };
}

/**
 * Runs until SIGINT/SIGTERM, then stops gracefully within operations.stopTimeoutMs (after it, logs
 * what it abandons and returns with exit code 1); a second signal exits at once.
 */
export async function untilSignal(
  app: App,
  stop: () => Promise<void>,
  abandoned: () => Record<string, unknown>,
): Promise<void> {
  await new Promise<void>((resolve) => {
    let signalled = false;
    const stopAll = () =>
      void stopWithin(stop, {
        deadlineMs: app.config.operations.stopTimeoutMs,
        logger: app.logger,
        abandoned,
      }).then((outcome) => {
        if (outcome.kind === 'abandoned') process.exitCode = EXIT.failed;
        resolve();
      });
    const onSignal = (sig: string) => {
      if (signalled) {
        app.logger.warn('second signal: exiting now');
        process.exit(EXIT.interrupted);
      }
      signalled = true;
      app.logger.info({ signal: sig }, 'stopping gracefully');
      stopAll();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** What a producer cut short leaves: events after its confirmed LSN, re-read from the slot. */
function abandonedBy(s: ProducerState) {
  return {
    confirmedLsn: s.confirmedLsn ?? null,
    unacknowledged:
      'events after confirmedLsn not acknowledged by Kafka: re-read from the slot at the next start',
  };
}

/** What a consumer cut short leaves: its batch after the last committed offset, redelivered. */
function abandonedAt(s: TargetStatus) {
  return {
    target: s.target,
    lastAppliedOffset: s.lastAppliedOffset
      ? `${s.lastAppliedOffset.partition}:${s.lastAppliedOffset.offset}`
      : null,
    uncommitted: 'a batch being applied is redelivered from the committed offset at the next start',
  };
}

export function withCommon(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default $PGCDC_CONFIG or ./pgcdc.yaml')
    .option(
      '--metrics-port <port>',
      'serve /metrics, /healthz, /readyz on this port (0 = any); default metrics.port (produce, run) or metrics.consumePort (consume)',
    )
    .option(
      '--log-level <level>',
      'trace|debug|info|warn|error (audit lines: debug per batch, info summaries)',
    )
    .option('--log-file <path>', 'write the JSON log lines to this file instead of stderr')
    .option(
      '--pretty',
      'human-readable logs instead of JSON (coloured on a terminal; never with NO_COLOR, always with FORCE_COLOR)',
    );
}

export function registerPipelineCommands(program: Command): void {
  withCommon(program.command('produce'))
    .description(
      'stream changes of the source table into Kafka (creates publication, slot and topic if missing)',
    )
    .action(async (opts: CommonOpts) => {
      const { app, metricsAt } = buildApp(opts, 'produce');
      const { producer, done } = startProducer(app);
      const server = await serve(app, metricsAt, () => {
        const r = producer.readiness();
        return { ok: r.ok, detail: { ...r, producer: producer.state(), slot: producer.slotHealth() } };
      });
      await untilSignal(
        app,
        async () => {
          await producer.stop();
          await done;
          server.close();
        },
        () => ({ producer: abandonedBy(producer.state()) }),
      );
    });

  withCommon(program.command('consume'))
    .description("apply the topic's events to one target (its own consumer group <prefix>.<target>)")
    .requiredOption('-t, --target <name>', 'target name from the configuration')
    .action(async (opts: CommonOpts & { target: string }) => {
      limitHeapGrowth(); // opt-in: PGCDC_HEAP_GROWING_PERCENT, a lower peak RSS for more GC (cli/heap.ts)
      const { app, metricsAt } = buildApp(opts, 'consume');
      const consumer = await startConsumer(app, opts.target);
      const server = await serve(app, metricsAt, () => {
        const r = consumer.readiness();
        return { ok: r.ok, detail: { ...r, target: consumer.status() } };
      });
      await untilSignal(
        app,
        async () => {
          await consumer.stop();
          server.close();
        },
        () => ({ targets: [abandonedAt(consumer.status())] }),
      );
    });

  withCommon(program.command('run'))
    .description('run the producer and every configured target in one process')
    .action(async (opts: CommonOpts) => {
      const { app, metricsAt } = buildApp(opts, 'run');
      const { producer, done } = startProducer(app);
      const consumers = await Promise.all(app.config.targets.map((t) => startConsumer(app, t.name)));
      const server = await serve(app, metricsAt, () => {
        const r = combineReadiness([producer.readiness(), ...consumers.map((c) => c.readiness())]);
        return {
          ok: r.ok,
          detail: {
            ...r,
            producer: producer.state(),
            slot: producer.slotHealth(),
            targets: consumers.map((c) => c.status()),
          },
        };
      });
      await untilSignal(
        app,
        async () => {
          await producer.stop();
          await done;
          await Promise.all(consumers.map((c) => c.stop()));
          server.close();
        },
        () => ({
          producer: abandonedBy(producer.state()),
          targets: consumers.map((c) => abandonedAt(c.status())),
        }),
      );
    });
}
