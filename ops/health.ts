// Whether a pipeline status (ops/status.ts) is healthy, and if not, why: the basis of
// `pgcdc status`'s exit code (0 healthy, 3 unhealthy; cli/exit-codes.ts). Pure.
// Unhealthy: a part that cannot be read, a producer that does not stream (not running, slot
// missing, at risk of invalidation or invalidated), a target that is stopped or whose last result
// is not OK (an error it retries, or a dead-lettered event: rows the target does not have).
import type { PipelineStatus, ProducerView, TargetView } from './status.ts';

export interface Health {
  healthy: boolean;
  problems: string[];
}

export function healthOf(s: PipelineStatus): Health {
  const problems: string[] = [...producerProblems(s.producer)];
  if (s.topic.error) problems.push(`topic ${s.topic.name}: ${s.topic.error}`);
  for (const t of s.targets) problems.push(...targetProblems(t).map((p) => `target ${t.name}: ${p}`));
  return { healthy: problems.length === 0, problems };
}

/** What is wrong with a producer, each prefixed `producer: ` (also used per node of a peers mesh). */
export function producerProblems(p: ProducerView): string[] {
  if (p.error) return [`producer: cannot read the slot: ${p.error}`];
  const problems: string[] = [];
  if (p.exists === false) problems.push(`producer: replication slot ${p.slot} does not exist`);
  if (p.walRisk) problems.push(`producer: ${p.walRisk}`);
  if (p.running === false) problems.push(`producer: not running${p.lastError ? ` (${p.lastError})` : ''}`);
  else if (p.running === null) problems.push('producer: no status reported yet');
  return problems;
}

/** What is wrong with a target (or a peer link), unprefixed. */
export function targetProblems(
  t: Pick<TargetView, 'error' | 'state' | 'lastStatus' | 'lastError'>,
): string[] {
  if (t.error) return [`cannot read its group: ${t.error}`];
  if (t.state === 'stopped') return ['stopped'];
  if (t.lastStatus !== 'OK')
    return [`${t.lastStatus ?? 'no status reported yet'}${t.lastError ? ` (${t.lastError})` : ''}`];
  return [];
}
