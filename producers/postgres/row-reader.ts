// Completes the new row of a key-changing update. Under REPLICA IDENTITY DEFAULT PostgreSQL leaves
// unchanged TOASTed values out of the new tuple of an update, also when the update changes the
// primary key; the event for the new key is then a create that lacks columns, and no target can
// create a row from it (the old key's row, which had the values, is deleted by the event before).
// So the producer reads those columns of the new key from the source table, by primary key, when it
// publishes the event. It does the same for an update of a row a running snapshot has not fed yet
// (producers/snapshot/unread.ts): a target filled from the topic has no row to update yet.
//
// The read happens later than the change (it sees the table as it is now, not at the change's
// commit), which is safe because the stream is replayed in commit order:
// - the row is unchanged since: the values are exactly those of the change;
// - a later transaction changed one of those columns: the create carries the newer value a little
//   early, and the later update, published after it, sets that same value again: targets converge;
// - the row is gone (deleted, its key changed again, truncated, or deleted and inserted anew): the
//   change that removed it committed after this one, so it follows in the stream and removes the
//   key at every target; the create is not published (a target would receive a row it cannot
//   complete) and the skip is logged. A row inserted anew under the key is published by its insert.
//   Such an update is published as it came (the change that removed the row follows it).
import pg from 'pg';
import type { ChangeEvent, Row, TableContract } from '../../schemas/contract.ts';
import { decodeColumn, toSqlParam } from '../../schemas/values.ts';

/** Values as PostgreSQL's text output (as pgoutput sends them): no client-side type parsing. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/**
 * The session settings under which the text output of a row read matches what the walsender sends
 * (replication.ts SOURCE_SESSION_OPTIONS): set once on the client that reads rows.
 */
export const ROW_READ_SESSION_SQL =
  "SET DateStyle = 'ISO'; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET IntervalStyle = 'iso_8601'; SET bytea_output = 'hex'";

/**
 * The event with its `unchanged` columns read from the source, or undefined when the row with the
 * event's key no longer exists (see the header for why that is safe).
 */
export async function completeFromSource(
  client: pg.ClientBase,
  contract: TableContract,
  key: Row,
  event: ChangeEvent,
): Promise<ChangeEvent | undefined> {
  if (event.unchanged.length === 0 || !event.after) return event;
  const q = pg.escapeIdentifier;
  const specs = event.unchanged.map((name) => contract.columns.find((c) => c.name === name)!);
  const where = contract.keyColumns.map((k, i) => `${q(k)} = $${i + 1}`).join(' AND ');
  const params = contract.keyColumns.map((k) => {
    const spec = contract.columns.find((c) => c.name === k)!;
    return toSqlParam(spec.pgType, key[k] ?? null);
  });
  const res = await client.query<Record<string, string | null>>({
    text: `SELECT ${specs.map((c) => q(c.name)).join(', ')} FROM ${q(contract.schema)}.${q(contract.table)} WHERE ${where}`,
    values: params,
    types: RAW_TEXT,
  } as pg.QueryConfig);
  const raw = res.rows[0];
  if (!raw) return undefined;
  const after: Row = { ...event.after };
  for (const c of specs) {
    const text = raw[c.name];
    after[c.name] = text === null || text === undefined ? null : decodeColumn(c, text);
  }
  return { ...event, after, unchanged: [] };
}
