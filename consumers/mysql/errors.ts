// Classifies MySQL/MariaDB errors (server error numbers, and the driver's socket errors) into what
// the sink does with them, as classifyPgError does for PostgreSQL.
import { EVENT_ID } from './table.ts';

export type MysqlErrorClass = 'transient' | 'blocking' | 'secondary-unique' | 'rejected';

interface MysqlError {
  errno?: number;
  code?: string;
  sqlMessage?: string;
  fatal?: boolean;
  message: string;
}

/** The server refuses this row's values for good: dead-letter it. */
const REJECTED = new Set([
  1048, // column cannot be null
  1264, // out of range value
  1265, // data truncated
  1292, // incorrect datetime/date/double value
  1366, // incorrect string/integer value (e.g. not utf8mb4)
  1367, // illegal value
  1406, // data too long for column (a VARCHAR(n) the user chose)
  1416, // cannot get geometry object
  1452, // foreign key: no parent row
  1451, // foreign key: row is a parent
  3140, // invalid JSON (MySQL)
  3819, // check constraint violated (MySQL)
  4025, // CONSTRAINT ... failed (MariaDB CHECK, JSON_VALID of a JSON column)
  1690, // value out of range in an expression
  3988, // conversion to a character set failed
]);

/** Server busy or the transaction was rolled back whole: retry the batch. */
const TRANSIENT = new Set([
  1205, // lock wait timeout
  1213, // deadlock (InnoDB rolled the whole transaction back)
  1040, // too many connections
  1053, // server shutdown in progress
  1927, // connection killed (MariaDB)
  3024, // max_execution_time exceeded (MySQL)
  1969, // max_statement_time exceeded (MariaDB)
  2013, // lost connection during query
  2006, // server has gone away
  1317, // query interrupted
]);

/** The table or the grants do not fit: retry, the operator must fix it. */
const BLOCKING = new Set([
  1146, // table does not exist
  1054, // unknown column
  1142, // command denied
  1143, // column command denied
  1044, // access denied to database
  1045, // access denied for user
  1049, // unknown database
  1364, // field has no default value (a column pgcdc does not write)
]);

/**
 * A lock conflict at the target (another lane's transaction, or one outside the pipeline):
 * `deadlock` (1213: InnoDB rolled the WHOLE transaction back, savepoints included) or `lock-timeout`
 * (1205: only the statement was rolled back, unless the server runs innodb_rollback_on_timeout).
 * classifyMysqlError keeps both `transient` (a sink with one connection retries the batch); the
 * laned sink reads them here first and retries the batch, or its rest, as a lock wait.
 */
export function lockConflictOf(err: unknown): 'deadlock' | 'lock-timeout' | undefined {
  const errno = (err as MysqlError | undefined)?.errno;
  return errno === 1213 ? 'deadlock' : errno === 1205 ? 'lock-timeout' : undefined;
}

/**
 * transient: connection or lock trouble, retry the batch later; blocking: shape or grants wrong;
 * secondary-unique: a unique key other than the primary key (resolves once other partitions catch
 * up); rejected: the target refuses this row (strict mode, CHECK, length): dead-letter it.
 */
export function classifyMysqlError(err: unknown): MysqlErrorClass {
  const e = err as MysqlError;
  // 2000-2999: the client library's own errors (lost connection, ...), never a verdict on the row
  if (e.errno === undefined || e.fatal || (e.errno >= 2000 && e.errno < 3000)) return 'transient';
  if (TRANSIENT.has(e.errno)) return 'transient';
  if (isSecondaryUnique(e)) return 'secondary-unique';
  if (e.errno === 1062) return 'transient'; // duplicate PRIMARY: a concurrent insert of the key; retry
  if (REJECTED.has(e.errno)) return 'rejected';
  if (BLOCKING.has(e.errno)) return 'blocking';
  return 'blocking';
}

function isSecondaryUnique(e: MysqlError): boolean {
  // the upsert's own-key check (sql.ts) fires when ON DUPLICATE KEY found another row by a unique key
  if (e.errno === 1048 && (e.sqlMessage ?? e.message).includes(`'${EVENT_ID}'`)) return true;
  if (e.errno !== 1062) return false;
  const key = uniqueKeyName(e);
  return key !== undefined && key !== 'PRIMARY';
}

/** The key named in a duplicate-entry error: MariaDB says 'email', MySQL 8 'users.email'. */
export function uniqueKeyName(err: unknown): string | undefined {
  const e = err as MysqlError;
  const m = /for key '([^']+)'/.exec(e.sqlMessage ?? e.message);
  return m?.[1]?.split('.').pop();
}

/** A server error as the dead-letter record keeps it: the message, the error number and SQLSTATE. */
export function mysqlErrorText(err: unknown): string {
  const e = err as MysqlError & { sqlState?: string };
  const msg = e.sqlMessage ?? e.message;
  return e.errno === undefined
    ? msg
    : `${msg} (errno ${e.errno}${e.sqlState ? `, SQLSTATE ${e.sqlState}` : ''})`;
}

/** The same without the row values MySQL quotes ('Duplicate entry '…' for key', 'value: '…''). */
export function mysqlErrorTextWithoutValues(err: unknown): string {
  return mysqlErrorText(err)
    .replace(/(Duplicate entry )'(?:[^'\\]|\\.|'')*'/g, "$1'…'")
    .replace(/(value: )'(?:[^'\\]|\\.|'')*'/g, "$1'…'");
}
