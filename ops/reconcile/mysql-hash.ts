// Range hashes at a MySQL/MariaDB target (scan.ts): both servers hash a chunk of rows in one
// canonical text form, so a chunk that agrees is never transferred. The two servers print values
// differently (booleans t/1, timestamps with +00 or without, TIME and DECIMAL padding, arrays as
// {..} or JSON), so each column is turned into the same text on both sides by a pair of SQL
// expressions, per contract type; pure (builds SQL text only).
//
// A row's form: for each compared column, `<characters>:<text>` (NULL: `~`), concatenated, then
// md5; a chunk's hash: md5 of its rows' md5s in key order. The length prefix makes the form
// injective: equal forms mean equal values, so an equal hash never hides a difference (a form
// that differs for equal values only sends the chunk to the row-by-row comparison).
//
// Hashed in SQL: integers, booleans (1/0), numeric(p,s) within DECIMAL(65,30) (both print the
// column's scale), text kinds (text, varchar, citext, uuid, inet, cidr, enum, interval in the
// ISO 8601 style both sessions use), date, time (TIME(6)'s trailing zeros trimmed), timestamp and
// timestamptz (both as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC), bytea (hex). On MariaDB also json,
// jsonb and arrays of integers or text kinds: MariaDB keeps JSON text as the sink wrote it
// (PostgreSQL's own output, arrays as array_to_json prints them); MySQL rewrites JSON (key order,
// spacing), so there they are not. char(n) as its output function prints it, padded (the text
// cast would drop the padding; the sink wrote the padded text into a VARCHAR, which keeps it).
// Not hashed, for the reasons: real and double precision (the servers print floats in different
// notations: PostgreSQL 1e+20 and 1e-05, MariaDB 1e20 and 0.00001), numeric without precision
// (DECIMAL(65,30) pads what PostgreSQL prints as written), arrays of other kinds (booleans become
// 1/0, times and numbers change form). A table with such a column is compared row by row.
//
// Keys: a chunk is a key range bounded by the source's keys, so both servers must order the keys
// alike. Integers, numeric(p,s), date, time, timestamps, booleans and bytes order alike by value;
// text, varchar and uuid keys (PostgreSQL orders them by bytes: COLLATE "C", uuid's bytes) only at
// a target column whose collation orders by bytes and counts trailing spaces (utf8mb4_nopad_bin,
// utf8mb4_0900_bin, binary: the collation a table pgcdc creates gets); under another collation
// (utf8mb4_unicode_ci orders 'B' before 'a', utf8mb4_bin ignores trailing spaces) the table is
// compared row by row. Were the orders ever to disagree, no difference would hide either: every
// target row falls in some range (the ranges' bounds cover any order), a range's hash covers its
// rows with their keys, so a row the source lacks, or placed elsewhere, makes the hashes differ.
import type { ColumnSpec } from '../../schemas/contract.ts';
import { splitPgType, type PgScalarType } from '../../schemas/types.ts';
import { decimalType } from '../../consumers/mysql/types.ts';
import type { TablePlan } from './plan.ts';

export type MysqlFlavor = 'mariadb' | 'mysql';

/** The two expressions of one column's canonical text: at PostgreSQL (the source) and at the target. */
interface Forms {
  pg: (col: string) => string;
  my: (col: string) => string;
}

const INTEGERS = new Set<PgScalarType>(['smallint', 'integer', 'bigint']);
const TEXTS = new Set<PgScalarType>([
  'text',
  'varchar',
  'citext',
  'uuid',
  'inet',
  'cidr',
  'enum',
  'interval',
]);
const asText: Forms = { pg: (c) => `${c}::text`, my: (c) => `CAST(${c} AS CHAR)` };
const UTC_US = `'YYYY-MM-DD HH24:MI:SS.US'`;
const trimmedFraction = (c: string) => `TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(${c} AS CHAR)))`;

/** Whether numeric's type modifier keeps its scale at the target (DECIMAL(p,s) unchanged). */
function exactDecimal(sqlType: string): boolean {
  const m = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(sqlType);
  return m !== null && decimalType(sqlType) === `DECIMAL(${m[1]},${m[2] ?? 0})`;
}

/** The canonical forms of a column, or why it cannot be hashed at this target. */
export function formsOf(c: ColumnSpec, flavor: MysqlFlavor): Forms | string {
  const { kind, array } = splitPgType(c.pgType);
  if (array) {
    if (flavor !== 'mariadb') return 'MySQL rewrites the JSON arrays holds';
    if (!INTEGERS.has(kind) && !TEXTS.has(kind)) return `an array of ${kind} changes form in JSON`;
    return { pg: (x) => `array_to_json(${x})::text`, my: (x) => x };
  }
  switch (kind) {
    case 'smallint':
    case 'integer':
    case 'bigint':
    case 'date':
      return asText;
    case 'text':
    case 'varchar':
    case 'citext':
    case 'uuid':
    case 'inet':
    case 'cidr':
    case 'enum':
    case 'interval':
      return { pg: asText.pg, my: (x) => x };
    case 'boolean':
      return { pg: (x) => `${x}::int::text`, my: asText.my };
    case 'numeric':
      return exactDecimal(c.sqlType) ? asText : `${c.sqlType} is stored with another scale`;
    case 'time':
      return { pg: asText.pg, my: trimmedFraction };
    case 'timestamp':
      return { pg: (x) => `to_char(${x}, ${UTC_US})`, my: asText.my };
    case 'timestamptz':
      return { pg: (x) => `to_char(${x} AT TIME ZONE 'UTC', ${UTC_US})`, my: asText.my };
    case 'bytea':
      return { pg: (x) => `encode(${x}, 'hex')`, my: (x) => `LOWER(HEX(${x}))` };
    case 'json':
    case 'jsonb':
      return flavor === 'mariadb' ? { pg: asText.pg, my: (x) => x } : 'MySQL rewrites JSON text';
    case 'real':
    case 'double precision':
      return 'the servers print floats differently';
    case 'char':
      // bpcharout prints the stored, padded value (x::text would trim it); strict: NULL stays NULL
      return { pg: (x) => `textin(bpcharout(${x}))`, my: (x) => x };
    default:
      return kind satisfies never;
  }
}

/** Key kinds both servers order alike by value (the target's column types: mysql/types.ts). */
const VALUE_ORDERED = new Set<PgScalarType>([
  'smallint',
  'integer',
  'bigint',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'boolean',
  'bytea',
]);
/** Key kinds PostgreSQL orders by bytes: alike at a target column whose collation does too. */
const BYTE_ORDERED = new Set<PgScalarType>(['text', 'varchar', 'uuid']);

/** Whether a MySQL collation orders by bytes (UTF-8: by code point) and counts trailing spaces. */
export const byteOrdered = (collation: string | null | undefined): boolean =>
  collation !== null && collation !== undefined && /^(binary|\w+_nopad_bin|\w+_0900_bin)$/i.test(collation);

/** Why the target may order this key column differently from the source (undefined: it does not). */
function keyOrderProblem(spec: TablePlan['key'][number]['spec'], collation: string | null | undefined) {
  const { kind, array } = splitPgType(spec.pgType);
  if (array) return 'an array';
  if (VALUE_ORDERED.has(kind)) return undefined;
  if (kind === 'numeric') return exactDecimal(spec.sqlType) ? undefined : `${spec.sqlType} changes scale`;
  if (BYTE_ORDERED.has(kind))
    return byteOrdered(collation)
      ? undefined
      : `its collation at the target (${collation ?? 'unknown'}) does not order by bytes as the source does; utf8mb4_nopad_bin does`;
  return `${kind} keys may be ordered differently at the target`;
}

/**
 * Why the plan's chunks cannot be hashed at this target (undefined: they can); `keyCollations`:
 * the target's key columns' collations (information_schema), by target column name.
 */
export function unhashable(
  plan: TablePlan,
  flavor: MysqlFlavor,
  keyCollations: ReadonlyMap<string, string | null> = new Map(),
): string | undefined {
  if (!plan.sqlHashes) return 'the mapping has a filter or computed fields';
  for (const k of plan.key) {
    const problem = keyOrderProblem(k.spec, keyCollations.get(k.target));
    if (problem) return `key column ${k.source}: ${problem}`;
  }
  for (const c of plan.columns) {
    const f = formsOf(c, flavor);
    if (typeof f === 'string') return `column ${c.name}: ${f}`;
  }
  return undefined;
}

const lengthPrefixedPg = (e: string) => `coalesce(char_length(${e})::text || ':' || ${e}, '~')`;
// the parts as bytes (UTF-8): columns of different collations (JSON's utf8mb4_bin beside a text
// column's) cannot be concatenated as characters
const lengthPrefixedMy = (e: string) => `COALESCE(CONCAT(CHAR_LENGTH(${e}), ':', CAST(${e} AS BINARY)), '~')`;

/**
 * md5 of a source row's canonical form (`col` quotes a source column of alias x). The PostgreSQL
 * side of a form is the same for both flavors; only which columns can be hashed differs.
 */
export function pgRowHash(plan: TablePlan, col: (name: string) => string): string {
  const parts = plan.columns.map((c) => {
    const f = formsOf(c, 'mariadb') as Forms;
    const name = c.origin.kind === 'column' ? c.origin.source : c.name;
    return lengthPrefixedPg(f.pg(col(name)));
  });
  return `md5(${parts.join(' || ')})`;
}

/** md5 of a target row's canonical form at MySQL/MariaDB (`col` quotes a column of alias x). */
export function mysqlRowHash(plan: TablePlan, flavor: MysqlFlavor, col: (name: string) => string): string {
  const parts = plan.columns.map((c) => lengthPrefixedMy((formsOf(c, flavor) as Forms).my(col(c.name))));
  return `MD5(CONCAT(${parts.join(', ')}))`;
}
