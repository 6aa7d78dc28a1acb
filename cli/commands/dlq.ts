// `pgcdc dlq list|show|redrive --target NAME`: what a target dead-lettered, why, and sending it
// again through the target's own sink (webhook deliveries keep their webhook-id). The topic is read
// page by page: memory does not grow with it.
import type { Command } from 'commander';
import {
  deadLetterPages,
  redriveDeadLetters,
  type DeadLetterEntry,
  type DlqDeps,
} from '../../consumers/redrive.ts';
import { registryAccessOf } from '../../pipeline/transport.ts';
import { createApp, createSink, type App } from '../../pipeline/compose.ts';
import {
  contractOf,
  dlqTopicFor,
  groupFor,
  targetRoutesOf,
  topicFor,
  type TargetConfig,
} from '../../pipeline/config/schema.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { createEventCodec, type EventCodec } from '../../schemas/codec.ts';
import { loadConfig } from './pipeline.ts';

interface DlqOpts {
  target: string;
  config?: string;
  json?: boolean;
  offset?: string[];
  logLevel?: string;
  retryFor?: string;
}

const json = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2);

function parsePositions(list: string[] | undefined): { partition: number; offset: bigint }[] | undefined {
  if (!list?.length) return undefined;
  return list.map((p) => {
    const m = /^(\d+):(\d+)$/.exec(p);
    if (!m) throw new ConfigError(`--offset ${p}: expected <partition>:<offset>, e.g. 0:12`);
    return { partition: Number(m[1]), offset: BigInt(m[2]!) };
  });
}

async function setup(opts: DlqOpts): Promise<{ app: App; target: TargetConfig; deps: DlqDeps }> {
  const config = loadConfig(opts.config);
  const target = config.targets.find((t) => t.name === opts.target);
  if (!target) {
    throw new ConfigError(`no target named "${opts.target}"`, {
      hint: `configured targets: ${config.targets.map((t) => t.name).join(', ') || '(none)'}`,
    });
  }
  const app = createApp(config, createLogger({ level: opts.logLevel ?? 'warn' }), { defaultMetrics: false });
  // one codec per table the target receives: an entry is decoded with its origin topic's
  const codecs = new Map<string, EventCodec>();
  for (const { source } of targetRoutesOf(config.source, target)) {
    const topic = topicFor(config.kafka, source);
    const contract = contractOf(config.source, source);
    codecs.set(
      topic,
      await createEventCodec({ registryUrl: registryAccessOf(config.registry), topic, contract }),
    );
  }
  const codec = codecs.values().next().value!;
  return {
    app,
    target,
    deps: {
      kafka: app.kafka,
      codec,
      codecs,
      dlqTopic: dlqTopicFor(config.kafka, target),
      group: groupFor(config.kafka, target),
    },
  };
}

function summary(e: DeadLetterEntry) {
  return {
    position: `${e.partition}:${e.offset}`,
    at: e.at,
    reason: e.reason,
    attempts: e.attempts,
    error: e.error,
    eventId: e.decoded?.event.event_id,
    op: e.decoded?.event.op,
    key: e.decoded?.key,
    origin: e.origin ? `${e.origin.topic}[${e.origin.partition}]@${e.origin.offset}` : undefined,
    redriven: e.redriven,
    ...(e.decodeError ? { decodeError: e.decodeError } : {}),
  };
}

function select(entries: DeadLetterEntry[], only: ReturnType<typeof parsePositions>) {
  return only
    ? entries.filter((e) => only.some((o) => o.partition === e.partition && o.offset === e.offset))
    : entries;
}

function withOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-t, --target <name>', 'target name from the configuration')
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default $PGCDC_CONFIG or ./pgcdc.yaml')
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'warn');
}

export function registerDlqCommands(program: Command): void {
  const dlq = program
    .command('dlq')
    .description("inspect a target's dead-lettered events and send them again");

  withOptions(dlq.command('list'))
    .description('one line per dead letter: position, time, reason, attempts, event, error')
    .option('--json', 'JSON lines instead of a table')
    .action(async (opts: DlqOpts) => {
      const { deps } = await setup(opts);
      let count = 0;
      for await (const page of deadLetterPages(deps)) {
        for (const e of page) {
          count++;
          const s = summary(e);
          if (opts.json) {
            console.log(JSON.stringify(JSON.parse(json(s))));
            continue;
          }
          const key = s.key ? json(s.key).replace(/\s+/g, '') : '?';
          console.log(
            [
              s.position.padEnd(7),
              s.at ?? '?',
              (s.reason ?? '?').padEnd(16),
              `attempts=${s.attempts ?? '?'}`,
              `${s.op ?? '?'} ${s.eventId ?? '(undecodable)'} key=${key}`,
              e.redriven ? 'redriven' : 'pending',
              `| ${(s.error ?? e.decodeError ?? '').replace(/\s+/g, ' ').slice(0, 160)}`,
            ].join('  '),
          );
        }
      }
      if (!opts.json) console.log(`${count} dead letter(s) in ${deps.dlqTopic}`);
    });

  withOptions(dlq.command('show'))
    .description('dead letters in full: every header and the decoded event')
    .option('--offset <partition:offset...>', 'only these entries (as printed by list)')
    .action(async (opts: DlqOpts) => {
      const only = parsePositions(opts.offset);
      const { deps } = await setup(opts);
      let shown = 0;
      for await (const page of deadLetterPages(deps))
        for (const e of select(page, only)) {
          shown++;
          console.log(
            json({
              position: `${e.partition}:${e.offset}`,
              redriven: e.redriven,
              headers: e.message.headers,
              key: e.decoded?.key,
              event: e.decoded?.event,
              ...(e.decodeError ? { decodeError: e.decodeError } : {}),
            }),
          );
        }
      if (shown === 0) console.log(`no dead letters${only ? ' at those positions' : ''} in ${deps.dlqTopic}`);
    });

  withOptions(dlq.command('redrive'))
    .description(
      "apply dead letters again through the target's sink: all not redriven yet, or --offset ones; failures are dead-lettered again",
    )
    .option('--offset <partition:offset...>', 'only these entries (the redrive position does not move)')
    .option(
      '--retry-for <seconds>',
      'how long entries the target asks to retry later (a unique value another row still holds) are retried',
      '30',
    )
    .action(async (opts: DlqOpts) => {
      const only = parsePositions(opts.offset);
      const retryFor = Number(opts.retryFor ?? '30');
      if (!Number.isFinite(retryFor) || retryFor < 0)
        throw new ConfigError(`--retry-for ${opts.retryFor}: expected a number of seconds, e.g. 30`);
      const { app, target, deps } = await setup(opts);
      const res = await redriveDeadLetters(
        { ...deps, sink: createSink(app, target), kafkaConfig: app.config.kafka, target: target.name },
        { ...(only ? { only } : {}), retryForMs: retryFor * 1000 },
      );
      for (const e of res.redriven)
        console.log(`redriven ${e.partition}:${e.offset} ${e.decoded?.event.event_id}`);
      for (const d of res.deadAgain)
        console.log(`failed again ${d.entry.partition}:${d.entry.offset}: ${d.reason}: ${d.error}`);
      for (const e of res.skipped)
        console.log(`skipped ${e.partition}:${e.offset}: undecodable (${e.decodeError})`);
      for (const p of res.pending)
        console.log(`not redriven ${p.entry.partition}:${p.entry.offset}: ${p.reason}: ${p.error}`);
      console.log(
        `${res.redriven.length} redriven, ${res.deadAgain.length} dead-lettered again, ${res.skipped.length} skipped, ` +
          `${res.pending.length} not redriven (retry later)` +
          (res.notReached > 0
            ? `, ${res.notReached} not reached (the next redrive starts with the first not redriven)`
            : ''),
      );
      const failed = res.deadAgain.length + res.skipped.length + res.pending.length + res.notReached;
      if (failed > 0) process.exitCode = 1;
    });
}
