// The peers mesh's own metric: pgcdc_peer_conflicts_total{link,kind,resolution}, one count per
// conflict a peer sink logged (docs/peers.md); `link` names both ends, `<from>-><to>`. Registered
// once per registry, shared by its links.
import { Counter, type Registry } from 'prom-client';

export type ConflictCounter = Counter<'link' | 'kind' | 'resolution'>;

export function peerConflictsCounter(registry: Registry): ConflictCounter {
  const name = 'pgcdc_peer_conflicts_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as ConflictCounter;
  return new Counter({
    name,
    help: 'conflicts a peer link (from->to) logged (table <table>_pgcdc_conflicts at the node to), by kind and resolution',
    labelNames: ['link', 'kind', 'resolution'] as const,
    registers: [registry],
  });
}
