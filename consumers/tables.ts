// Several tables per target (docs/tables.md): one sink per source table the target receives (a
// Postgres target applies each table's events to its own target table, with its own delete-marker
// and truncate-mark tables), behind the one Sink port the consumer group drives. The events of a
// chunk are handed on in runs of one table, in order (a partition batch is of one topic, so in
// practice one run); an event of a table the target does not receive is a defect, not a skip.
// A mapping layer (per-target shaping) plugs in per table here: it wraps the table's sink.
import { PgcdcError } from '../pipeline/errors.ts';
import type { ApplyContext, ApplyResult, DecodedEvent, Sink } from './sink.ts';

/** `schema.table` of an event's source table: the routing key. */
export const eventTable = (e: DecodedEvent): string => `${e.event.source.schema}.${e.event.source.table}`;

/** The events in runs of one table, in their order. Pure. */
export function runsByTable(events: DecodedEvent[]): { table: string; events: DecodedEvent[] }[] {
  const runs: { table: string; events: DecodedEvent[] }[] = [];
  for (const e of events) {
    const table = eventTable(e);
    const last = runs[runs.length - 1];
    if (last && last.table === table) last.events.push(e);
    else runs.push({ table, events: [e] });
  }
  return runs;
}

/** One sink per table, as one sink; a single table's sink is returned as it is. */
export function routeByTable(sinks: ReadonlyMap<string, Sink>): Sink {
  const all = [...sinks.values()];
  if (all.length === 0) throw new Error('routeByTable: no table');
  if (all.length === 1) return all[0]!;
  const opened = new Set<Sink>();
  return {
    kind: all[0]!.kind,
    async open() {
      // a retried open (one table's target was down) opens only what is not open yet
      for (const s of all) {
        if (opened.has(s)) continue;
        await s.open();
        opened.add(s);
      }
    },
    async apply(events: DecodedEvent[], ctx?: ApplyContext): Promise<ApplyResult> {
      const out: ApplyResult = { applied: [], deadLetters: [] };
      for (const run of runsByTable(events)) {
        const sink = sinks.get(run.table);
        if (!sink)
          throw new PgcdcError(`event of ${run.table}, a table this target does not receive`, {
            retriable: false,
            hint: 'targets[].tables and the topics the target reads disagree; report this as a defect',
          });
        const r = await sink.apply(run.events, ctx);
        out.applied.push(...r.applied);
        out.deadLetters.push(...r.deadLetters);
        // everything after the event that must wait waits too (order per partition)
        if (r.retryFrom) return { ...out, retryFrom: r.retryFrom };
      }
      return out;
    },
    async close() {
      opened.clear();
      for (const s of all) await s.close();
    },
  };
}
