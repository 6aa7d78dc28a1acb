// `pgcdc status [--json]`: producer (slot, WAL retained, last event, snapshot progress) and each
// target (group, lag, last applied event, counters, last status and error) in one view, and
// whether it is healthy: exit code 3 (cli/exit-codes.ts) with the problems when it is not.
import type { Command } from 'commander';
import { formatStatus } from '../../ops/format.ts';
import { healthOf } from '../../ops/health.ts';
import { gatherStatus } from '../../ops/status.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson } from '../output.ts';
import { statusJson } from '../shapes.ts';
import { peersStatus } from './peers-status.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

export function registerStatusCommand(program: Command): void {
  withOpsOptions(program.command('status'))
    .description(
      'one view of the pipeline: slot and WAL retained, topic, and per target lag, counters, last error; exit 3 when unhealthy',
    )
    .action(async (opts: OpsOpts) => {
      const wiring = opsContext(opts);
      if (wiring.config.peers) return peersStatus(opts, wiring); // every node and link (docs/peers.md)
      const { config, kafka, pg } = wiring;
      const status = await gatherStatus(config, kafka, pg);
      const health = healthOf(status);
      if (opts.json) printJson(statusJson(status, health));
      else {
        console.log(formatStatus(status, Date.now()));
        console.log(
          health.healthy
            ? '\nhealth: OK'
            : `\nhealth: UNHEALTHY (exit code ${EXIT.unhealthy})\n${health.problems.map((p) => `  - ${p}`).join('\n')}`,
        );
      }
      if (!health.healthy) process.exitCode = EXIT.unhealthy;
    });
}
