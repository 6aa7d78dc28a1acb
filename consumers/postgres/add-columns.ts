// ALTER TABLE ... ADD COLUMN at a PostgreSQL target (source.schemaChanges: automatic; the sink
// decorator consumers/evolving-sink.ts calls it when events of an evolved contract arrive). The new
// columns are nullable, with no default (rows written before hold NULL, as the events written
// before the change say), IF NOT EXISTS (a redelivered batch, a restarted consumer, two consumers
// of one target: the same DDL again changes nothing). Names quoted, type spellings validated
// (schemas/evolution.ts assertAddable), enum types created first with their labels.
import type { PgConnections } from '../../pipeline/postgres.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import type { ColumnSpec } from '../../schemas/contract.ts';
import { assertAddable } from '../../schemas/evolution.ts';
import { classifyPgError } from './errors.ts';
import { enumTypesSql, qname, quoteIdent } from './table.ts';

/** The statements adding `columns` to `schema.table`. Pure. */
export function addColumnsSql(t: { schema: string; table: string }, columns: ColumnSpec[]): string[] {
  for (const c of columns) assertAddable(c);
  return [
    ...enumTypesSql({ columns }),
    ...columns.map(
      (c) =>
        `ALTER TABLE ${qname({ ...t, columns: [], keyColumns: [] })} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${c.sqlType}`,
    ),
  ];
}

/** Runs addColumnsSql on its own short connection (the target role's timeouts). */
export async function addPostgresColumns(
  pg: PgConnections,
  target: { name: string; url: string; schema: string; table: string },
  columns: ColumnSpec[],
): Promise<void> {
  const client = pg.client(target.url, 'target', `pgcdc-ddl:${target.name}`);
  client.on('error', () => undefined);
  try {
    await client.connect();
    for (const sql of addColumnsSql(target, columns)) await client.query(sql);
  } catch (err) {
    const msg = `target ${target.name}: adding columns ${columns.map((c) => c.name).join(', ')} to ${target.schema}.${target.table} failed: ${(err as Error).message}`;
    if (classifyPgError(err, '') === 'transient') throw new UnavailableError(msg, { cause: err });
    throw new PgcdcError(msg, {
      cause: err,
      hint: 'the target role needs the right to ALTER the table (its owner); or add the columns by hand',
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}
