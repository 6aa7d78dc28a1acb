// A target's mapping around any sink (a decorator, like ignore-truncates.ts): between decoding and
// the sink, every event goes through the target's shape (consumers/mapping/map.ts), the same for
// every sink kind. An event may become none (a row outside the filter), one, or several (webhook
// transitions, which share its offset); one that cannot be mapped soundly is dead-lettered. The
// result is told back per source event: applied once every event it became is applied, and never
// past the point where the sink asks to retry. Built only for a target whose shape is not the
// exact copy, so an unmapped target pays nothing.
import { mapEvent } from '../mapping/map.ts';
import type { TargetShape } from '../mapping/shape.ts';
import type { ApplyResult, DeadLetter, DecodedEvent, Sink } from '../sink.ts';

export function mappedSink(inner: Sink, shape: TargetShape): Sink {
  return {
    kind: inner.kind,
    open: () => inner.open(),
    close: () => inner.close(),
    async apply(events, ctx) {
      const out: DecodedEvent[] = [];
      const dead: DeadLetter[] = [];
      const pending = new Map<bigint, number>(); // offset -> events of the target not yet applied
      for (const e of events) {
        const m = mapEvent(shape, e);
        if ('dead' in m) {
          dead.push({ offset: e.offset, ...m.dead });
          continue;
        }
        pending.set(e.offset, m.events.length);
        // the partition goes along (a peer link records its progress per partition)
        const p = e.partition;
        out.push(...(p === undefined ? m.events : m.events.map((x) => ({ ...x, partition: p }))));
      }
      const result: ApplyResult =
        out.length > 0 ? await inner.apply(out, ctx) : { applied: [], deadLetters: [] };
      for (const a of result.applied) pending.set(a.offset, (pending.get(a.offset) ?? 1) - 1);
      const innerDead = new Set<bigint>();
      for (const d of result.deadLetters) {
        if (innerDead.has(d.offset)) continue;
        innerDead.add(d.offset);
        dead.push(d);
      }
      const stop = result.retryFrom?.offset;
      const applied = events.filter(
        (e) =>
          pending.get(e.offset) === 0 && !innerDead.has(e.offset) && (stop === undefined || e.offset < stop),
      );
      // an event at or after the retry point is mapped again with it: not dead-lettered twice
      const deadLetters = dead
        .filter((d) => stop === undefined || d.offset < stop)
        .sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
      return { ...result, applied, deadLetters };
    },
  };
}
