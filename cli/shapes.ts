// The JSON documents of `pgcdc <verb> --json`, one builder per verb: the stable shape scripts rely
// on (docs/cli.md "JSON shapes", pinned by test/unit/cli/json-shapes.test.ts). Every field is
// always present (null when there is nothing to say, never left out), 64-bit numbers (offsets,
// LSNs, counts of offsets) are strings once printed (ops/format.ts toJson). Pure.
import type { DeadLetterEntry, RedriveResult } from '../consumers/redrive.ts';
import type { CheckResult } from '../ops/check/types.ts';
import type { ContractDiff } from '../ops/contract/diff.ts';
import type { Health } from '../ops/health.ts';
import type { ReplayPlan, ReplayResult } from '../ops/replay.ts';
import type { DropOutcome } from '../ops/slots.ts';
import type { PipelineStatus } from '../ops/status.ts';
import type { SlotRow } from '../producers/postgres/slots.ts';
import type { Checkpoint } from '../producers/snapshot/checkpoint.ts';

/** `pgcdc status --json`: the whole view and the health verdict behind exit code 3. */
export const statusJson = (status: PipelineStatus, health: Health) => ({ ...status, ...health });

/** `pgcdc check --json` */
export function checkJson(results: CheckResult[]) {
  const count = (level: CheckResult['level']) => results.filter((r) => r.level === level).length;
  return {
    ok: count('ERROR') === 0,
    errors: count('ERROR'),
    warnings: count('WARN'),
    results: results.map((r) => ({ id: r.id, level: r.level, message: r.message, fix: r.fix ?? null })),
  };
}

/** `pgcdc slots list --json` */
export const slotsJson = (list: { currentWalLsn: string; slots: SlotRow[] }, configuredSlot: string) => ({
  currentWalLsn: list.currentWalLsn,
  configuredSlot,
  slots: list.slots.map((s) => ({ ...s, safeWalSizeBytes: s.safeWalSizeBytes ?? null })),
});

/** `pgcdc slots drop NAME --json` (with --dry-run, or not confirmed: `dropped: false`) */
export const slotDropJson = (out: DropOutcome, dryRun: boolean) => ({
  dryRun,
  dropped: out.dropped,
  slot: { ...out.slot, safeWalSizeBytes: out.slot.safeWalSizeBytes ?? null },
  consequence: out.consequence ?? null,
});

/**
 * `pgcdc replay --json`: the plan (per partition current -> next, replays and skips), and after a
 * move what it took. `moved: false` for a dry run or a move that was not confirmed.
 */
export function replayJson(plan: ReplayPlan, mode: { dryRun: boolean; result?: ReplayResult }) {
  return {
    dryRun: mode.dryRun,
    moved: mode.result !== undefined,
    target: plan.target,
    group: plan.group,
    topic: plan.topic,
    to: plan.to,
    groupState: plan.groupState,
    members: plan.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.host })),
    compacted: plan.compacted,
    partitions: plan.partitions.map((p) => ({
      partition: p.partition,
      low: p.low,
      high: p.high,
      committed: p.committed,
      current: p.current,
      next: p.next,
      replays: p.replays,
      skips: p.skips,
      first: p.first ?? null,
      firstError: p.firstError ?? null,
      events: p.events ?? null,
      tombstones: p.tombstones ?? null,
    })),
    totalReplays: plan.totalReplays,
    totalSkips: plan.totalSkips,
    counted: plan.counted ?? null,
    membersRemoved: mode.result?.membersRemoved ?? 0,
    removals: mode.result?.removals ?? 0,
  };
}

/** One entry of `pgcdc dlq list --json`. */
export function dlqEntryJson(e: DeadLetterEntry) {
  return {
    position: `${e.partition}:${e.offset}`,
    partition: e.partition,
    offset: e.offset,
    at: e.at ?? null,
    reason: e.reason ?? null,
    attempts: e.attempts ?? null,
    error: e.error ?? null,
    eventId: e.decoded?.event.event_id ?? null,
    op: e.decoded?.event.op ?? null,
    key: e.decoded?.key ?? null,
    origin: e.origin ?? null,
    redriven: e.redriven,
    decodeError: e.decodeError ?? null,
  };
}

/** One entry of `pgcdc dlq show --json`: the list entry, every header and the decoded event. */
export const dlqFullEntryJson = (e: DeadLetterEntry) => ({
  ...dlqEntryJson(e),
  headers: e.message.headers,
  event: e.decoded?.event ?? null,
});

/** `pgcdc dlq list|show --json`: `{ dlqTopic, entries: [...], count }` (entries streamed). */
export const dlqListHead = (dlqTopic: string) => ({ dlqTopic });
export const dlqListTail = (count: number) => ({ count });

/** `pgcdc dlq redrive --json`: every entry accounted for, and whether nothing was left (exit 0). */
export function redriveJson(dlqTopic: string, res: RedriveResult) {
  const at = (e: DeadLetterEntry) => `${e.partition}:${e.offset}`;
  const failed = (d: { entry: DeadLetterEntry; reason: string; error: string }) => ({
    position: at(d.entry),
    eventId: d.entry.decoded?.event.event_id ?? null,
    reason: d.reason,
    error: d.error,
  });
  return {
    dlqTopic,
    complete: res.deadAgain.length + res.skipped.length + res.pending.length + res.notReached === 0,
    counts: {
      redriven: res.redriven.length,
      deadAgain: res.deadAgain.length,
      skipped: res.skipped.length,
      pending: res.pending.length,
      notReached: res.notReached,
    },
    redriven: res.redriven.map((e) => ({ position: at(e), eventId: e.decoded?.event.event_id ?? null })),
    deadAgain: res.deadAgain.map(failed),
    skipped: res.skipped.map((e) => ({ position: at(e), decodeError: e.decodeError ?? null })),
    pending: res.pending.map(failed),
  };
}

export type SnapshotOutcome = 'status' | 'done' | 'interrupted';

/**
 * `pgcdc snapshot --json` (and `--status --json`): the checkpoint row of the table's snapshot
 * (null: never requested), which process streams the slot, and how the command ended.
 */
export function snapshotJson(w: {
  outcome: SnapshotOutcome;
  table: string;
  slot: string;
  producerPid: number | null;
  ranProducer: boolean;
  checkpoint: (Checkpoint & { filter: string | null; filterMatchesConfig: boolean }) | null;
}) {
  const cp = w.checkpoint;
  const secs =
    cp?.startedAt && cp.finishedAt ? (cp.finishedAt.getTime() - cp.startedAt.getTime()) / 1000 : null;
  return {
    outcome: w.outcome,
    table: w.table,
    slot: w.slot,
    producerPid: w.producerPid,
    ranProducer: w.ranProducer,
    durationSeconds: secs,
    checkpoint: cp ? { ...cp, lastBatch: cp.lastBatch ?? null } : null,
  };
}

/** `pgcdc contract diff --json`: `clean` decides the exit code (1 when anything differs). */
export const contractDiffJson = (d: ContractDiff, clean: boolean) => ({
  clean,
  columns: d.columns.map((c) => ({
    ...c,
    table: c.table ?? null,
    contract: c.contract ?? null,
    registry: c.registry ?? null,
  })),
  tableMismatch: d.tableMismatch,
  keyMismatch: d.keyMismatch ?? null,
  tableToContract: d.tableToContract,
  registry: d.registry ?? null,
});

/** `pgcdc contract generate --json` */
export const contractGenerateJson = (res: { files: string[]; notes: string[] }) => ({
  files: res.files,
  notes: res.notes,
});
