// `pgcdc replay --target NAME --to POSITION [--dry-run] [--yes] [--force]`: moves the target's
// consumer group so it applies events again from that position (idempotently, so it ends correct).
// A move forward skips events (they are never applied): it previews the plan and needs --yes (or
// a "yes" typed on a terminal); without it nothing moves and the exit code is 2.
import type { Command } from 'commander';
import { chooseTable } from './table-option.ts';
import { groupFor, topicFor } from '../../pipeline/config/schema.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { audit } from '../../pipeline/observability/audit.ts';
import { createEventDecoder } from '../../ops/decode.ts';
import { registryAccessOf } from '../../pipeline/transport.ts';
import { formatPlan } from '../../ops/format.ts';
import { buildReplayPlan, executeReplay, parseReplayTo } from '../../ops/replay.ts';
import { asUsage } from '../exit-codes.ts';
import { confirm, printJson } from '../output.ts';
import { replayJson } from '../shapes.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

interface ReplayOpts extends OpsOpts {
  target: string;
  to: string;
  dryRun?: boolean;
  yes?: boolean;
  force?: boolean;
  table?: string;
}

export function registerReplayCommand(program: Command): void {
  withOpsOptions(program.command('replay'))
    .description("move a target's consumer-group offsets so it applies events again (or skips them)")
    .requiredOption('-t, --target <name>', 'target name from the configuration')
    .requiredOption(
      '--to <position>',
      'earliest | latest | an ISO-8601 time (2026-11-27T10:00:00Z) | a time ago (-15m, -2h, -1h30m, -1d) | <partition>:<offset>[,...]',
    )
    .option(
      '--table <schema.table>',
      'the captured table whose topic to replay (required with several tables)',
    )
    .option(
      '--dry-run',
      'show per partition current -> new offset, the events replayed and the first one; move nothing',
    )
    .option(
      '--yes',
      'confirm a move forward (--to latest, a later time or offset): the events it skips are never applied',
    )
    .option(
      '--force',
      'if the target is being consumed right now: remove its consumers from the group (they rejoin within seconds and resume from the new offsets)',
    )
    .action(async (opts: ReplayOpts) => {
      const to = asUsage(() => parseReplayTo(opts.to));
      const { config, logger, kafka } = opsContext(opts);
      const target = config.targets.find((t) => t.name === opts.target);
      if (!target) {
        throw new ConfigError(`no target named "${opts.target}"`, {
          hint: `configured targets: ${config.targets.map((t) => t.name).join(', ') || '(none)'}`,
        });
      }
      const topics = kafka.admin();
      const groups = kafka.groupAdmin();
      await Promise.all([topics.connect(), groups.connect()]);
      try {
        const started = Date.now();
        const plan = await buildReplayPlan(
          {
            topics,
            groups,
            reader: kafka.reader(),
            decode: createEventDecoder(registryAccessOf(config.registry)),
          },
          {
            target: target.name,
            group: groupFor(config.kafka, target),
            topic: topicFor(config.kafka, chooseTable(config.source, opts.table)),
            to,
            withFirstEvents: true,
            countEvents: opts.dryRun ?? false,
          },
        );
        const preview = () => {
          console.log(formatPlan(plan, 'dry-run'));
          if (plan.members.length > 0) {
            console.log(
              `\nnote: the group has active members; the replay itself will be refused unless they stop or --force is given`,
            );
          }
        };
        if (opts.dryRun) {
          if (opts.json) printJson(replayJson(plan, { dryRun: true }));
          else preview();
          return;
        }
        if (plan.totalSkips > 0n && !opts.yes) {
          if (!opts.json) preview();
          await confirm(
            opts,
            `skip ${plan.compacted ? 'up to ' : ''}${plan.totalSkips} events of target ${target.name} (never applied)`,
          );
        }
        const result = await executeReplay(groups, plan, { force: opts.force ?? false });
        audit(
          logger,
          'info',
          {
            kind: 'replay',
            target: target.name,
            status: 'ok',
            counts: { replayed: Number(plan.totalReplays), skipped: Number(plan.totalSkips) },
            durationMs: Date.now() - started,
            to: plan.to,
            membersRemoved: result.membersRemoved,
          },
          'offsets moved',
        );
        if (opts.json) {
          printJson(replayJson(plan, { dryRun: false, result }));
        } else {
          console.log(formatPlan(plan, 'done'));
          if (result.membersRemoved > 0) {
            console.log(
              `\n--force: removed ${result.membersRemoved} consumer(s) from ${plan.group}` +
                (result.removals > result.membersRemoved
                  ? ` (${result.removals - result.membersRemoved} rejoined before the new offsets were committed and were removed again)`
                  : '') +
                '; they rejoin and resume from the new offsets',
            );
          }
          console.log(
            `\noffsets of ${plan.group} moved; target ${target.name} applies from there when its consumer runs (pgcdc consume --target ${target.name})`,
          );
        }
      } finally {
        await topics.disconnect().catch(() => undefined);
        await groups.disconnect().catch(() => undefined);
      }
    });
}
