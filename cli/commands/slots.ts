// `pgcdc slots list` / `pgcdc slots drop NAME --yes`: replication slots of the source server.
import type { Command } from 'commander';
import { formatSlots, toJson } from '../../ops/format.ts';
import { dropSlot, listSlots } from '../../ops/slots.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

export function registerSlotsCommands(program: Command): void {
  const slots = program
    .command('slots')
    .description('inspect the replication slots of the source server, drop a stale one');

  withOpsOptions(slots.command('list'))
    .description('every replication slot: plugin, database, active, confirmed position, WAL retained')
    .action(async (opts: OpsOpts) => {
      const { config, pg } = opsContext(opts);
      const list = await listSlots(config.source.url, pg);
      console.log(opts.json ? toJson(list) : formatSlots(list, config.source.slot));
    });

  withOpsOptions(slots.command('drop'))
    .description('drop an inactive replication slot (the server can then recycle the WAL it held)')
    .argument('<name>', 'slot name')
    .option('--yes', 'really drop it')
    .action(async (name: string, opts: OpsOpts & { yes?: boolean }) => {
      const { config, pg } = opsContext(opts);
      const out = await dropSlot(config.source.url, name, {
        connections: pg,
        yes: opts.yes ?? false,
        configuredSlot: config.source.slot,
        positionTable: config.source.position,
      });
      if (opts.json) console.log(toJson(out));
      else {
        const held =
          out.slot.retainedBytes === null ? '' : ` (it held ${out.slot.retainedBytes} bytes of WAL)`;
        console.log(
          out.dropped
            ? `dropped replication slot ${name}${held}`
            : `would drop replication slot ${name}${held}`,
        );
        if (out.consequence) console.log(`warning: ${out.consequence}`);
        if (!out.dropped) console.log('nothing done: add --yes to drop it');
      }
      if (!out.dropped) process.exitCode = 2;
    });
}
