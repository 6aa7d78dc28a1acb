// `pgcdc status` of a peers configuration (docs/peers.md, "Status"): every node and every link,
// as text or --json, with the same health rule and exit code (3 when unhealthy) as a pipeline's.
import { toJson } from '../../ops/format.ts';
import { formatPeersStatus } from '../../ops/peers-format.ts';
import { gatherPeersStatus, healthOfPeers } from '../../ops/peers-status.ts';
import type { OpsWiring } from '../../pipeline/compose.ts';
import { EXIT } from '../exit-codes.ts';
import type { OpsOpts } from './ops-common.ts';

export async function peersStatus(opts: OpsOpts, { config, kafka, pg }: OpsWiring): Promise<void> {
  const status = await gatherPeersStatus(config, kafka, pg);
  const health = healthOfPeers(status);
  if (opts.json) console.log(toJson({ ...status, ...health }));
  else {
    console.log(formatPeersStatus(status, Date.now()));
    console.log(
      health.healthy
        ? '\nhealth: OK'
        : `\nhealth: UNHEALTHY (exit code ${EXIT.unhealthy})\n${health.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  if (!health.healthy) process.exitCode = EXIT.unhealthy;
}
