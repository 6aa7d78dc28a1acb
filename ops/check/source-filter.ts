// `pgcdc check` for the source filter (`source.filter`, producers/source-filter.ts): per filtered
// table, the predicate as an INFO line, or an ERROR naming what is wrong (does not compile, not a
// bool). Pure: compiles against the contracts, reads no database.
import type { Config } from '../../pipeline/config/schema.ts';
import { contractOf, sourceTablesOf, tableName } from '../../pipeline/config/schema.ts';
import { sourceFilterFor } from '../../pipeline/config/source-filter.ts';
import { compileSourceFilter } from '../../producers/source-filter.ts';
import { error, info, type CheckResult } from './types.ts';

export function checkSourceFilter(config: Config): CheckResult[] {
  return sourceTablesOf(config.source).flatMap((t) => {
    const expression = sourceFilterFor(config.source, t);
    if (expression === undefined) return [];
    const r = compileSourceFilter(expression, contractOf(config.source, t));
    return 'problem' in r
      ? [
          error(
            'source.filter',
            `source.filter of ${tableName(t)}: ${r.problem}`,
            'fix source.filter (docs/shaping.md)',
          ),
        ]
      : [
          info(
            'source.filter',
            `${tableName(t)}: only rows matching ${expression} enter Kafka (leaving: a delete for every target; entering: the whole row)`,
          ),
        ];
  });
}
