// "Has the target applied every change committed before this source position?", the wait the
// settle step (settle.ts) needs: first the producer acknowledges the position (the slot's
// confirmed_flush_lsn passes it: every change before it is in Kafka), then the target's consumer
// group commits every offset its topics held at that moment (offsets are committed only after the
// target applied them). Polls with the one backoff policy (pipeline/retry.ts), up to a deadline.
import type pg from 'pg';
import { createBackoff, sleep } from '../../pipeline/retry.ts';
import type { KafkaAdminPort } from '../../pipeline/kafka/port.ts';

export interface CatchUpDeps {
  source: pg.Client;
  slot: string;
  admin: KafkaAdminPort;
  group: string;
  topics: string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

async function until(deadline: number, signal: AbortSignal | undefined, ok: () => Promise<boolean>) {
  const backoff = createBackoff({ initialMs: 100, maxMs: 2000 });
  for (;;) {
    if (await ok()) return true;
    if (Date.now() >= deadline || signal?.aborted) return false;
    await sleep(Math.min(backoff.next(), Math.max(0, deadline - Date.now())), signal);
  }
}

/** A catchUp function for settle(): resolves true once caught up, false at the deadline. */
export function catchUpWaiter(d: CatchUpDeps): (lsn: string) => Promise<boolean> {
  return async (lsn) => {
    const deadline = Date.now() + d.timeoutMs;
    const published = await until(deadline, d.signal, async () => {
      const r = await d.source.query<{ ok: boolean }>(
        'SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2',
        [lsn, d.slot],
      );
      return r.rows[0]?.ok === true;
    });
    if (!published) return false;
    const ends = await Promise.all(d.topics.map(async (t) => ({ t, o: await d.admin.topicOffsets(t) })));
    return until(deadline, d.signal, async () => {
      for (const { t, o } of ends) {
        const committed = await d.admin.groupOffsets(d.group, t);
        for (const e of o) {
          if (e.high <= e.low) continue;
          const c = committed.find((x) => x.partition === e.partition)?.offset ?? -1n;
          if (c < e.high) return false;
        }
      }
      return true;
    });
  };
}
