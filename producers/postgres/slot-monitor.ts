// Watches the producer's replication slot from the side (its own small connection): WAL retained
// behind the slot (gauge pgcdc_slot_wal_retained_bytes), whether the slot has stalled, and whether
// the server is about to invalidate it or has (max_slot_wal_keep_size: pgcdc_slot_wal_at_risk, a
// warning / error line), which readiness reports. The replication stream itself is not touched.
import pg from 'pg';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import { parseLsn } from '../../schemas/lsn.ts';
import { judgeSlotWal, readSlots, StallDetector, type SlotRow, type SlotWalRisk } from './slots.ts';

export interface SlotHealth {
  /** the monitor's connection to the source works */
  connected: boolean;
  error: string | undefined;
  sampledAt: Date | undefined;
  slot: SlotRow | undefined;
  stalledForMs: number;
  stalled: boolean;
  /** invalidation risk (max_slot_wal_keep_size); absent before the first sample */
  walRisk?: SlotWalRisk;
}

export interface SlotMonitor {
  health(): SlotHealth;
  stop(): Promise<void>;
}

export function startSlotMonitor(opts: {
  url: string;
  pg?: PgConnections;
  slot: string;
  intervalMs: number;
  stallMs: number;
  /** at risk below this share of max_slot_wal_keep_size left (operations.slotWalWarnRatio) */
  walWarnRatio: number;
  metrics: Metrics;
  logger: Logger;
  onSample?: (h: SlotHealth) => void;
}): SlotMonitor {
  const detector = new StallDetector();
  const health: SlotHealth = {
    connected: false,
    error: undefined,
    sampledAt: undefined,
    slot: undefined,
    stalledForMs: 0,
    stalled: false,
    walRisk: { level: 'ok' },
  };
  let riskLoggedAt = 0;
  const RISK_LOG_EVERY_MS = 60_000;
  let client: pg.Client | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;

  const connect = async (): Promise<pg.Client> => {
    if (client) return client;
    const c = (opts.pg ?? createPgConnections()).client(opts.url, 'source', 'pgcdc-slot-monitor');
    c.on('error', () => undefined); // surfaced by the next query
    try {
      await c.connect();
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    client = c;
    return c;
  };

  const sample = async () => {
    try {
      const c = await connect();
      const reading = await readSlots(c, opts.slot);
      const slot = reading.slots[0];
      const now = Date.now();
      health.connected = true;
      health.error = undefined;
      health.sampledAt = new Date(now);
      health.slot = slot;
      health.stalledForMs = detector.observe(
        now,
        reading.currentLsn,
        slot?.confirmedFlushLsn ? parseLsn(slot.confirmedFlushLsn) : undefined,
      );
      health.stalled = health.stalledForMs > opts.stallMs;
      if (slot?.retainedBytes != null) opts.metrics.slotWalRetained.set(slot.retainedBytes);
      if (slot?.safeWalSizeBytes != null) opts.metrics.slotSafeWalSize.set(slot.safeWalSizeBytes);
      const risk = judgeSlotWal(slot, reading.maxSlotWalKeepBytes ?? null, opts.walWarnRatio);
      const was = health.walRisk?.level ?? 'ok';
      health.walRisk = risk;
      opts.metrics.slotWalAtRisk.set(risk.level === 'ok' ? 0 : risk.level === 'at-risk' ? 1 : 2);
      if (risk.level === 'ok') {
        if (was !== 'ok') opts.logger.info({ slot: opts.slot }, 'slot no longer at risk of invalidation');
      } else if (risk.level !== was || now - riskLoggedAt >= RISK_LOG_EVERY_MS) {
        riskLoggedAt = now;
        const detail = {
          slot: opts.slot,
          walStatus: slot?.walStatus,
          safeWalSizeBytes: risk.safeWalSizeBytes,
          maxSlotWalKeepBytes: reading.maxSlotWalKeepBytes,
          retainedBytes: slot?.retainedBytes,
        };
        if (risk.level === 'lost') opts.logger.error(detail, risk.message);
        else opts.logger.warn(detail, risk.message);
      }
    } catch (err) {
      health.connected = false;
      health.error = err instanceof Error ? err.message : String(err);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
      opts.logger.warn({ err: health.error, slot: opts.slot }, 'slot monitor cannot read the slot');
    }
    opts.onSample?.({ ...health });
  };

  const tick = () => {
    if (stopped || running) return;
    running = sample().finally(() => (running = undefined));
  };
  const timer = setInterval(tick, opts.intervalMs);
  tick();

  return {
    health: () => ({ ...health }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
