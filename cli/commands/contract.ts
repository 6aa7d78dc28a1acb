// `pgcdc contract generate [--table t] [--out dir] [--force]`: writes the contract of each captured
// table (<table>-key.avsc, <table>-value.avsc) from the catalog into source.contracts; `pgcdc
// contract diff [--table t]`: table vs contract vs registry per table, column by column, with the
// BACKWARD verdicts; exit code 1 when anything differs (docs/contracts.md). Without --table every
// captured table, one after the other (docs/tables.md).
import type { Command } from 'commander';
import { formatDiff, diffIsClean } from '../../ops/contract/diff.ts';
import { contractDirOf, diffWithSource, generateFromSource } from '../../ops/contract/index.ts';
import { loadConfigFile } from '../../pipeline/config/load.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { sourceTablesOf, tableName, type TableRef } from '../../pipeline/config/schema.ts';
import { chooseTable } from './table-option.ts';
import { resolveConfigPath } from './pipeline.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson } from '../output.ts';
import { contractDiffJson, contractGenerateJson } from '../shapes.ts';
import { opsContext, withOpsOptions, type OpsOpts } from './ops-common.ts';

interface TableOpts extends OpsOpts {
  table?: string;
}

interface GenerateOpts extends TableOpts {
  out?: string;
  force?: boolean;
}

/** The tables a verb works on: the one named by --table, else every captured table. */
const tablesOf = (config: Config, opts: TableOpts): TableRef[] =>
  opts.table === undefined ? sourceTablesOf(config.source) : [chooseTable(config.source, opts.table)];

const TABLE_OPTION = [
  '--table <schema.table>',
  'only this captured table (default: every captured table)',
] as const;

export function registerContractCommands(program: Command): void {
  const contract = program
    .command('contract')
    .description('the event contract of the source table: generate it from the catalog, compare it');

  withOpsOptions(contract.command('generate'))
    .description(
      "write <table>-key.avsc and <table>-value.avsc from the source table's catalog (columns, types, NULLs, primary key) into source.contracts",
    )
    .option(...TABLE_OPTION)
    .option('--out <dir>', 'write here instead of source.contracts')
    .option('--force', 'overwrite existing contract files (review the change with pgcdc contract diff first)')
    .action(async (opts: GenerateOpts) => {
      // the contract may not exist yet: that is what this verb is for
      const config = loadConfigFile(resolveConfigPath(opts.config), process.env, false);
      contractDirOf(config, opts.out);
      const { pg } = opsContext(opts, config);
      const results = [];
      for (const table of tablesOf(config, opts)) {
        const res = await generateFromSource(config, pg, {
          table,
          ...(opts.out ? { out: opts.out } : {}),
          force: opts.force === true,
        });
        results.push({ table: tableName(table), ...contractGenerateJson(res) });
      }
      if (opts.json) printJson(results.length === 1 ? contractGenerateJson(results[0]!) : results);
      else {
        for (const r of results) {
          for (const f of r.files) console.log(`wrote ${f}`);
          for (const n of r.notes) console.log(`  ${n}`);
        }
        console.log('review the files (and pgcdc contract diff), then commit them with your configuration');
      }
    });

  withOpsOptions(contract.command('diff'))
    .description(
      'table vs contract vs registry (latest version), column by column, and whether each change is BACKWARD compatible; exit code 1 when they differ',
    )
    .option(...TABLE_OPTION)
    .action(async (opts: TableOpts) => {
      const { config, pg } = opsContext(opts);
      const diffs = [];
      for (const table of tablesOf(config, opts))
        diffs.push({ table, diff: await diffWithSource(config, pg, table) });
      const clean = diffs.every((d) => diffIsClean(d.diff));
      if (opts.json)
        printJson(
          diffs.length === 1
            ? contractDiffJson(diffs[0]!.diff, clean)
            : {
                clean,
                tables: diffs.map((d) => ({
                  table: tableName(d.table),
                  ...contractDiffJson(d.diff, diffIsClean(d.diff)),
                })),
              },
        );
      else
        console.log(
          diffs
            .map((d) =>
              formatDiff(d.diff, { table: tableName(d.table), contract: `${d.table.table}-value.avsc` }),
            )
            .join('\n\n'),
        );
      if (!clean) process.exitCode = EXIT.failed;
    });
}
