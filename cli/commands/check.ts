// `pgcdc check [--json]`: validates the configuration and every connection; one line per check
// (OK / INFO / WARN / ERROR) with the fix. Exit code 1 (EXIT.failed) when any check is an ERROR.
import type { Command } from 'commander';
import { describeError } from '../../pipeline/errors.ts';
import { hasErrors, runChecks, type CheckResult } from '../../ops/check/index.ts';
import { formatChecks } from '../../ops/format.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson } from '../output.ts';
import { checkJson } from '../shapes.ts';
import { loadConfig } from './pipeline.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

export function registerCheckCommand(program: Command): void {
  withOpsOptions(program.command('check'))
    .description(
      'validate the config and every connection (source, Kafka, registry, targets); explain each problem and its fix',
    )
    .action(async (opts: OpsOpts) => {
      let results: CheckResult[];
      try {
        const config = loadConfig(opts.config);
        results = [{ id: 'config', level: 'OK', message: 'configuration is valid' }];
        const { kafka, pg } = opsContext(opts, config);
        results.push(...(await runChecks(config, kafka, pg)));
      } catch (err) {
        results = [
          {
            id: 'config',
            level: 'ERROR',
            message: describeError(err).replace(/\n\s*fix: .*$/s, ''),
            fix: 'fix the configuration file (each problem names its key)',
          },
        ];
      }
      const errors = results.filter((r) => r.level === 'ERROR').length;
      const warnings = results.filter((r) => r.level === 'WARN').length;
      if (opts.json) printJson(checkJson(results));
      else {
        console.log(formatChecks(results));
        console.log(`\n${errors} error(s), ${warnings} warning(s)`);
      }
      if (hasErrors(results)) process.exitCode = EXIT.failed;
    });
}
