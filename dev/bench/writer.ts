// Benchmark load generator, I/O part: a few connections to the source, each writing its own
// WorkloadPlan one transaction per round trip, either as fast as possible (a number of changes)
// or paced at a rate (changes per second, for a duration). Counts what the server really did.
import pg from 'pg';
import {
  countOps,
  emptyCounts,
  eventsIn,
  txnSql,
  WorkloadPlan,
  type OpCounts,
  type WorkloadSpec,
} from './workload.ts';

export interface WriteResult {
  counts: OpCounts;
  events: number;
  seconds: number;
  startedAt: Date;
  endedAt: Date;
  /** pg_current_wal_lsn() once everything was committed */
  endLsn: string;
}

export interface WriteRun {
  /** stop after this many changes (rounded up to whole transactions) */
  events?: number;
  /** changes per second over all connections; omitted = as fast as possible */
  rate?: number;
  /** stop after this long */
  durationMs?: number;
}

export class LoadWriter {
  private readonly plans: WorkloadPlan[];
  private clients: pg.Client[] = [];

  constructor(
    private readonly url: string,
    private readonly spec: WorkloadSpec,
    private readonly workers = 4,
    idBase = 0,
  ) {
    this.plans = Array.from({ length: workers }, (_, w) => new WorkloadPlan(spec, w, workers, idBase));
  }

  async open(): Promise<void> {
    this.clients = await Promise.all(
      this.plans.map(async () => {
        const c = new pg.Client({ connectionString: this.url, application_name: 'pgcdc-bench-writer' });
        await c.connect();
        return c;
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.end().catch(() => undefined)));
    this.clients = [];
  }

  async run(r: WriteRun): Promise<WriteResult> {
    if (r.events === undefined && r.durationMs === undefined)
      throw new Error('writer needs events or a duration');
    const counts = emptyCounts();
    const txnEvents = this.spec.txnSize;
    const maxTxns = r.events === undefined ? Infinity : Math.ceil(r.events / txnEvents);
    const t0 = performance.now();
    const deadline = r.durationMs === undefined ? Infinity : t0 + r.durationMs;
    const startedAt = new Date();
    let next = 0;
    const worker = async (w: number) => {
      const plan = this.plans[w]!;
      const client = this.clients[w]!;
      for (;;) {
        const i = next++;
        if (i >= maxTxns) return;
        if (r.rate !== undefined) {
          const due = t0 + (i * txnEvents * 1000) / r.rate;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((res) => setTimeout(res, wait));
        }
        if (performance.now() >= deadline) return;
        const ops = plan.nextTxn();
        const res = (await client.query(txnSql(ops))) as pg.QueryResult | pg.QueryResult[];
        const results = Array.isArray(res) ? res : [res];
        // rowCount per statement: inserts, updates, deletes in that order when present
        const planned = countOps(ops);
        const kinds = (['c', 'u', 'd'] as const).filter((k) => planned[k] > 0);
        kinds.forEach((k, j) => (counts[k] += results[j]?.rowCount ?? 0));
      }
    };
    await Promise.all(this.plans.map((_, w) => worker(w)));
    const endedAt = new Date();
    const lsn = await this.clients[0]!.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return {
      counts,
      events: eventsIn(counts),
      seconds: (performance.now() - t0) / 1000,
      startedAt,
      endedAt,
      endLsn: lsn.rows[0]!.lsn,
    };
  }
}
