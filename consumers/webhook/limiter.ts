// The webhook target's limit on requests in flight (targets[].concurrency), shared by everything
// that delivers for the target: the partitions handled at the same time (consumers/group/lanes.ts)
// and, with several tables, each table's sink. A request takes a slot for its attempt only (a
// backoff between attempts holds none); slots are handed on first come, first served.

export interface RequestLimiter {
  /** resolves once a slot is free and taken */
  acquire(): Promise<void>;
  /** gives the slot back (to the longest waiting request, if any) */
  release(): void;
}

export function createRequestLimiter(slots: number): RequestLimiter {
  let free = Math.max(1, slots);
  const waiting: (() => void)[] = [];
  return {
    acquire() {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}
