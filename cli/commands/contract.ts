// `pgcdc contract generate [--out dir] [--force]`: writes the source table's contract
// (<table>-key.avsc, <table>-value.avsc) from the catalog into source.contracts; `pgcdc contract
// diff`: table vs contract vs registry, column by column, with the BACKWARD verdicts; exit code 1
// when anything differs (docs/contracts.md).
import type { Command } from 'commander';
import { formatDiff, diffIsClean } from '../../ops/contract/diff.ts';
import { contractDirOf, diffWithSource, generateFromSource } from '../../ops/contract/index.ts';
import { loadConfigFile } from '../../pipeline/config/load.ts';
import { resolveConfigPath } from './pipeline.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson } from '../output.ts';
import { contractDiffJson, contractGenerateJson } from '../shapes.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

interface GenerateOpts extends OpsOpts {
  out?: string;
  force?: boolean;
}

export function registerContractCommands(program: Command): void {
  const contract = program
    .command('contract')
    .description('the event contract of the source table: generate it from the catalog, compare it');

  withOpsOptions(contract.command('generate'))
    .description(
      "write <table>-key.avsc and <table>-value.avsc from the source table's catalog (columns, types, NULLs, primary key) into source.contracts",
    )
    .option('--out <dir>', 'write here instead of source.contracts')
    .option('--force', 'overwrite existing contract files (review the change with pgcdc contract diff first)')
    .action(async (opts: GenerateOpts) => {
      // the contract may not exist yet: that is what this verb is for
      const config = loadConfigFile(resolveConfigPath(opts.config), process.env, false);
      contractDirOf(config, opts.out);
      const { pg } = opsContext(opts, config);
      const res = await generateFromSource(config, pg, {
        ...(opts.out ? { out: opts.out } : {}),
        force: opts.force === true,
      });
      if (opts.json) printJson(contractGenerateJson(res));
      else {
        for (const f of res.files) console.log(`wrote ${f}`);
        for (const n of res.notes) console.log(`  ${n}`);
        console.log('review the files (and pgcdc contract diff), then commit them with your configuration');
      }
    });

  withOpsOptions(contract.command('diff'))
    .description(
      'table vs contract vs registry (latest version), column by column, and whether each change is BACKWARD compatible; exit code 1 when they differ',
    )
    .action(async (opts: OpsOpts) => {
      const { config, pg } = opsContext(opts);
      const d = await diffWithSource(config, pg);
      if (opts.json) printJson(contractDiffJson(d, diffIsClean(d)));
      else
        console.log(
          formatDiff(d, {
            table: `${config.source.schema}.${config.source.table}`,
            contract: `${config.source.table}-value.avsc`,
          }),
        );
      if (!diffIsClean(d)) process.exitCode = EXIT.failed;
    });
}
