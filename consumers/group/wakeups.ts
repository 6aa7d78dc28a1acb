// Early wake-ups of waiting partitions: a partition whose next event waits for another partition
// (a secondary unique conflict, consumers/group/conflicts.ts) is paused with a backoff; as soon as
// another partition of the same topic applies something, the wait is cut short, because the value
// it waited for may have moved. A wake-up only brings a retry forward: whether the event is
// applied is decided again by the target, so order and offsets are untouched. Pure bookkeeping.

export interface Wakeups {
  /** the partition starts waiting: its signal is aborted when another partition moves */
  waiting(topic: string, partition: number): AbortSignal;
  /** the partition applied (or set aside) something: wake the others of its topic */
  moved(topic: string, partition: number): void;
  /** was the partition woken early since it last asked (the flag is cleared) */
  wasWoken(topic: string, partition: number): boolean;
  /** drop everything (consumer stopping) */
  clear(): void;
}

export function createWakeups(): Wakeups {
  const waiting = new Map<string, Map<number, AbortController>>();
  const woken = new Map<string, Set<number>>();
  const of = <T>(m: Map<string, T>, topic: string, make: () => T): T => {
    let v = m.get(topic);
    if (v === undefined) m.set(topic, (v = make()));
    return v;
  };
  return {
    waiting(topic, partition) {
      const c = new AbortController();
      of(waiting, topic, () => new Map()).set(partition, c);
      return c.signal;
    },
    moved(topic, partition) {
      const waiters = waiting.get(topic);
      if (!waiters) return;
      for (const [p, c] of waiters) {
        if (p === partition) continue;
        waiters.delete(p);
        of(woken, topic, () => new Set()).add(p);
        c.abort();
      }
    },
    wasWoken(topic, partition) {
      return woken.get(topic)?.delete(partition) ?? false;
    },
    clear() {
      waiting.clear();
      woken.clear();
    },
  };
}
