// Lanes of the consumer group loop: the sinks that apply partition batches at the same time, one
// batch per lane (a Postgres target: one connection each, so each batch is still one target
// transaction of its own). A batch takes a free lane for as long as it is handled; the Kafka
// consumer handles at most `count` batches at once, so a lane is always free. The first lane is
// the target's sink, opened at start; the others are made and opened when first needed. Which
// lane a partition's batch lands on does not matter: batches of one partition never overlap.
// While the target fails, one lane probes it with the backoff and the others wait for it to
// succeed instead of each retrying on its own (a target that is down sees one backoff, not one
// per lane).
import { PgcdcError } from '../../pipeline/errors.ts';
import type { Sink } from '../sink.ts';
import type { ApplyContext, ApplyResult, DecodedEvent } from '../sink.ts';
import type { BatchLease, Persist, RetryingApply } from './retrying.ts';

/** How often a lane waiting for the probing lane checks whether its own batch was given up. */
export const STALE_CHECK_MS = 100;

/**
 * One lane at a time retries a failing target; the others wait until it got through. A waiting
 * lane also goes as soon as its own batch is given up (revoked, consumer stopping): staleness has
 * no event (kafkajs only answers isStale()), so a waiter looks again every STALE_CHECK_MS instead
 * of waiting for the probing lane, whose backoff can be seconds.
 */
class Probe {
  private prober: object | undefined;
  private readonly waiters = new Set<() => void>();
  async pass(lane: object, lease: BatchLease): Promise<void> {
    while (this.prober && this.prober !== lane && !lease.isStale())
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, STALE_CHECK_MS);
        this.waiters.add(wake);
      });
  }
  failed(lane: object): void {
    this.prober ??= lane;
  }
  done(lane: object): void {
    if (this.prober !== lane) return;
    this.prober = undefined;
    for (const wake of [...this.waiters]) wake();
  }
}

function probedApply(sink: Sink, persist: Persist, probe: Probe): RetryingApply {
  const self = {};
  const attempt = async (events: DecodedEvent[], ctx: ApplyContext): Promise<ApplyResult> => {
    await probe.pass(self, ctx);
    if (ctx.isStale()) throw new PgcdcError('batch given up while another lane probed the target');
    try {
      const result = await sink.apply(events, ctx);
      probe.done(self);
      return result;
    } catch (err) {
      probe.failed(self);
      throw err;
    }
  };
  return async (events, ctx) => {
    try {
      return await persist('apply', ctx, () => attempt(events, ctx));
    } finally {
      probe.done(self); // given up (stale, stopping): another lane probes next
    }
  };
}

export interface Lane {
  apply: RetryingApply;
}

interface LaneState extends Lane {
  sink: Sink;
  opened: boolean;
}

export interface Lanes {
  readonly count: number;
  /** opens the first lane's sink (the target must be reachable before consuming) */
  openFirst(): Promise<void>;
  /** runs fn on a free, opened lane; undefined when the batch was given up while opening it */
  with<T>(lease: BatchLease, fn: (lane: Lane) => Promise<T>): Promise<T | undefined>;
  /** lanes handling a batch right now, the caller's included */
  busy(): number;
  /** calls `listener` each time a lane is released (its batch handled) until the returned unsubscribe */
  onRelease(listener: () => void): () => void;
  close(): Promise<void>;
}

export function createLanes(opts: {
  first: Sink;
  /** makes the sink of another lane; without it there is one lane */
  more: (() => Sink) | undefined;
  count: number;
  persist: Persist;
}): Lanes {
  const probe = new Probe();
  const lane = (sink: Sink): LaneState => ({
    sink,
    opened: false,
    apply: probedApply(sink, opts.persist, probe),
  });
  const first = lane(opts.first);
  const all: LaneState[] = [first];
  const free: LaneState[] = [first];
  const count = opts.more ? Math.max(1, opts.count) : 1;
  const releaseListeners = new Set<() => void>();
  const take = (): LaneState => {
    const l = free.pop();
    if (l) return l;
    if (!opts.more || all.length >= count)
      throw new PgcdcError(`more partition batches at once than the ${count} lane(s)`, {
        hint: 'a defect of the consumer loop: report it',
      });
    const made = lane(opts.more());
    all.push(made);
    return made;
  };
  return {
    count,
    async openFirst() {
      await first.sink.open();
      first.opened = true;
    },
    async with(lease, fn) {
      const l = take();
      try {
        if (!l.opened) {
          const ok = await opts.persist('opening target', lease, () => l.sink.open().then(() => true));
          if (!ok) return undefined;
          l.opened = true;
        }
        return await fn(l);
      } finally {
        free.push(l);
        for (const listener of [...releaseListeners]) listener();
      }
    },
    busy: () => all.length - free.length,
    onRelease(listener) {
      releaseListeners.add(listener);
      return () => void releaseListeners.delete(listener);
    },
    async close() {
      for (const l of all) await l.sink.close();
    },
  };
}
