// Waiting in place for a unique conflict (consumers/group/conflicts.ts): a partition batch that
// stops before an event waiting for another partition, while other lanes (consumers/group/lanes.ts)
// are applying batches of the same fetch, waits for one of them to end or to wake it (another
// partition moved: wakeups.ts) instead of handing the wait to the Kafka consumer (pause, seek, a
// new fetch and decode of the same messages). Woken, the rest of the batch is retried at once from
// the waiting event, with the messages in hand; order and offsets are untouched (nothing after the
// waiting event was applied, nothing is committed before it is). Lanes waiting in place do not
// count as applying, so two of them never wait for each other; with one lane nothing waits here.
import type { BatchContext, BatchOutcome } from '../../pipeline/kafka/port.ts';
import { STALE_CHECK_MS, type Lanes } from './lanes.ts';

/** true when the batch was woken while waiting in place: retry its rest now */
export type WokenInPlace = (outcome: BatchOutcome, ctx: BatchContext) => Promise<boolean>;

export function createInPlaceWaits(opts: {
  lanes: Pick<Lanes, 'busy' | 'onRelease'>;
  /** aborted when the consumer stops */
  stopping: AbortSignal;
  /** false: never wait in place (a webhook's recorded chunk spans must be cut as delivered) */
  enabled: boolean;
}): WokenInPlace {
  const { lanes, stopping } = opts;
  /** lanes whose batch waits in place, and the waits to look again when that count changes */
  let parked = 0;
  const nudges = new Set<() => void>();
  const nudge = () => [...nudges].forEach((n) => n());
  stopping.addEventListener('abort', nudge, { once: true });

  return async (outcome, ctx) => {
    const wake = outcome.kind === 'retry-from' ? outcome.wake : undefined;
    if (!wake || !opts.enabled) return false;
    const gone = () => ctx.isStale() || stopping.aborted;
    // One subscription per wait to each thing that ends a round early (a lane released, the wake
    // signal, another wait parking or the consumer stopping), however many rounds it lasts;
    // staleness has no event: the conditions are looked at again every STALE_CHECK_MS.
    let endRound: (() => void) | undefined;
    const poke = () => endRound?.();
    const unsubscribe = lanes.onRelease(poke);
    wake.addEventListener('abort', poke);
    nudges.add(poke);
    parked++;
    nudge();
    try {
      while (!wake.aborted && lanes.busy() > parked && !gone()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => endRound?.(), STALE_CHECK_MS);
          endRound = () => {
            clearTimeout(timer);
            endRound = undefined;
            resolve();
          };
        });
      }
    } finally {
      parked--;
      unsubscribe();
      wake.removeEventListener('abort', poke);
      nudges.delete(poke);
    }
    return wake.aborted && !gone();
  };
}
