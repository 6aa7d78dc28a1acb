// `pgcdc status [--json]`: producer (slot, WAL retained, last event, snapshot progress) and each
// target (group, lag, last applied event, counters, last status and error) in one view.
import type { Command } from 'commander';
import { formatStatus, toJson } from '../../ops/format.ts';
import { gatherStatus } from '../../ops/status.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

export function registerStatusCommand(program: Command): void {
  withOpsOptions(program.command('status'))
    .description(
      'one view of the pipeline: slot and WAL retained, topic, and per target lag, counters, last error',
    )
    .action(async (opts: OpsOpts) => {
      const { config, kafka, pg } = opsContext(opts);
      const status = await gatherStatus(config, kafka, pg);
      console.log(opts.json ? toJson(status) : formatStatus(status, Date.now()));
    });
}
