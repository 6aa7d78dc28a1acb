// `pgcdc dlq list|show|redrive --target NAME [--json]`: what a target dead-lettered, why, and
// sending it again through the target's own sink (webhook deliveries keep their webhook-id). The
// topic is read page by page and printed as it is read (the JSON document too): memory does not
// grow with it.
import type { Command } from 'commander';
import {
  deadLetterPages,
  redriveDeadLetters,
  type DeadLetterEntry,
  type DlqDeps,
  type RedriveResult,
} from '../../consumers/redrive.ts';
import { toJson } from '../../ops/format.ts';
import { registryAccessOf } from '../../pipeline/transport.ts';
import { createApp, createSink, type App } from '../../pipeline/compose.ts';
import {
  contractOf,
  dlqTopicFor,
  groupFor,
  tableName,
  targetRoutesOf,
  topicFor,
  type TargetConfig,
} from '../../pipeline/config/schema.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { createEventCodec, type EventCodec } from '../../schemas/codec.ts';
import type { TableContract } from '../../schemas/contract.ts';
import { evolvingCodecOf, type CurrentContracts } from '../../pipeline/schema-changes.ts';
import { EXIT, UsageError } from '../exit-codes.ts';
import { printJson, streamJsonArray } from '../output.ts';
import { dlqEntryJson, dlqFullEntryJson, dlqListHead, dlqListTail, redriveJson } from '../shapes.ts';
import { loadConfig } from './pipeline.ts';

interface DlqOpts {
  target: string;
  config?: string;
  json?: boolean;
  offset?: string[];
  logLevel?: string;
  retryFor?: string;
}

function parsePositions(list: string[] | undefined): { partition: number; offset: bigint }[] | undefined {
  if (!list?.length) return undefined;
  return list.map((p) => {
    const m = /^(\d+):(\d+)$/.exec(p);
    if (!m) throw new UsageError(`--offset ${p}: expected <partition>:<offset>, e.g. 0:12`);
    return { partition: Number(m[1]), offset: BigInt(m[2]!) };
  });
}

async function setup(
  opts: DlqOpts,
): Promise<{ app: App; target: TargetConfig; deps: DlqDeps; current: CurrentContracts }> {
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
  // source.schemaChanges automatic: an entry written with an evolved schema is decoded with it and
  // the redrive's sink writes the added columns, as the target's consumer does (pipeline/schema-changes.ts)
  const current = new Map<string, () => TableContract>();
  for (const { source } of targetRoutesOf(config.source, target)) {
    const topic = topicFor(config.kafka, source);
    const contract = contractOf(config.source, source);
    const codec = await createEventCodec({ registryUrl: registryAccessOf(config.registry), topic, contract });
    if (config.source.schemaChanges !== 'automatic') {
      codecs.set(topic, codec);
      continue;
    }
    const evolving = evolvingCodecOf(config, app.logger, topic, contract, codec);
    current.set(tableName(source), () => evolving.contract);
    codecs.set(topic, evolving);
  }
  const codec = codecs.values().next().value!;
  return {
    app,
    target,
    current,
    deps: {
      kafka: app.kafka,
      codec,
      codecs,
      dlqTopic: dlqTopicFor(config.kafka, target),
      group: groupFor(config.kafka, target),
    },
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
    .option('--json', 'print one JSON document instead of text (docs/cli.md)')
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'warn');
}

const compact = (v: unknown) => toJson(v).replace(/\s+/g, '');

/** One line of `dlq list`. */
function listLine(e: DeadLetterEntry): string {
  const s = dlqEntryJson(e);
  return [
    s.position.padEnd(7),
    s.at ?? '?',
    (s.reason ?? '?').padEnd(16),
    `attempts=${s.attempts ?? '?'}`,
    `${s.op ?? '?'} ${s.eventId ?? '(undecodable)'} key=${s.key ? compact(s.key) : '?'}`,
    e.redriven ? 'redriven' : 'pending',
    `| ${(s.error ?? s.decodeError ?? '').replace(/\s+/g, ' ').slice(0, 160)}`,
  ].join('  ');
}

/** One entry of `dlq show`, for people: the summary, then every header, then the event. */
function showBlock(e: DeadLetterEntry): string {
  const s = dlqFullEntryJson(e);
  const origin = s.origin ? `${s.origin.topic}[${s.origin.partition}]@${s.origin.offset}` : '?';
  const lines = [
    `dead letter ${s.position} (${s.redriven ? 'redriven' : 'pending'})`,
    `  at        ${s.at ?? '?'}`,
    `  reason    ${s.reason ?? '?'} after ${s.attempts ?? '?'} attempt(s)`,
    `  error     ${(s.error ?? '-').replace(/\n\s*/g, ' ')}`,
    `  origin    ${origin}`,
    `  event     ${s.op ?? '?'} ${s.eventId ?? '(undecodable)'} key=${s.key ? compact(s.key) : '?'}`,
    ...(s.decodeError ? [`  undecodable: ${s.decodeError}`] : []),
    '  headers',
    ...Object.entries(s.headers).map(([k, v]) => `    ${k}: ${v}`),
    ...(s.event
      ? [
          '  decoded event',
          ...toJson(s.event)
            .split('\n')
            .map((l) => `    ${l}`),
        ]
      : []),
  ];
  return lines.join('\n');
}

/** `dlq list` and `dlq show`: the entries, streamed as text blocks or as one JSON document. */
async function printEntries(opts: DlqOpts, full: boolean): Promise<void> {
  const only = parsePositions(opts.offset);
  const { deps } = await setup(opts);
  const doc = opts.json ? streamJsonArray(dlqListHead(deps.dlqTopic), 'entries') : undefined;
  let count = 0;
  for await (const page of deadLetterPages(deps))
    for (const e of select(page, only)) {
      count++;
      if (doc) doc.item(full ? dlqFullEntryJson(e) : dlqEntryJson(e));
      else console.log(full ? `${count > 1 ? '\n' : ''}${showBlock(e)}` : listLine(e));
    }
  if (doc) doc.end(dlqListTail(count));
  else if (!full || count === 0)
    console.log(`${count} dead letter(s)${only ? ' at those positions' : ''} in ${deps.dlqTopic}`);
}

function printRedrive(dlqTopic: string, res: RedriveResult): void {
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
        : '') +
      ` (${dlqTopic})`,
  );
}

export function registerDlqCommands(program: Command): void {
  const dlq = program
    .command('dlq')
    .description("inspect a target's dead-lettered events and send them again");

  withOptions(dlq.command('list'))
    .description('one line per dead letter: position, time, reason, attempts, event, error')
    .option('--offset <partition:offset...>', 'only these entries')
    .action((opts: DlqOpts) => printEntries(opts, false));

  withOptions(dlq.command('show'))
    .description('dead letters in full: every header and the decoded event')
    .option('--offset <partition:offset...>', 'only these entries (as printed by list)')
    .action((opts: DlqOpts) => printEntries(opts, true));

  withOptions(dlq.command('redrive'))
    .description(
      "apply dead letters again through the target's sink: all not redriven yet, or --offset ones; failures are dead-lettered again; exit 1 when any is left",
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
        throw new UsageError(`--retry-for ${opts.retryFor}: expected a number of seconds, e.g. 30`);
      const { app, target, deps, current } = await setup(opts);
      const res = await redriveDeadLetters(
        {
          ...deps,
          sink: createSink(app, target, current),
          kafkaConfig: app.config.kafka,
          target: target.name,
        },
        { ...(only ? { only } : {}), retryForMs: retryFor * 1000 },
      );
      const summary = redriveJson(deps.dlqTopic, res);
      if (opts.json) printJson(summary);
      else printRedrive(deps.dlqTopic, res);
      if (!summary.complete) process.exitCode = EXIT.failed;
    });
}
