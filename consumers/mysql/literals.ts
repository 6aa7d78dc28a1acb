// How values become SQL literals on every pgcdc connection to MySQL/MariaDB (the sink's, `pgcdc
// check`'s, reconcile's): formatted client-side by sql-escaper (mysql2's own escaper) in the form
// that reads the SAME whatever the session's sql_mode. mysql2 by itself escapes with backslashes
// (\' \\ \0), which a session running NO_BACKSLASH_ESCAPES (a server's default sql_mode may have
// it) reads differently: the backslash is a plain character, \' ends the string, and the rest of
// the value is SQL (with the sink's multipleStatements, statements of its own). Here a quote is
// doubled (''), and a string with a backslash is written as
// REPLACE('a\%b', '\%', LEFT('\%', 1)): both modes keep "\%" as the two characters \ and % (a
// backslash before % stays, for LIKE), so every backslash comes back as one. Control characters
// (NUL, ^Z, newlines) go into the literal as they are; bytes are X'hex'; numbers, bigints and NULL
// plain. Identifiers never pass through here: table.ts quotes them, config validates them.
import { format, type SqlValue } from 'sql-escaper';

/** mysql2's `queryFormat`: `?` placeholders filled with mode-independent literals. */
export function modeSafeFormat(sql: string, values: unknown, timezone?: string): string {
  return format(sql, values as SqlValue | SqlValue[], false, timezone, { noBackslashEscapes: true });
}

/** Spread into mysql2's connection options: every query of that connection formats with modeSafeFormat. */
export const MODE_SAFE_LITERALS = { queryFormat: modeSafeFormat } as const;

/** Does this sql_mode read backslashes in string literals as plain characters? */
export const noBackslashEscapes = (sqlMode: string): boolean =>
  sqlMode.toUpperCase().split(',').includes('NO_BACKSLASH_ESCAPES');
