// The peers mesh's own metrics: pgcdc_peer_conflicts_total{link,kind,resolution}, one count per
// conflict a peer sink logged (docs/peers.md); `link` names both ends, `<from>-><to>`; and the
// pruning of deleted keys' versions (prune.ts): runs and rows removed per link and table.
// Registered once per registry, shared by its links.
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

export type PruneCounters = { runs: Counter<'link' | 'table'>; rows: Counter<'link' | 'table'> };

function counter(registry: Registry, name: string, help: string): Counter<'link' | 'table'> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'link' | 'table'>;
  return new Counter({ name, help, labelNames: ['link', 'table'] as const, registers: [registry] });
}

export function peerPruneCounters(registry: Registry): PruneCounters {
  return {
    runs: counter(
      registry,
      'pgcdc_peer_prune_runs_total',
      'pruning runs of a peer link (from->to) per table',
    ),
    rows: counter(
      registry,
      'pgcdc_peer_pruned_total',
      "deleted keys' versions and local deletes a peer link (from->to) pruned beside the table at the node to",
    ),
  };
}
