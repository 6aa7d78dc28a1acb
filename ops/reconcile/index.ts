// `pgcdc reconcile`: does a database target (PostgreSQL, MySQL/MariaDB) hold what the source holds,
// as this target should hold it (its shape: columns, renames, computed fields, filter)? Per table:
// a pass in key order (scan.ts), then every key found different decided again once the target
// caught up (settle.ts), so lag is never reported as drift; with `repair`, missing and differing
// rows are fed again through the pipeline and extra rows the sync owns are removed by the target's
// delete policy (repair.ts).
// Reads only: short statements on both sides, no locks, memory flat in the table size.
import type { ReconcileDeps } from './deps.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { groupFor, targetTopicsOf, type TableRef } from '../../pipeline/config/schema.ts';
import { catchUpWaiter } from './catch-up.ts';
import { planTarget, readableTarget, type ReadableTarget, type TablePlan } from './plan.ts';
import { flavorOf, mysqlTargetReader, withMysqlTarget } from './mysql.ts';
import { postgresTargetReader } from './pg-target.ts';
import { repairTable, type RepairResult } from './repair.ts';
import { scanTable, type TargetReader } from './scan.ts';
import { settle } from './settle.ts';
import { withReconcileClient } from './postgres.ts';

export type { ReconcileDeps };

export interface ReconcileOptions {
  table?: TableRef;
  chunkSize?: number;
  maxKeys?: number;
  /** how long the settle step waits for the target to catch up */
  settleTimeoutMs?: number;
  repair?: boolean;
  includeForeign?: boolean;
  progress?: (p: { table: string; done: number; total: number | null }) => void;
  signal?: AbortSignal;
}

export interface TableReport {
  table: string;
  at: string;
  compared: number;
  missing: number;
  /** extra rows pgcdc wrote (owned) and rows the target made itself (foreign) */
  extra: { owned: number; foreign: number };
  differing: number;
  /** keys that kept changing, or could not be decided because the target did not catch up */
  unsettled: number;
  unmappable: number;
  samples: {
    missing: string[];
    extra: { key: string; owned: boolean }[];
    differing: { key: string; columns: string[] }[];
    unsettled: string[];
  };
  /** column -> rows in which it differs */
  differingColumns: Record<string, number>;
  chunks: number;
  chunksRead: number;
  seconds: number;
  repaired?: RepairResult;
}

export interface ReconcileReport {
  target: string;
  startedAt: string;
  seconds: number;
  tables: TableReport[];
  /** rows missing, extra or differing after the settle step (foreign extras count only with includeForeign) */
  drift: boolean;
  /** some keys could not be decided (unsettled) */
  undecided: boolean;
}

const SAMPLES = 10;

function targetReaderFor(deps: ReconcileDeps, target: ReadableTarget) {
  switch (target.type) {
    case 'postgres':
      return (fn: (t: TargetReader) => Promise<TableReport>) =>
        withReconcileClient(deps.pg, target.url, (c) => fn(postgresTargetReader(c)));
    case 'mysql':
      return (fn: (t: TargetReader) => Promise<TableReport>) =>
        withMysqlTarget(target, deps.config.connections.connectTimeoutMs, async (c) =>
          fn(mysqlTargetReader(c, await flavorOf(c))),
        );
    default:
      return target satisfies never;
  }
}

async function reconcileTable(
  deps: ReconcileDeps,
  target: ReadableTarget,
  plan: TablePlan,
  t: TargetReader,
  o: ReconcileOptions,
): Promise<TableReport> {
  const started = Date.now();
  const { config } = deps;
  return withReconcileClient(deps.pg, config.source.url, async (source) => {
    const est = await source.query<{ n: string }>(
      'SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1::regclass',
      [`"${plan.contract.schema}"."${plan.contract.table}"`],
    );
    const total = Number(est.rows[0]?.n ?? -1);
    const scan = await scanTable(plan, source, t, {
      chunkSize: o.chunkSize ?? 5000,
      maxKeys: o.maxKeys ?? 100_000,
      progress: (done) => o.progress?.({ table: plan.table, done, total: total >= 0 ? total : null }),
      stopping: () => o.signal?.aborted ?? false,
    });
    const suspects = [...scan.missing, ...scan.extra.map((e) => e.key), ...scan.differing.map((d) => d.key)];
    const admin = deps.kafka.admin();
    await admin.connect();
    try {
      const catchUp = catchUpWaiter({
        source,
        slot: config.source.slot,
        admin,
        group: groupFor(config.kafka, target),
        topics: targetTopicsOf(config.kafka, config.source, target),
        timeoutMs: o.settleTimeoutMs ?? 120_000,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const s = suspects.length > 0 ? await settle(plan, source, t, suspects, catchUp) : undefined;
      const missing = s?.missing ?? [];
      const extra = s?.extra ?? [];
      const differing = s?.differing ?? [];
      const differingColumns: Record<string, number> = {};
      for (const d of differing)
        for (const c of d.columns) differingColumns[c] = (differingColumns[c] ?? 0) + 1;
      const report: TableReport = {
        table: plan.table,
        at: `${plan.at.schema}.${plan.at.table}`,
        compared: scan.compared,
        missing: missing.length + scan.overflow.missing,
        extra: {
          owned: extra.filter((e) => e.owned).length,
          foreign: extra.filter((e) => !e.owned).length,
        },
        differing: differing.length + scan.overflow.differing,
        unsettled: (s?.unsettled.length ?? 0) + scan.overflow.extra,
        unmappable: scan.unmappable.length,
        samples: {
          missing: missing.slice(0, SAMPLES),
          extra: extra.slice(0, SAMPLES),
          differing: differing.slice(0, SAMPLES),
          unsettled: s?.unsettled.slice(0, SAMPLES) ?? [],
        },
        differingColumns,
        chunks: scan.chunks,
        chunksRead: scan.chunksRead,
        seconds: 0,
      };
      if (o.repair && (missing.length || differing.length || extra.length))
        report.repaired = await repairTable(deps, target, plan, source, {
          feed: [...missing, ...differing.map((d) => d.key)],
          remove: extra.filter((e) => e.owned || o.includeForeign === true),
        });
      report.seconds = (Date.now() - started) / 1000;
      return report;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  });
}

/** Whether a table report shows drift (foreign extras only count when they would be removed). */
export function hasDrift(t: TableReport, includeForeign = false): boolean {
  return t.missing + t.differing + t.extra.owned + (includeForeign ? t.extra.foreign : 0) > 0;
}

export async function reconcile(
  deps: ReconcileDeps,
  targetName: string,
  o: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const started = Date.now();
  const target = readableTarget(deps.config, targetName);
  const plans = planTarget(deps.config, target, o.table);
  if (o.includeForeign && plans.some((p) => p.shape.match))
    throw new ConfigError(
      `target ${target.name} matches rows by ${plans.find((p) => p.shape.match)!.shape.match!.column}: --include-foreign does not apply`,
      {
        hint: "rows without a link are the target system's own, or the twins the next event of a source row adopts: reconcile cannot tell them stale from the source (docs/reconcile.md)",
      },
    );
  const tables: TableReport[] = [];
  for (const plan of plans) {
    if (o.signal?.aborted) break;
    tables.push(await targetReaderFor(deps, target)((t) => reconcileTable(deps, target, plan, t, o)));
  }
  return {
    target: target.name,
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    tables,
    drift: tables.some((t) => hasDrift(t, o.includeForeign)),
    undecided: tables.some((t) => t.unsettled > 0),
  };
}
