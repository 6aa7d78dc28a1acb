// The text of an error as it may be shown outside the dead-letter record: in a target's status
// (/readyz, `pgcdc status`, the status topic) and in log lines. Row values stay out: DETAIL and
// CONTEXT lines, "Key (email)=(...)", "Failing row contains (...)" and values PostgreSQL quotes in
// its messages ('invalid input syntax for type integer: "..."') are cut; the SQLSTATE and the
// constraint, table and column names of a database error are added, so the operator still knows
// what failed. The dead-letter record keeps the full text (`fullErrorText`). Pure.
import { describeError } from '../../pipeline/errors.ts';

/** The fields node-postgres sets on a server's error. */
interface DbError {
  code: string;
  detail?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The database error in `err` or its causes, if any. */
function dbErrorIn(err: unknown): DbError | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const x = e as Partial<DbError> & { severity?: unknown; syscall?: unknown; cause?: unknown };
    if (typeof x.code === 'string' && SQLSTATE.test(x.code) && x.syscall === undefined && x.severity)
      return x as DbError;
    e = x.cause;
  }
  return undefined;
}

const VALUE_LINE = /^\s*(DETAIL|CONTEXT|WHERE):/;

/** Cuts what may hold row values out of an error text. */
export function withoutValues(text: string): string {
  return text
    .split('\n')
    .filter((line) => !VALUE_LINE.test(line))
    .join('\n')
    .replace(
      /(Key \([^)]*\)=\().*?(\)(?= (?:already exists|is not present|is still referenced|conflicts))|\)\.?$)/gm,
      '$1…$2',
    )
    .replace(/Failing row contains \(.*\)\.?/g, 'Failing row contains (…).')
    .replace(/((?::|\bvalue|\bupdate of|\bliteral)\s*)"(?:[^"\\]|\\.|"")*"/g, '$1"…"');
}

function facts(db: DbError): string {
  const table = db.table && (db.schema ? `${db.schema}.${db.table}` : db.table);
  return [
    `SQLSTATE ${db.code}`,
    db.constraint && `constraint ${db.constraint}`,
    table && `table ${table}`,
    db.column && `column ${db.column}`,
  ]
    .filter(Boolean)
    .join(', ');
}

export function publicError(err: unknown): string {
  const [first = '', ...rest] = withoutValues(describeError(err)).split('\n');
  const db = dbErrorIn(err);
  return [db ? `${first} (${facts(db)})` : first, ...rest].join('\n');
}

/** The dead-letter record's text: the message with the SQLSTATE and DETAIL of a database error. */
export function fullErrorText(message: string, cause: unknown): string {
  const db = dbErrorIn(cause);
  if (!db) return message;
  return `${message} (SQLSTATE ${db.code})${db.detail ? `\nDETAIL: ${db.detail}` : ''}`;
}
