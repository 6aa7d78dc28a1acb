// `pgcdc slots list` / `pgcdc slots drop NAME [--dry-run] [--yes]`: replication slots of the
// source server. Dropping deletes what the slot holds, so it previews first and needs --yes (or a
// "yes" typed on a terminal); without it nothing is dropped and the exit code is 2 (cli/output.ts).
import type { Command } from 'commander';
import { formatSlots } from '../../ops/format.ts';
import { dropSlot, listSlots, type DropOutcome } from '../../ops/slots.ts';
import { confirm, printJson } from '../output.ts';
import { slotDropJson, slotsJson } from '../shapes.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

interface DropOpts extends OpsOpts {
  yes?: boolean;
  dryRun?: boolean;
}

function describeDrop(name: string, out: DropOutcome): string {
  const held = out.slot.retainedBytes === null ? '' : ` (it held ${out.slot.retainedBytes} bytes of WAL)`;
  const lines = [
    out.dropped ? `dropped replication slot ${name}${held}` : `would drop replication slot ${name}${held}`,
  ];
  if (out.consequence) lines.push(`warning: ${out.consequence}`);
  return lines.join('\n');
}

export function registerSlotsCommands(program: Command): void {
  const slots = program
    .command('slots')
    .description('inspect the replication slots of the source server, drop a stale one');

  withOpsOptions(slots.command('list'))
    .description('every replication slot: plugin, database, active, confirmed position, WAL retained')
    .action(async (opts: OpsOpts) => {
      const { config, pg } = opsContext(opts);
      const list = await listSlots(config.source.url, pg);
      if (opts.json) printJson(slotsJson(list, config.source.slot));
      else console.log(formatSlots(list, config.source.slot));
    });

  withOpsOptions(slots.command('drop'))
    .description(
      'drop an inactive replication slot (the server can then recycle the WAL it held); needs --yes',
    )
    .argument('<name>', 'slot name')
    .option('--dry-run', 'show what would be dropped (and what that means for this pipeline); drop nothing')
    .option('--yes', 'really drop it (without: refused with exit code 2, unless confirmed on a terminal)')
    .action(async (name: string, opts: DropOpts) => {
      const { config, pg } = opsContext(opts);
      const drop = (yes: boolean) =>
        dropSlot(config.source.url, name, {
          connections: pg,
          yes,
          configuredSlot: config.source.slot,
          positionTable: config.source.position,
        });
      const preview = await drop(false);
      const show = (out: DropOutcome, dryRun: boolean) => {
        if (opts.json) printJson(slotDropJson(out, dryRun));
        else console.log(describeDrop(name, out));
      };
      if (opts.dryRun || !opts.yes) {
        // the preview goes out before the question (or the refusal), so the operator sees what is at
        // stake; with --json only a dry run prints a document (a refusal prints none)
        if (opts.dryRun || !opts.json) show(preview, true);
        if ((await confirm(opts, `drop replication slot ${name}`)) === 'preview') return;
      }
      show(await drop(true), false);
    });
}
