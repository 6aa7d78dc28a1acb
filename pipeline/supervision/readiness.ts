// Readiness (/readyz): the pipeline's own judgement of whether it is doing its job. Not ready when
// the producer's stream is down, its slot stalled (confirmed LSN still while the WAL moves) or the
// slot cannot be read, is at risk of invalidation or was invalidated (max_slot_wal_keep_size); or
// when a target has kept failing (retrying, e.g. its database is down) for longer than
// operations.targetStuckMs. A dead-lettered event shows as ERR in `pgcdc status` but
// does not make the pipeline unready: delivery goes on.
import type { TargetStatus } from '../../consumers/runner.ts';
import type { SlotHealth } from '../../producers/postgres/slot-monitor.ts';

export interface ReadinessInput {
  nowMs: number;
  producer?: { running: boolean; lastError: string | undefined; slot: SlotHealth | undefined };
  targets: Pick<TargetStatus, 'target' | 'state' | 'failingSince' | 'lastError'>[];
  targetStuckMs: number;
  slotStallMs: number;
}

export interface Readiness {
  ok: boolean;
  problems: string[];
}

export function judgeReadiness(input: ReadinessInput): Readiness {
  const problems: string[] = [];
  const p = input.producer;
  if (p) {
    if (!p.running)
      problems.push(`producer: replication stream is not running${p.lastError ? ` (${p.lastError})` : ''}`);
    if (p.slot && !p.slot.connected)
      problems.push(`producer: cannot read the slot from the source (${p.slot.error ?? 'not connected'})`);
    const risk = p.slot?.walRisk;
    if (risk && risk.level !== 'ok') problems.push(`producer: ${risk.message}`);
    if (p.slot?.stalled)
      problems.push(
        `producer: slot ${p.slot.slot?.name ?? ''} stalled: confirmed LSN has not moved for ${Math.round(p.slot.stalledForMs / 1000)} s while WAL grew (threshold ${input.slotStallMs / 1000} s)`,
      );
  }
  for (const t of input.targets) {
    if (t.state === 'stopped') problems.push(`target ${t.target}: stopped`);
    const since = t.failingSince?.getTime();
    if (since !== undefined && input.nowMs - since > input.targetStuckMs) {
      problems.push(
        `target ${t.target}: failing for ${Math.round((input.nowMs - since) / 1000)} s: ${t.lastError ?? 'unknown error'}`,
      );
    }
  }
  return { ok: problems.length === 0, problems };
}

export function combineReadiness(parts: Readiness[]): Readiness {
  const problems = parts.flatMap((p) => p.problems);
  return { ok: problems.length === 0, problems };
}
