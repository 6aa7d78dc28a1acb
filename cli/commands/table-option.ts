// The `--table` option of the operator verbs that deal with one change topic (replay, snapshot):
// which captured table the operator means (docs/tables.md).
import { ConfigError } from '../../pipeline/errors.ts';
import { resolveCaptured, sourceTablesOf, tableName, type TableRef } from '../../pipeline/config/schema.ts';

type TablesSource = Parameters<typeof sourceTablesOf>[0];

/**
 * The captured table an operator verb means (`--table`): the one table when there is one, else
 * the name given, which must be a captured table.
 */
export function chooseTable(source: TablesSource, text: string | undefined): TableRef {
  const captured = sourceTablesOf(source);
  const names = captured.map(tableName).join(', ');
  if (text === undefined) {
    if (captured.length === 1) return captured[0]!;
    throw new ConfigError(`this pipeline captures ${captured.length} tables: say which one`, {
      hint: `--table <schema.table>, one of ${names}`,
    });
  }
  const t = resolveCaptured(captured, text, source.schema);
  if (!t) throw new ConfigError(`"${text}" is not a captured table`, { hint: `captured tables: ${names}` });
  return t;
}
