// pgoutput messages -> change events. Pure and streaming: each row change becomes an event as soon
// as it arrives (Begin carries the commit LSN, time and xid), so memory stays flat however large
// the transaction. A `commit` item marks the point up to which the WAL may be acknowledged once
// everything before it is published; a `heartbeat` item does the same for idle periods.
//
// Schema drift (README: Schema changes): the contract (.avsc) decides what an event carries. A
// source column the contract lacks is ignored; a NULLABLE contract column the table no longer has
// is carried as null (with a warning); a missing NOT NULL column stops the stream with a
// SchemaMismatchError, before anything of that change is published or acknowledged.
//
// Several tables (docs/tables.md): each captured table has its own contract and drift state; one
// transaction's events, whatever their table, share its commit LSN and its seq numbering.
import type { Pgoutput } from 'pg-logical-replication';
import type { ChangeEvent, ColumnSpec, Op, Row, TableContract } from '../../schemas/contract.ts';
import { PgcdcError } from '../../pipeline/errors.ts';
import { decodeColumn, unchangedPlaceholder } from '../../schemas/values.ts';
import { parseWatermark, SIGNAL_PREFIX, WATERMARK_PREFIX, type Watermark } from '../snapshot/watermark.ts';
import { parseLsn, formatLsn, type Lsn } from '../../schemas/lsn.ts';

export const HEARTBEAT_PREFIX = 'pgcdc.heartbeat';

export type SourceItem =
  | { kind: 'event'; key: Row; event: ChangeEvent }
  | { kind: 'commit'; endLsn: Lsn; commitLsn: Lsn; events: number }
  | { kind: 'heartbeat'; lsn: Lsn }
  /** TRUNCATE of the captured table: an event with op `t`, no key, no rows (schemas/truncate.ts). */
  | { kind: 'truncate'; commitLsn: Lsn; event: ChangeEvent }
  /** A snapshot chunk's low/high watermark (producers/snapshot); also a position like a heartbeat. */
  | ({ kind: 'watermark'; lsn: Lsn } & Watermark)
  /** `pgcdc.signal`: look at the snapshot checkpoint now; also a position like a heartbeat. */
  | { kind: 'signal'; lsn: Lsn; content: string };

export interface AssemblerOptions {
  /** the one captured table's contract (or `contracts`) */
  contract?: TableContract;
  /** the contracts of every captured table (several tables per pipeline) */
  contracts?: TableContract[];
  db: string;
  /** Logical name of the pipeline (the topic prefix). */
  name: string;
  version: string;
  now?: () => number;
  /** told once per Relation message about columns the table and the contract disagree on */
  onSchemaDrift?: (drift: SchemaDrift) => void;
}

export interface SchemaDrift {
  table: string;
  /** nullable contract columns the table no longer has: events carry null for them */
  missingNullable: string[];
  /** table columns the contract does not have: not published */
  ignored: string[];
}

/** A raw tuple as the replication reader hands it over: text values, null, or undefined (unchanged TOAST). */
type RawTuple = Record<string, string | null | undefined>;

interface Txn {
  xid: bigint;
  commitLsn: Lsn;
  /** formatLsn(commitLsn), once per transaction: the prefix of its events' ids */
  commitText: string;
  commitTimeUs: bigint;
  seq: bigint;
}

/** The table cannot be carried by the contract; retrying does not help until one of them changes. */
export class SchemaMismatchError extends PgcdcError {
  constructor(message: string, hint?: string) {
    super(message, {
      retriable: false,
      hint:
        hint ??
        'evolve schemas/avro/*.avsc together with the table (a BACKWARD-compatible change), or restore the column',
    });
  }
}

/**
 * A change the contract cannot carry (a value out of its range or shape, a NULL in a NOT NULL
 * column, a key column missing): retrying the same WAL cannot help. Names table, key and LSN; the
 * stream stops before anything of that transaction is acknowledged (README: Large rows).
 */
export class UncarriableChangeError extends PgcdcError {
  constructor(contract: TableContract, key: Row | RawTuple, lsn: Lsn, commitLsn: Lsn, cause: unknown) {
    const keyText = JSON.stringify(
      Object.fromEntries(contract.keyColumns.map((k) => [k, key[k] ?? null])),
      (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
    );
    super(
      `change of ${contract.schema}.${contract.table} key ${keyText} at LSN ${formatLsn(lsn)} (commit ${formatLsn(commitLsn)}) cannot be carried by the event contract: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        retriable: false,
        cause,
        hint:
          cause instanceof PgcdcError && cause.hint
            ? cause.hint
            : 'change the row at the source or evolve the contract, then skip that transaction (README: Large rows, the way out)',
      },
    );
  }
}

/** A captured table: its contract and what its current Relation lacks of it. */
interface Captured {
  contract: TableContract;
  columns: ColumnSpec[];
  /** nullable contract columns the table's current Relation lacks */
  absent: Set<string>;
}

export class TransactionAssembler {
  private txn: Txn | undefined;

  /** A transaction has begun and not yet committed (its events are not all out). */
  get inTransaction(): boolean {
    return this.txn !== undefined;
  }
  /** `schema.table` -> the captured table */
  private readonly tables = new Map<string, Captured>();
  private readonly now: () => number;

  constructor(private readonly opts: AssemblerOptions) {
    const contracts = opts.contracts ?? (opts.contract ? [opts.contract] : []);
    if (contracts.length === 0) throw new Error('assembler: no contract');
    for (const contract of contracts)
      this.tables.set(`${contract.schema}.${contract.table}`, {
        contract,
        columns: contract.columns,
        absent: new Set(),
      });
    this.now = opts.now ?? Date.now;
  }

  /**
   * A captured table's contract evolved by new nullable columns (source.schemaChanges: automatic,
   * producers/postgres/schema-changes.ts): events from here on carry them.
   */
  evolve(contract: TableContract): void {
    const t = this.tables.get(`${contract.schema}.${contract.table}`);
    if (!t) throw new Error(`assembler: ${contract.schema}.${contract.table} is not captured`);
    t.contract = contract;
    t.columns = contract.columns;
  }

  /** The contract the table's events are assembled with now (`schema.table`). */
  contractOf(table: string): TableContract | undefined {
    return this.tables.get(table)?.contract;
  }

  /** Feed one pgoutput message with the WAL position of its XLogData; returns what it produced. */
  push(msg: Pgoutput.Message, walLsn: string): SourceItem[] {
    switch (msg.tag) {
      case 'begin': {
        const commitLsn = parseLsn(msg.commitLsn ?? walLsn);
        this.txn = {
          xid: BigInt(msg.xid),
          commitLsn,
          commitText: formatLsn(commitLsn),
          commitTimeUs: BigInt(msg.commitTime as bigint),
          seq: 0n,
        };
        return [];
      }
      case 'commit': {
        const t = this.requireTxn('commit');
        this.txn = undefined;
        return [
          {
            kind: 'commit',
            endLsn: parseLsn(msg.commitEndLsn ?? walLsn),
            commitLsn: t.commitLsn,
            events: Number(t.seq),
          },
        ];
      }
      case 'relation': {
        const t = this.captured(msg);
        if (t) this.checkRelation(t, msg);
        return [];
      }
      case 'insert': {
        const t = this.captured(msg.relation);
        if (!t) return [];
        return [this.event(t, 'c', walLsn, null, msg.new as RawTuple)];
      }
      case 'update':
        return this.update(msg, walLsn);
      case 'delete': {
        const t = this.captured(msg.relation);
        if (!t) return [];
        const old = (msg.old ?? msg.key) as RawTuple;
        return [this.event(t, 'd', walLsn, old, null)];
      }
      case 'truncate':
        // one TRUNCATE may name several captured tables: one truncate event each
        return msg.relations.flatMap((r) => {
          const t = this.captured(r);
          return t ? [this.truncate(t, walLsn)] : [];
        });
      case 'message':
        return msg.transactional ? [] : this.message(msg, parseLsn(msg.messageLsn ?? walLsn));
      case 'origin':
      case 'type':
        return [];
      default:
        return msg satisfies never;
    }
  }

  /** Non-transactional messages with our prefixes; a malformed watermark still marks a position. */
  private message(msg: Pgoutput.MessageMessage, lsn: Lsn): SourceItem[] {
    switch (msg.prefix) {
      case HEARTBEAT_PREFIX:
        return [{ kind: 'heartbeat', lsn }];
      case WATERMARK_PREFIX: {
        const w = parseWatermark(new TextDecoder().decode(msg.content));
        return [w ? { kind: 'watermark', lsn, ...w } : { kind: 'heartbeat', lsn }];
      }
      case SIGNAL_PREFIX:
        return [{ kind: 'signal', lsn, content: new TextDecoder().decode(msg.content) }];
      default:
        return [];
    }
  }

  private update(msg: Pgoutput.MessageUpdate, walLsn: string): SourceItem[] {
    const t = this.captured(msg.relation);
    if (!t) return [];
    const newRow = msg.new as RawTuple;
    // The old key: a key tuple when the key changed, or the old row under REPLICA IDENTITY FULL.
    const oldKey = (msg.key ?? msg.old) as RawTuple | null;
    if (oldKey) {
      // The primary key changed: delete the old row, create the new one.
      const changed = t.contract.keyColumns.some((k) => oldKey[k] !== undefined && oldKey[k] !== newRow[k]);
      if (!changed) return [this.event(t, 'u', walLsn, (msg.old as RawTuple | null) ?? null, newRow)];
      // Unchanged TOASTed values are left out of the new tuple. Under REPLICA IDENTITY FULL the old
      // row has them; otherwise the create lists them in `unchanged` and the session reads them
      // from the source (row-reader.ts), so that the new key arrives as a complete row.
      const complete = this.isFullImage(t, oldKey)
        ? Object.fromEntries(Object.entries(newRow).map(([k, v]) => [k, v === undefined ? oldKey[k] : v]))
        : newRow;
      return [this.event(t, 'd', walLsn, oldKey, null), this.event(t, 'c', walLsn, null, complete)];
    }
    return [this.event(t, 'u', walLsn, (msg.old as RawTuple | null) ?? null, newRow)];
  }

  private event(
    table: Captured,
    op: Op,
    walLsn: string,
    before: RawTuple | null,
    after: RawTuple | null,
  ): SourceItem {
    const t = this.requireTxn(op);
    const keySource = after ?? before;
    if (!keySource) throw new Error('event without key');
    const unchanged: string[] = [];
    let key: Row | undefined;
    let afterRow: Row | null;
    let beforeRow: Row | null;
    try {
      key = this.decodeKey(table, keySource);
      afterRow = after ? this.decodeRow(table, after, unchanged) : null;
      // `before` is a full image only under REPLICA IDENTITY FULL; a key-only image is not a row.
      beforeRow = before && this.isFullImage(table, before) ? this.decodeRow(table, before, []) : null;
    } catch (err) {
      const lsn = parseLsn(walLsn);
      const e = new UncarriableChangeError(table.contract, key ?? keySource, lsn, t.commitLsn, err);
      // a missing key column is the table's shape, not one row's value: it stays a schema mismatch
      throw err instanceof SchemaMismatchError ? new SchemaMismatchError(e.message, err.hint) : e;
    }
    const event = this.envelope(table, t, walLsn, op, { before: beforeRow, after: afterRow, unchanged });
    return { kind: 'event', key, event };
  }

  /** A TRUNCATE of the captured table: one event with op `t`, no rows, the next seq of its transaction. */
  private truncate(table: Captured, walLsn: string): SourceItem {
    const t = this.requireTxn('truncate');
    const event = this.envelope(table, t, walLsn, 't', { before: null, after: null, unchanged: [] });
    return { kind: 'truncate', commitLsn: t.commitLsn, event };
  }

  private envelope(
    table: Captured,
    t: Txn,
    walLsn: string,
    op: Op,
    rows: Pick<ChangeEvent, 'before' | 'after' | 'unchanged'>,
  ): ChangeEvent {
    const seq = t.seq++;
    return {
      before: rows.before,
      after: rows.after,
      unchanged: rows.unchanged,
      source: {
        version: this.opts.version,
        connector: 'pgcdc',
        name: this.opts.name,
        db: this.opts.db,
        schema: table.contract.schema,
        table: table.contract.table,
        lsn: parseLsn(walLsn),
        commit_lsn: t.commitLsn,
        seq,
        tx_id: t.xid,
        ts_us: t.commitTimeUs,
        snapshot: false,
      },
      op,
      ts_ms: BigInt(this.now()),
      event_id: `${t.commitText}:${seq}`, // eventId(t.commitLsn, seq)
    };
  }

  private isFullImage(table: Captured, tuple: RawTuple): boolean {
    return table.columns.every(
      (c) =>
        table.absent.has(c.name) || (tuple[c.name] !== undefined && (c.nullable || tuple[c.name] !== null)),
    );
  }

  private decodeRow(table: Captured, tuple: RawTuple, unchanged: string[]): Row {
    const row: Row = {};
    const absent = table.absent.size > 0 ? table.absent : undefined; // a Set lookup per column otherwise
    for (const c of table.columns) {
      const raw = tuple[c.name];
      if (absent?.has(c.name)) {
        row[c.name] = null; // dropped at the source: not an unchanged TOAST value
      } else if (raw === undefined) {
        // an unchanged TOASTed value PostgreSQL did not send: not a value, see unchangedPlaceholder
        unchanged.push(c.name);
        row[c.name] = c.nullable ? null : unchangedPlaceholder(c.pgType);
      } else if (raw === null) {
        if (!c.nullable)
          throw new Error(
            `column ${c.name} is NULL but the contract says NOT NULL (NOT NULL dropped at the source? make the column nullable in schemas/avro/*.avsc, a BACKWARD-compatible change)`,
          );
        row[c.name] = null;
      } else {
        try {
          row[c.name] = decodeColumn(c, raw);
        } catch (err) {
          throw new Error(`column ${c.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
    return row;
  }

  private decodeKey(table: Captured, tuple: RawTuple): Row {
    const key: Row = {};
    for (const k of table.contract.keyColumns) {
      const spec = table.columns.find((c) => c.name === k)!;
      const raw = tuple[k];
      if (raw === undefined || raw === null)
        throw new SchemaMismatchError(`change without a value for key column ${k}`);
      key[k] = decodeColumn(spec, raw);
    }
    return key;
  }

  private captured(rel: Pgoutput.MessageRelation): Captured | undefined {
    return this.tables.get(`${rel.schema}.${rel.name}`);
  }

  private checkRelation(table: Captured, rel: Pgoutput.MessageRelation): void {
    const have = new Set(rel.columns.map((c) => c.name));
    const missing = table.columns.filter((c) => !have.has(c.name));
    const required = missing.filter((c) => !c.nullable || table.contract.keyColumns.includes(c.name));
    if (required.length > 0) {
      throw new SchemaMismatchError(
        `table ${rel.schema}.${rel.name} lacks NOT NULL columns of the event schema: ${required.map((c) => c.name).join(', ')}; ` +
          'its changes cannot be published from here on (nothing after this point is acknowledged)',
      );
    }
    table.absent = new Set(missing.map((c) => c.name));
    const known = new Set(table.columns.map((c) => c.name));
    const ignored = rel.columns.map((c) => c.name).filter((n) => !known.has(n));
    if (missing.length > 0 || ignored.length > 0)
      this.opts.onSchemaDrift?.({
        table: `${rel.schema}.${rel.name}`,
        missingNullable: [...table.absent],
        ignored,
      });
  }

  private requireTxn(what: string): Txn {
    if (!this.txn) throw new Error(`pgoutput ${what} outside a transaction`);
    return this.txn;
  }
}

/** Stable event id: the same for every re-publication and replay of the change. */
export function eventId(commitLsn: Lsn, seq: bigint): string {
  return `${formatLsn(commitLsn)}:${seq}`;
}
