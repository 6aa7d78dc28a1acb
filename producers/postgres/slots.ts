// Replication slots as the server reports them (pg_replication_slots), with the WAL each one holds
// back: retained = pg_current_wal_lsn() - restart_lsn (what the server cannot recycle), flush lag =
// pg_current_wal_lsn() - confirmed_flush_lsn (what the consumer of the slot has not acknowledged).
// Read by the producer's slot monitor, `pgcdc status` and `pgcdc slots`.
import type pg from 'pg';
import { parseLsn, type Lsn } from '../../schemas/lsn.ts';

export interface SlotRow {
  name: string;
  plugin: string | null;
  slotType: string;
  database: string | null;
  active: boolean;
  activePid: number | null;
  restartLsn: string | null;
  confirmedFlushLsn: string | null;
  /** reserved / extended / unreserved / lost (PostgreSQL 13+) */
  walStatus: string | null;
  retainedBytes: number | null;
  flushLagBytes: number | null;
  /** WAL that may still be written before the slot is in danger of being lost (null: no limit) */
  safeWalSizeBytes?: number | null;
}

export interface SlotsReading {
  currentLsn: Lsn;
  /** the server's max_slot_wal_keep_size in bytes (null: -1, unlimited) */
  maxSlotWalKeepBytes?: number | null;
  slots: SlotRow[];
}

interface Raw {
  current_lsn: string;
  slot_name: string | null;
  plugin: string | null;
  slot_type: string | null;
  database: string | null;
  active: boolean | null;
  active_pid: number | null;
  restart_lsn: string | null;
  confirmed_flush_lsn: string | null;
  wal_status: string | null;
  retained_bytes: string | null;
  flush_lag_bytes: string | null;
  safe_wal_size: string | null;
  max_keep: string | null;
}

const SQL = `
SELECT pg_current_wal_lsn()::text AS current_lsn,
       s.slot_name::text, s.plugin::text, s.slot_type, s.database::text, s.active, s.active_pid,
       s.restart_lsn::text, s.confirmed_flush_lsn::text, s.wal_status,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS flush_lag_bytes,
       s.safe_wal_size::text,
       CASE WHEN current_setting('max_slot_wal_keep_size') = '-1' THEN NULL
            ELSE pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text END AS max_keep
  FROM (SELECT 1) AS one
  LEFT JOIN pg_replication_slots s ON ($1::text IS NULL OR s.slot_name = $1)
 ORDER BY s.slot_name`;

/** All slots of the server, or only `name` (then `slots` is empty when it does not exist). */
export async function readSlots(client: pg.ClientBase, name?: string): Promise<SlotsReading> {
  const res = await client.query<Raw>(SQL, [name ?? null]);
  const first = res.rows[0];
  return {
    currentLsn: parseLsn(first?.current_lsn ?? '0/0'),
    maxSlotWalKeepBytes: first?.max_keep == null ? null : Number(first.max_keep),
    slots: res.rows
      .filter((r) => r.slot_name !== null)
      .map((r) => ({
        name: r.slot_name!,
        plugin: r.plugin,
        slotType: r.slot_type ?? 'logical',
        database: r.database,
        active: r.active ?? false,
        activePid: r.active_pid,
        restartLsn: r.restart_lsn,
        confirmedFlushLsn: r.confirmed_flush_lsn,
        walStatus: r.wal_status,
        retainedBytes: r.retained_bytes === null ? null : Number(r.retained_bytes),
        flushLagBytes: r.flush_lag_bytes === null ? null : Number(r.flush_lag_bytes),
        safeWalSizeBytes: r.safe_wal_size === null ? null : Number(r.safe_wal_size),
      })),
  };
}

export type SlotWalRisk =
  { level: 'ok' } | { level: 'at-risk' | 'lost'; message: string; safeWalSizeBytes: number | null };

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * Slot protection, part 2 (README: Slot protection): is the server about to invalidate the slot
 * (max_slot_wal_keep_size), or has it? At risk once less than `warnRatio` of the allowance is left
 * (safe_wal_size), or when wal_status is `unreserved` (lost at the next checkpoint); lost when
 * wal_status is `lost`. Without a limit (-1) a slot is never invalidated: only the disk is at risk,
 * which pgcdc_slot_wal_retained_bytes and stall detection cover.
 */
export function judgeSlotWal(
  slot: SlotRow | undefined,
  maxKeepBytes: number | null,
  warnRatio: number,
): SlotWalRisk {
  if (!slot) return { level: 'ok' };
  const safe = slot.safeWalSizeBytes ?? null;
  if (slot.walStatus === 'lost') {
    return {
      level: 'lost',
      safeWalSizeBytes: safe,
      message:
        `replication slot ${slot.name} was invalidated (wal_status = lost): the server removed WAL it had not ` +
        `delivered; fix: pgcdc slots drop ${slot.name} --yes, restart pgcdc produce, pgcdc snapshot --restart`,
    };
  }
  const limit = maxKeepBytes !== null && maxKeepBytes > 0 ? maxKeepBytes : undefined;
  if (slot.walStatus === 'unreserved' || (limit !== undefined && safe !== null && safe < warnRatio * limit)) {
    return {
      level: 'at-risk',
      safeWalSizeBytes: safe,
      message:
        `replication slot ${slot.name} is at risk of invalidation (wal_status = ${slot.walStatus ?? '?'}): ` +
        `${safe === null ? 'no' : mib(Math.max(0, safe))} WAL left before max_slot_wal_keep_size ` +
        `(${limit === undefined ? '?' : mib(limit)}) is exceeded; the slot is not advancing: check that the producer ` +
        'streams and Kafka acknowledges, or raise max_slot_wal_keep_size',
    };
  }
  return { level: 'ok' };
}

/**
 * A slot stalls when its confirmed position stops moving while the WAL keeps moving past it (the
 * producer is stuck or gone, and the server retains WAL for it). An idle server is not a stall.
 */
export class StallDetector {
  private confirmed: Lsn | undefined;
  private walAtConfirm: Lsn = 0n;
  private movedAt: number | undefined;

  /** Returns for how long (ms) the slot has been stalled; 0 when it is not. */
  observe(atMs: number, currentLsn: Lsn, confirmedLsn: Lsn | undefined): number {
    if (confirmedLsn === undefined) {
      this.confirmed = undefined;
      this.movedAt = undefined;
      return 0;
    }
    if (this.confirmed === undefined || confirmedLsn !== this.confirmed) {
      this.confirmed = confirmedLsn;
      this.walAtConfirm = currentLsn;
      this.movedAt = undefined;
      return 0;
    }
    if (currentLsn > this.walAtConfirm && currentLsn > confirmedLsn) {
      this.movedAt ??= atMs;
      return atMs - this.movedAt;
    }
    return 0;
  }
}
