// Whether a pipeline status (ops/status.ts) is healthy, and if not, why: the basis of
// `pgcdc status`'s exit code (0 healthy, 3 unhealthy; cli/exit-codes.ts). Pure.
// Unhealthy: a part that cannot be read, a producer that does not stream (not running, slot
// missing, at risk of invalidation or invalidated), a target that is stopped or whose last result
// is not OK (an error it retries, or a dead-lettered event: rows the target does not have).
import type { PipelineStatus } from './status.ts';

export interface Health {
  healthy: boolean;
  problems: string[];
}

export function healthOf(s: PipelineStatus): Health {
  const problems: string[] = [];
  const p = s.producer;
  if (p.error) problems.push(`producer: cannot read the slot: ${p.error}`);
  else {
    if (p.exists === false) problems.push(`producer: replication slot ${p.slot} does not exist`);
    if (p.walRisk) problems.push(`producer: ${p.walRisk}`);
    if (p.running === false) problems.push(`producer: not running${p.lastError ? ` (${p.lastError})` : ''}`);
    else if (p.running === null) problems.push('producer: no status reported yet');
  }
  if (s.topic.error) problems.push(`topic ${s.topic.name}: ${s.topic.error}`);
  for (const t of s.targets) {
    if (t.error) problems.push(`target ${t.name}: cannot read its group: ${t.error}`);
    else if (t.state === 'stopped') problems.push(`target ${t.name}: stopped`);
    else if (t.lastStatus !== 'OK')
      problems.push(
        `target ${t.name}: ${t.lastStatus ?? 'no status reported yet'}${t.lastError ? ` (${t.lastError})` : ''}`,
      );
  }
  return { healthy: problems.length === 0, problems };
}
