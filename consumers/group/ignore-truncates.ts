// `targets[].onTruncate: ignore` around any sink (a decorator): truncate events (op `t`,
// schemas/truncate.ts) never reach the sink; they count as applied, so their offsets are committed,
// and each one leaves an audit line naming its event id and position: skipped, not silent.
import { formatLsn } from '../../schemas/lsn.ts';
import { audit } from '../../pipeline/observability/audit.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { Sink } from '../sink.ts';

export function ignoreTruncates(inner: Sink, opts: { target: string; logger: Logger }): Sink {
  return {
    kind: inner.kind,
    open: () => inner.open(),
    close: () => inner.close(),
    async apply(events, ctx) {
      const truncates = events.filter((e) => e.event.op === 't');
      if (truncates.length === 0) return inner.apply(events, ctx);
      for (const e of truncates)
        audit(
          opts.logger,
          'warn',
          {
            kind: 'apply',
            target: opts.target,
            status: 'ok',
            counts: { truncatesIgnored: 1 },
            durationMs: 0,
            eventId: e.event.event_id,
            commitLsn: formatLsn(e.event.source.commit_lsn),
          },
          'TRUNCATE at the source ignored (onTruncate: ignore): this target keeps its rows',
        );
      const rest = events.filter((e) => e.event.op !== 't');
      const result = rest.length > 0 ? await inner.apply(rest, ctx) : { applied: [], deadLetters: [] };
      // a truncate after the point where the sink asks to retry is retried with it, not skipped
      const stop = result.retryFrom?.offset;
      const skipped = truncates.filter((e) => stop === undefined || e.offset < stop);
      // in offset order: the last applied event is the target's position in its status
      const applied = [...result.applied, ...skipped].sort((a, b) => (a.offset < b.offset ? -1 : 1));
      return { ...result, applied };
    },
  };
}
