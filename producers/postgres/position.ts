// Slot protection, part 1: the WAL position pgcdc last acknowledged through a slot, kept in a small
// table of the source database (one row per slot; README: Slot protection). It is written BEFORE
// the acknowledgement goes to the server, so the slot's confirmed_flush_lsn is never ahead of it,
// unless something other than this pipeline moved the slot, or dropped and re-created it. At
// start-up judgeSlot() compares the two: a slot that is missing, starts after the stored position,
// or was invalidated (wal_status = lost) would silently skip changes, so the producer refuses it
// with the error and the recovery. The table is in the source database on purpose: it fails over
// with the data (PostgreSQL < 17 does not carry logical slots to a standby: exactly the case to catch).
import type pg from 'pg';
import { PgcdcError } from '../../pipeline/errors.ts';
import { formatLsn, parseLsn, type Lsn } from '../../schemas/lsn.ts';

export interface PositionTable {
  schema: string;
  table: string;
}

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
const name = (t: PositionTable) => `${q(t.schema)}.${q(t.table)}`;

export async function ensurePositionTable(c: pg.ClientBase, t: PositionTable): Promise<void> {
  await c.query(
    `CREATE TABLE IF NOT EXISTS ${name(t)} (
       slot_name text PRIMARY KEY,
       acknowledged_lsn pg_lsn NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now())`,
  );
}

export async function readPosition(
  c: pg.ClientBase,
  t: PositionTable,
  slot: string,
): Promise<Lsn | undefined> {
  const r = await c.query<{ lsn: string }>(
    `SELECT acknowledged_lsn::text AS lsn FROM ${name(t)} WHERE slot_name = $1`,
    [slot],
  );
  return r.rows[0] ? parseLsn(r.rows[0].lsn) : undefined;
}

/** Records `lsn` as acknowledged (never moves back). */
export async function storePosition(
  c: pg.ClientBase,
  t: PositionTable,
  slot: string,
  lsn: Lsn,
): Promise<void> {
  await c.query(
    `INSERT INTO ${name(t)} AS p (slot_name, acknowledged_lsn) VALUES ($1, $2::pg_lsn)
     ON CONFLICT (slot_name) DO UPDATE
        SET acknowledged_lsn = GREATEST(p.acknowledged_lsn, EXCLUDED.acknowledged_lsn), updated_at = now()`,
    [slot, formatLsn(lsn)],
  );
}

/** Whether the position table exists (it is created by the producer's first start). */
export async function positionTableExists(c: pg.ClientBase, t: PositionTable): Promise<boolean> {
  const r = await c.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [name(t)]);
  return r.rows[0]?.ok ?? false;
}

/** Forgets the slot's stored position (the operator accepted a gap); no-op without the table. */
export async function forgetPosition(c: pg.ClientBase, t: PositionTable, slot: string): Promise<boolean> {
  if (!(await positionTableExists(c, t))) return false;
  const r = await c.query(`DELETE FROM ${name(t)} WHERE slot_name = $1`, [slot]);
  return (r.rowCount ?? 0) > 0;
}

/** The slot cannot be streamed without losing changes; the message says what to do. */
export class SlotPositionError extends PgcdcError {
  constructor(message: string, hint: string) {
    super(message, { retriable: false, hint });
  }
}

export interface SlotFacts {
  slot: string;
  /** undefined: the slot does not exist */
  found: { confirmedFlushLsn: Lsn; walStatus: string | null } | undefined;
  /** the position pgcdc stored for the slot, undefined if none (first start, or upgraded) */
  stored: Lsn | undefined;
  positionTable: PositionTable;
}

export type SlotVerdict =
  | { kind: 'create' }
  | { kind: 'stream'; from: Lsn; adopt: boolean }
  | { kind: 'refuse'; error: SlotPositionError };

/** Decides whether the producer may stream (or create) the slot. Pure. */
export function judgeSlot(f: SlotFacts): SlotVerdict {
  const forget = `DELETE FROM ${name(f.positionTable)} WHERE slot_name = '${f.slot}'`;
  const resnapshot =
    'then pgcdc snapshot --restart, so the targets get every row again and repair what was missed';
  if (!f.found) {
    if (f.stored === undefined) return { kind: 'create' };
    return {
      kind: 'refuse',
      error: new SlotPositionError(
        `replication slot ${f.slot} does not exist, but pgcdc had streamed it up to ${formatLsn(f.stored)}: ` +
          'it was dropped (or lost in a failover); a new slot would start at the current WAL position and ' +
          'silently skip every change committed in between',
        `accept the gap: ${forget}; restart pgcdc produce (it creates a new slot); ${resnapshot}`,
      ),
    };
  }
  if (f.found.walStatus === 'lost') {
    return {
      kind: 'refuse',
      error: new SlotPositionError(
        `replication slot ${f.slot} was invalidated (wal_status = lost): the server removed WAL the slot ` +
          'still needed (max_slot_wal_keep_size), so changes after ' +
          `${formatLsn(f.stored ?? f.found.confirmedFlushLsn)} can no longer be read`,
        `pgcdc slots drop ${f.slot} --yes (it also forgets pgcdc's stored position); restart pgcdc produce ` +
          `(it creates a new slot); ${resnapshot}. To prevent it: keep the producer running and Kafka reachable, ` +
          'or raise max_slot_wal_keep_size',
      ),
    };
  }
  const confirmed = f.found.confirmedFlushLsn;
  if (f.stored === undefined) return { kind: 'stream', from: confirmed, adopt: true };
  if (confirmed > f.stored) {
    return {
      kind: 'refuse',
      error: new SlotPositionError(
        `replication slot ${f.slot} starts at ${formatLsn(confirmed)}, after the position pgcdc last ` +
          `acknowledged (${formatLsn(f.stored)}): the slot was dropped and re-created, or advanced, by ` +
          'something else; the changes in between were never read',
        `pgcdc slots drop ${f.slot} --yes (it also forgets pgcdc's stored position), or ${forget} to keep ` +
          `this slot; restart pgcdc produce; ${resnapshot}`,
      ),
    };
  }
  return { kind: 'stream', from: confirmed, adopt: false };
}

/**
 * Write-behind of acknowledged positions: advance() records the newest one, a single writer
 * stores it (coalescing whatever arrived meanwhile) and only then hands it to `onStored`, which
 * acknowledges it to the server. A failed write rejects `failure` (the stream restarts).
 * `minIntervalMs` (source.ackIntervalMs) spaces the writes: under load one source commit per
 * interval instead of one per acknowledged transaction (a commit, a WAL flush and a status message
 * each). Before PostgreSQL 15 it also matters for correctness of the load: pgoutput sends even an
 * empty transaction (such as this very write), whose commit would be acknowledged and stored
 * again, round after round; spaced writes keep that to one per interval.
 */
export class PositionKeeper {
  private wanted: Lsn;
  private stored: Lsn;
  private writing: Promise<void> | undefined;
  private failed = false;
  private fail: (err: Error) => void = () => undefined;
  readonly failure: Promise<never>;

  private lastStoreAt = 0;

  constructor(
    start: Lsn,
    private readonly store: (lsn: Lsn) => Promise<void>,
    private readonly onStored: (lsn: Lsn) => void,
    private readonly minIntervalMs = 0,
  ) {
    this.wanted = start;
    this.stored = start;
    this.failure = new Promise<never>((_, reject) => (this.fail = reject));
    this.failure.catch(() => undefined); // observed through Promise.race by the producer
  }

  advance(lsn: Lsn): void {
    if (this.failed || lsn <= this.wanted) return;
    this.wanted = lsn;
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
  }

  private async drain(): Promise<void> {
    while (this.wanted > this.stored) {
      const wait = this.lastStoreAt + this.minIntervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.lastStoreAt = Date.now();
      const lsn = this.wanted;
      try {
        await this.store(lsn);
      } catch (err) {
        this.failed = true;
        this.fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.stored = lsn;
      this.onStored(lsn);
    }
  }

  /** Resolves once everything advanced so far is stored (and handed on). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
