// What the chunk loop waits for from the producer's stream: the window of a chunk closing (its
// high watermark came through the stream: ClosedChunks) and Kafka acknowledging a position (the
// publisher's ackAfterPublish: AckTracker), plus the idle feed's nap that a signal cuts short
// (Waker). Every wait rejects with Stopped once the feed stops, so the loop never hangs on a
// stream that is gone.
import type { Lsn } from '../../schemas/lsn.ts';
import type { ChunkOutcome } from './window.ts';

/** The feed is stopping: the loop unwinds without an error. */
export class Stopped extends Error {}

/** Everything up to an LSN is durable in Kafka. */
export class AckTracker {
  private acked: Lsn = 0n;
  private waiters: { lsn: Lsn; resolve: () => void; reject: (e: Error) => void }[] = [];
  private stopped = false;

  /** The publisher reports that everything up to `lsn` is durable in Kafka. */
  acknowledged(lsn: Lsn): void {
    if (lsn > this.acked) this.acked = lsn;
    const ready = this.waiters.filter((w) => w.lsn <= this.acked);
    this.waiters = this.waiters.filter((w) => w.lsn > this.acked);
    for (const w of ready) w.resolve();
  }

  /** Resolves once `lsn` is acknowledged; rejects with Stopped when the feed stops first. */
  until(lsn: Lsn): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.acked >= lsn) resolve();
      else if (this.stopped) reject(new Stopped());
      else this.waiters.push({ lsn, resolve, reject });
    });
  }

  stop(): void {
    this.stopped = true;
    const err = new Stopped();
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }
}

/** Outcomes of closed windows, handed from the stream (onClosed) to the loop (until). */
export class ClosedChunks {
  /** Outcomes not yet taken by the loop (the stream may be faster than the loop). */
  private readonly closed = new Map<string, ChunkOutcome>();
  private waiter:
    { chunk: string; resolve: (o: ChunkOutcome) => void; reject: (e: Error) => void } | undefined;
  private stopped = false;

  /** The window of a chunk closed (SnapshotWindow's onClosed). */
  onClosed(o: ChunkOutcome): void {
    const w = this.waiter;
    if (w?.chunk === o.chunk) {
      this.waiter = undefined;
      w.resolve(o);
    } else {
      this.closed.set(o.chunk, o);
    }
  }

  /** The outcome of `chunk` once its high watermark came through the stream. */
  until(chunk: string): Promise<ChunkOutcome> {
    return new Promise<ChunkOutcome>((resolve, reject) => {
      const done = this.closed.get(chunk);
      this.closed.clear();
      if (done) resolve(done);
      else if (this.stopped) reject(new Stopped());
      else this.waiter = { chunk, resolve, reject };
    });
  }

  stop(): void {
    this.stopped = true;
    this.waiter?.reject(new Stopped());
    this.waiter = undefined;
  }
}

/** A nap that wake() ends early (a `pgcdc.signal`, or stop). */
export class Waker {
  private wakeNow: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeNow = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeNow = done;
    });
  }

  wake(): void {
    this.wakeNow?.();
  }
}
