// The source filter (`source.filter`, pipeline/config/source-filter.ts) applied to what the
// producer publishes: snapshot reads and live changes pass the same predicate, with the membership
// rules of a target filter (consumers/mapping/map.ts), so every target sees a consistent subset:
// - a create or a snapshot read is published when the row matches, dropped otherwise;
// - an update whose new row matches is published whole (the session completes an update that lacks
//   unchanged TOASTed values from the source before this runs: a row can enter the filter through
//   such an update, and a target that never held it needs every column); one whose new row does
//   not match becomes a delete of the key (a tombstone follows it on the topic: every target
//   removes the row by its delete policy), unless the previous row is known (REPLICA IDENTITY FULL)
//   and did not match either (then no target holds it: dropped);
// - a delete is published, unless the previous row is known and did not match;
// - a truncate, commits, heartbeats and the rest pass untouched.
// A predicate that fails to evaluate for a row counts as false for it (the row stays out), logged.
// Pure apart from that log line.
import { compile, ExpressionError, rowEnvironment, rowVariables, type Compiled } from '../pipeline/cel.ts';
import { sourceFilterFor, type SourceFilterConfig } from '../pipeline/config/source-filter.ts';
import { sourceTablesOf } from '../pipeline/config/tables.ts';
import { ConfigError } from '../pipeline/errors.ts';
import type { ColumnSpec, Row, TableContract } from '../schemas/contract.ts';
import type { SourceItem } from './postgres/assembler.ts';

export interface SourceFilter {
  predicate: Compiled;
  /** the columns the predicate reads */
  reads: ColumnSpec[];
}

/** The predicate compiled against the table's contract, or the problem with it. */
export function compileSourceFilter(
  expression: string,
  contract: TableContract,
): { filter: SourceFilter } | { problem: string } {
  try {
    const predicate = compile(rowEnvironment(contract.columns), expression, 'row');
    if (predicate.type !== 'bool' && predicate.type !== 'dyn')
      return { problem: `must be bool, is ${predicate.type}` };
    return { filter: { predicate, reads: contract.columns.filter((c) => predicate.reads.has(c.name)) } };
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    return { problem: `does not compile: ${err.message}` };
  }
}

type FilterSource = Parameters<typeof sourceTablesOf>[0] & { filter?: SourceFilterConfig };

/** The filter of each captured table that has one, by "schema.table"; throws naming every problem. */
export function compileSourceFilters(
  source: FilterSource,
  contracts: readonly TableContract[],
): Map<string, SourceFilter> {
  const out = new Map<string, SourceFilter>();
  const problems: string[] = [];
  for (const contract of contracts) {
    const expression = sourceFilterFor(source, contract);
    if (expression === undefined) continue;
    const name = `${contract.schema}.${contract.table}`;
    const r = compileSourceFilter(expression, contract);
    if ('problem' in r) problems.push(`source.filter of ${name}: ${r.problem}`);
    else out.set(name, r.filter);
  }
  if (problems.length > 0)
    throw new ConfigError(problems.join('; '), { hint: 'fix source.filter (docs/shaping.md)' });
  return out;
}

/** Does `row` match? A row lacking a column the predicate reads is a defect upstream (see above). */
export function rowMatches(filter: SourceFilter, row: Row, onError: (err: Error) => void): boolean {
  try {
    return filter.predicate.evaluate(rowVariables(filter.reads, row)) === true;
  } catch (err) {
    onError(err as Error);
    return false;
  }
}

/** What `item` becomes under the table's filter: itself, a delete of its key, or nothing. */
export function applySourceFilter(
  filter: SourceFilter | undefined,
  item: SourceItem,
  onError: (err: Error) => void = () => undefined,
): SourceItem | undefined {
  if (!filter || item.kind !== 'event') return item;
  const e = item.event;
  const unread = filter.reads.filter((c) => e.unchanged.includes(c.name));
  if (unread.length > 0)
    throw new Error(
      `source.filter reads ${unread.map((c) => c.name).join(', ')}, which the change left out (an incomplete update reached the filter)`,
    );
  const matches = (row: Row | null) => row !== null && rowMatches(filter, row, onError);
  const beforeOut = e.before !== null && !matches(e.before); // known, and outside
  switch (e.op) {
    case 'c':
    case 'r':
      return matches(e.after) ? item : undefined;
    case 'u':
      if (matches(e.after)) return item;
      if (beforeOut) return undefined;
      return { ...item, event: { ...e, op: 'd', after: null, unchanged: [] } };
    case 'd':
      return beforeOut ? undefined : item;
    case 't':
      return item;
    default:
      return e.op satisfies never;
  }
}
