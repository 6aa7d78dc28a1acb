// The source filter (`source.filter`, docs/shaping.md): which rows enter Kafka at all. A CEL
// predicate over the row (pipeline/cel.ts), one for the table (one-table shorthand) or one per
// captured table ({ "schema.table": predicate }); a table without one is published whole. The
// producer applies it to snapshot reads and live changes alike, with the membership rules of a
// target filter (producers/source-filter.ts). Parsing and resolution only.
import { z } from 'zod';
import { resolveCaptured, sourceTablesOf, type TableRef } from './tables.ts';

const predicate = z.string().min(1).describe('a CEL predicate over the row: the rows that enter Kafka');

export const SourceFilterSchema = z
  .union([
    predicate,
    z
      .record(z.string(), predicate)
      .describe('"schema.table" (or a bare table name in source.schema) -> its predicate'),
  ])
  .optional()
  .describe(
    'which rows enter Kafka at all: a row leaving the filter is published as a delete (tombstone) for every target, one entering is published whole; snapshot and stream alike (docs/shaping.md)',
  );

export type SourceFilterConfig = z.output<typeof SourceFilterSchema>;

type Source = Parameters<typeof sourceTablesOf>[0] & { filter?: SourceFilterConfig };

/** The predicate of `table`; undefined: the table is published whole. */
export function sourceFilterFor(source: Source, table: TableRef): string | undefined {
  const f = source.filter;
  if (f === undefined || typeof f === 'string') return f;
  for (const [name, expr] of Object.entries(f)) {
    const ref = resolveCaptured(sourceTablesOf(source), name, source.schema);
    if (ref && ref.schema === table.schema && ref.table === table.table) return expr;
  }
  return undefined;
}

/** A filter naming a table that is not captured. */
export function sourceFilterIssues(source: Source): { path: (string | number)[]; message: string }[] {
  const f = source.filter;
  if (f === undefined || typeof f === 'string') return [];
  const captured = sourceTablesOf(source);
  return Object.keys(f)
    .filter((name) => !resolveCaptured(captured, name, source.schema))
    .map((name) => ({
      path: ['source', 'filter', name],
      message: `"${name}" is not a captured table`,
    }));
}
