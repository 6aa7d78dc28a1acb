// Change event -> webhook payload (JSON, `"version": 1`), a pure function. Values are rendered
// losslessly: bigint as strings, numeric as strings (as PostgreSQL prints them), timestamptz as
// ISO-8601 UTC with microseconds, jsonb embedded as the JSON PostgreSQL stored (big numbers keep
// every digit), text[] as arrays. The `id` is the event id: the same on every retry and replay.
// Every other type: docs/contracts.md (the type table, column "webhook JSON").
import { formatLsn } from '../../schemas/lsn.ts';
import type { ChangeEvent, ColumnSpec, ColumnValue, Op, Row, ScalarValue } from '../../schemas/contract.ts';
import { DATE_NEG_INFINITY, DATE_POS_INFINITY, formatDate, formatTime } from '../../schemas/temporal.ts';
import { splitPgType, type PgScalarType } from '../../schemas/types.ts';
import { TS_NEG_INFINITY, TS_POS_INFINITY, scalarText } from '../../schemas/values.ts';

export const PAYLOAD_VERSION = 1;

export type EventType = 'created' | 'updated' | 'deleted' | 'snapshot' | 'truncated';

export function eventType(op: Op): EventType {
  switch (op) {
    case 'c':
      return 'created';
    case 'u':
      return 'updated';
    case 'd':
      return 'deleted';
    case 'r':
      return 'snapshot';
    case 't':
      return 'truncated';
    default:
      return op satisfies never;
  }
}

/** The placeholders' texts of the stringifyPayload call running now (it is synchronous). */
let splicing: string[] | undefined;

/** jsonb text that is spliced into the body as JSON, not as a string. */
class RawJson {
  constructor(readonly text: string) {}
  /**
   * Inside stringifyPayload: a placeholder for the text (spliced in afterwards). A hook of
   * JSON.stringify itself, so the body needs no replacer function (which costs every value a call).
   */
  toJSON(): string {
    if (!splicing) return this.text;
    splicing.push(this.text);
    return `\u0000${splicing.length - 1}`;
  }
}

type JsonValue = string | number | boolean | null | RawJson | JsonValue[] | { [k: string]: JsonValue };

export interface Delivery {
  target: string;
  attempt: number;
  /** When this attempt was sent. */
  sentAtMs: number;
}

export interface PayloadInput {
  key: Row;
  event: ChangeEvent;
  /** a type the target's mapping gave the event (a transition); default from op */
  type?: string | undefined;
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

const pad2 = (x: number) => (x < 10 ? `0${x}` : String(x));
/** isoTimestamp's last day (days since 1970) and its date text */
let lastDay = Number.NaN;
let lastDate = '';

/** Microseconds since 1970 -> `2024-05-01T12:34:56.789012Z` (astronomical years before year 1). */
export function isoTimestamp(us: bigint): string {
  if (us === TS_POS_INFINITY) return 'infinity';
  if (us === TS_NEG_INFINITY) return '-infinity';
  // years 1685..2255 (|us| < 2^53): exact in double arithmetic; the date formatted by Date once
  // per day (the last day's text is kept: a stream's timestamps are mostly of one day), the time of
  // day by arithmetic
  if (us >= -MAX_EXACT && us <= MAX_EXACT) {
    const n = Number(us);
    const day = Math.floor(n / 86_400_000_000);
    let rest = n - day * 86_400_000_000; // microseconds of the day, exact
    if (day !== lastDay) {
      lastDay = day;
      lastDate = new Date(day * 86_400_000).toISOString().slice(0, 11); // 2024-05-01T
    }
    const micros = rest % 1_000_000;
    rest = (rest - micros) / 1_000_000;
    const sec = rest % 60;
    rest = (rest - sec) / 60;
    const min = rest % 60;
    const hour = (rest - min) / 60;
    return `${lastDate}${pad2(hour)}:${pad2(min)}:${pad2(sec)}.${String(micros).padStart(6, '0')}Z`;
  }
  const secs = floorDiv(us, 1_000_000n);
  const micros = us - secs * 1_000_000n;
  const days = floorDiv(secs, 86_400n);
  const sod = secs - days * 86_400n;
  // civil-from-days (H. Hinnant), as in schemas/values.ts
  const z = days + 719_468n;
  const era = floorDiv(z, 146_097n);
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  const y = yoe + era * 400n + (m <= 2n ? 1n : 0n);
  const p = (n: bigint, w = 2) => n.toString().padStart(w, '0');
  const year = y < 0n ? `-${p(-y, 4)}` : y > 9999n ? `+${y}` : p(y, 4);
  return `${year}-${p(m)}-${p(d)}T${p(sod / 3600n)}:${p((sod % 3600n) / 60n)}:${p(sod % 60n)}.${p(micros, 6)}Z`;
}

function renderScalar(kind: PgScalarType, v: ScalarValue): JsonValue {
  switch (kind) {
    case 'smallint':
    case 'integer':
    case 'boolean':
      return v as number | boolean;
    case 'real':
    case 'double precision':
      // JSON has no NaN or infinities: those (and -0) as PostgreSQL's text
      return Number.isFinite(v) && !Object.is(v, -0) ? (v as number) : scalarText(kind, v);
    case 'timestamptz':
      return isoTimestamp(v as bigint);
    case 'timestamp': {
      const iso = isoTimestamp(v as bigint);
      return iso.endsWith('Z') ? iso.slice(0, -1) : iso;
    }
    case 'date':
      // ISO-8601 like the timestamps (astronomical years); the infinities as PostgreSQL prints them
      return v === DATE_POS_INFINITY || v === DATE_NEG_INFINITY
        ? formatDate(v)
        : isoTimestamp(BigInt(v as number) * 86_400_000_000n).split('T')[0]!;
    case 'time':
      return formatTime(v as bigint);
    case 'json':
    case 'jsonb':
      return new RawJson(v as string);
    case 'bigint':
    case 'numeric':
    case 'text':
    case 'varchar':
    case 'char':
    case 'citext':
    case 'interval':
    case 'uuid':
    case 'inet':
    case 'cidr':
    case 'enum':
    case 'bytea':
      return scalarText(kind, v);
    default:
      return kind satisfies never;
  }
}

type ColumnKind = ReturnType<typeof splitPgType>;

function renderValue(col: ColumnKind | undefined, v: ColumnValue): JsonValue {
  if (v === null) return null;
  if (!col)
    return typeof v === 'bigint'
      ? v.toString()
      : Buffer.isBuffer(v)
        ? scalarText('bytea', v)
        : (v as JsonValue);
  const { kind, array } = col;
  if (!array) return renderScalar(kind, v as ScalarValue);
  return (v as (ScalarValue | null)[]).map((x) => (x === null ? null : renderScalar(kind, x)));
}

/** Each column's type by name, worked out once per column list (a target's columns do not change). */
const kindsOf = new WeakMap<ColumnSpec[], Map<string, ColumnKind>>();
function columnKinds(columns: ColumnSpec[]): Map<string, ColumnKind> {
  let kinds = kindsOf.get(columns);
  if (!kinds) kindsOf.set(columns, (kinds = new Map(columns.map((c) => [c.name, splitPgType(c.pgType)]))));
  return kinds;
}

export function renderRow(columns: ColumnSpec[], row: Row | null): JsonValue {
  if (row === null) return null;
  const kinds = columnKinds(columns);
  const out: { [k: string]: JsonValue } = {};
  for (const k in row) {
    const v = renderValue(kinds.get(k), row[k]!);
    // a column may be called __proto__: an own property, as Object.fromEntries would make it
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

function withoutUnchanged(row: Row, unchanged: string[]): Row {
  return unchanged.length === 0 ? row : { ...row, ...Object.fromEntries(unchanged.map((c) => [c, null])) };
}

/** The payload object of one event (JSON-ready except for embedded jsonb, see `stringifyPayload`). */
export function buildPayload(columns: ColumnSpec[], input: PayloadInput, delivery: Delivery): JsonValue {
  const { event } = input;
  const s = event.source;
  return {
    version: PAYLOAD_VERSION,
    id: event.event_id,
    type: input.type ?? eventType(event.op),
    op: event.op,
    table: `${s.schema}.${s.table}`,
    // a truncate is of the whole table: no key
    key: event.op === 't' ? null : renderRow(columns, input.key),
    before: renderRow(columns, event.before),
    // an unchanged column's field is not a value (null or a placeholder): shown as null
    after: renderRow(columns, event.after && withoutUnchanged(event.after, event.unchanged)),
    unchanged: event.unchanged,
    source: {
      db: s.db,
      schema: s.schema,
      table: s.table,
      lsn: formatLsn(s.lsn),
      commit_lsn: formatLsn(s.commit_lsn),
      seq: s.seq.toString(),
      transaction_id: s.tx_id === null ? null : s.tx_id.toString(),
      commit_time: isoTimestamp(s.ts_us),
      snapshot: s.snapshot,
      connector: s.connector,
      version: s.version,
    },
    emitted_at: isoTimestamp(event.ts_ms * 1000n),
    delivery: {
      target: delivery.target,
      attempt: delivery.attempt,
      sent_at: isoTimestamp(BigInt(delivery.sentAtMs) * 1000n),
    },
  };
}

/**
 * JSON text of a payload (or an array of payloads). jsonb values are spliced in verbatim, through
 * placeholders that cannot collide with data: PostgreSQL text and jsonb never contain U+0000.
 */
export function stringifyPayload(value: JsonValue): string {
  const raws: string[] = [];
  splicing = raws;
  let text: string;
  try {
    text = JSON.stringify(value);
  } finally {
    splicing = undefined;
  }
  if (raws.length === 0) return text;
  return text.replace(/"\\u0000(\d+)"/g, (_m, i: string) => raws[Number(i)]!);
}

/**
 * Why an event's jsonb values cannot be spliced into a body, or undefined when they all can. The
 * splice is verbatim, so a value that is not exactly one JSON value would break the whole body
 * (and every other event of a batch): such an event is refused on its own (dead-lettered).
 */
export function invalidJsonb(columns: ColumnSpec[], input: PayloadInput): string | undefined {
  const json = jsonColumns(columns);
  if (json.length === 0) return undefined;
  const { event } = input;
  for (const [side, row] of [
    ['before', event.before],
    ['after', event.after],
  ] as const) {
    if (!row) continue;
    for (const [name, kind] of json) {
      const v = row[name];
      if (v === null || v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) {
        if (typeof item !== 'string') continue;
        try {
          JSON.parse(item);
        } catch {
          // the parser's message quotes the value: keep it out of logs and status
          return `${side}.${name} is not valid JSON; a ${kind} value must be one JSON value`;
        }
      }
    }
  }
  return undefined;
}

/** The json and jsonb columns (name, kind) of a column list, worked out once per list. */
const jsonOf = new WeakMap<ColumnSpec[], [string, string][]>();
function jsonColumns(columns: ColumnSpec[]): [string, string][] {
  let json = jsonOf.get(columns);
  if (!json) {
    json = columns.flatMap((c): [string, string][] => {
      const { kind } = splitPgType(c.pgType);
      return kind === 'jsonb' || kind === 'json' ? [[c.name, kind]] : [];
    });
    jsonOf.set(columns, json);
  }
  return json;
}

/** The request body: one object (batchSize 1) or an array of them. */
export function renderBody(
  columns: ColumnSpec[],
  events: PayloadInput[],
  delivery: Delivery,
  asArray: boolean,
): string {
  const payloads = events.map((e) => buildPayload(columns, e, delivery));
  return stringifyPayload(asArray ? payloads : payloads[0]!);
}
