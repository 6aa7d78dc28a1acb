// Benchmark load generator, pure part: a seeded plan of source transactions (inserts, updates,
// deletes of `users` in a configurable mix) and the SQL that performs one of them in a single
// round trip. Each writer owns a disjoint id space (id = base + worker + workers * n), so writers
// never touch each other's rows: no lock waits, no deadlocks, and every planned change happens.
// Commit-time stamps: inserts and updates set updated_at = clock_timestamp(), which the latency
// measurement compares with the peer's apply time.
import pg from 'pg';
import { makeUser, rng, type UserRow } from '../verify/seed.ts';

export interface WorkloadSpec {
  seed: number;
  /** relative weights of inserts, updates and deletes */
  mix: { insert: number; update: number; delete: number };
  /** row changes per source transaction */
  txnSize: number;
  /** fraction of inserted rows carrying a large bio (random text: not compressible, TOASTed) */
  largeBioRatio: number;
  /** size of a large bio in bytes */
  largeBioBytes: number;
}

export const DEFAULT_WORKLOAD: WorkloadSpec = {
  seed: 42,
  mix: { insert: 60, update: 30, delete: 10 },
  txnSize: 5,
  largeBioRatio: 0.1,
  largeBioBytes: 4096,
};

export type PlannedOp =
  | { op: 'c'; id: number; row: UserRow }
  | { op: 'u'; id: number; city: string; balance: string }
  | { op: 'd'; id: number };

export interface OpCounts {
  c: number;
  u: number;
  d: number;
}

export const emptyCounts = (): OpCounts => ({ c: 0, u: 0, d: 0 });

/** Kafka messages the changes produce: one per change, plus a tombstone per delete (both pipelines). */
export const kafkaMessagesFor = (c: OpCounts): number => c.c + c.u + 2 * c.d;
export const eventsIn = (c: OpCounts): number => c.c + c.u + c.d;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;éüñ';

function randomText(r: () => number, bytes: number): string {
  const out: string[] = [];
  for (let i = 0; i < bytes; i++) out.push(ALPHABET[Math.floor(r() * ALPHABET.length)]!);
  return out.join('');
}

/** One writer's deterministic stream of transactions. */
export class WorkloadPlan {
  private readonly r: () => number;
  private readonly live: number[] = [];
  private n = 0;
  private readonly total: number;

  constructor(
    private readonly spec: WorkloadSpec,
    private readonly worker: number,
    private readonly workers: number,
    /** ids start above this */
    private readonly idBase: number,
  ) {
    this.r = rng(spec.seed * 1000 + worker);
    this.total = spec.mix.insert + spec.mix.update + spec.mix.delete;
    if (this.total <= 0) throw new Error('workload mix: at least one of insert/update/delete must be > 0');
  }

  /** Ids this writer created and has not deleted (for a later phase to build on). */
  get liveIds(): readonly number[] {
    return this.live;
  }

  nextTxn(): PlannedOp[] {
    const ops: PlannedOp[] = [];
    const touched = new Set<number>();
    for (let i = 0; i < this.spec.txnSize; i++) ops.push(this.nextOp(touched));
    return ops;
  }

  private nextOp(touched: Set<number>): PlannedOp {
    const x = this.r() * this.total;
    const { insert, update } = this.spec.mix;
    // updates/deletes pick a live row not yet touched in this transaction; none left: insert
    const pickable = this.live.length > touched.size;
    if (x >= insert && pickable) {
      let idx = Math.floor(this.r() * this.live.length);
      while (touched.has(this.live[idx]!)) idx = (idx + 1) % this.live.length;
      const id = this.live[idx]!;
      touched.add(id);
      if (x < insert + update) {
        return {
          op: 'u',
          id,
          city: `city-${Math.floor(this.r() * 1000)}`,
          balance: (Math.floor(this.r() * 1e8) / 100).toFixed(2),
        };
      }
      this.live[idx] = this.live[this.live.length - 1]!;
      this.live.pop();
      return { op: 'd', id };
    }
    const id = this.idBase + this.worker + 1 + this.workers * this.n;
    this.n++;
    const row = makeUser(this.r, id, { largeBioRatio: 0, tag: 'b' });
    if (this.r() < this.spec.largeBioRatio) row.bio = randomText(this.r, this.spec.largeBioBytes);
    this.live.push(id);
    touched.add(id);
    return { op: 'c', id, row };
  }
}

export function countOps(ops: PlannedOp[]): OpCounts {
  const c = emptyCounts();
  for (const o of ops) c[o.op]++;
  return c;
}

const escapeLiteral = (v: string): string => pg.escapeLiteral(v);
const lit = (v: string | null): string => (v === null ? 'NULL' : escapeLiteral(v));

const INSERT_COLUMNS =
  'id, email, username, first_name, middle_name, last_name, password_hash, phone, company, address, zip, city, country, is_active, is_blocked, bio, preferences, tags, balance, last_login_at, created_at, updated_at';

function insertTuple(id: number, u: UserRow): string {
  const tags = u.tags === null ? 'NULL' : `ARRAY[${u.tags.map((t) => escapeLiteral(t)).join(', ')}]::text[]`;
  return `(${[
    String(id),
    lit(u.email),
    lit(u.username),
    lit(u.first_name),
    lit(u.middle_name),
    lit(u.last_name),
    lit(u.password_hash),
    lit(u.phone),
    lit(u.company),
    lit(u.address),
    lit(u.zip),
    lit(u.city),
    lit(u.country),
    String(u.is_active),
    String(u.is_blocked),
    lit(u.bio),
    u.preferences === null ? 'NULL' : `${escapeLiteral(u.preferences)}::jsonb`,
    tags,
    u.balance === null ? 'NULL' : `${u.balance}::numeric`,
    u.last_login_at === null ? 'NULL' : `${escapeLiteral(u.last_login_at)}::timestamptz`,
    'clock_timestamp()',
    'clock_timestamp()',
  ].join(', ')})`;
}

/**
 * The statements of one transaction, for the simple query protocol (one round trip; PostgreSQL
 * runs a multi-statement query string as one transaction). Values are literals escaped here.
 */
export function txnSql(ops: PlannedOp[], table = 'public.users'): string {
  const ins = ops.filter((o) => o.op === 'c');
  const upd = ops.filter((o) => o.op === 'u');
  const del = ops.filter((o) => o.op === 'd');
  const parts: string[] = [];
  if (ins.length > 0)
    parts.push(
      `INSERT INTO ${table} (${INSERT_COLUMNS}) VALUES ${ins.map((o) => insertTuple(o.id, o.row)).join(', ')}`,
    );
  if (upd.length > 0)
    parts.push(
      `UPDATE ${table} AS u SET city = v.city, balance = v.balance::numeric, updated_at = clock_timestamp() ` +
        `FROM (VALUES ${upd.map((o) => `(${o.id}, ${escapeLiteral(o.city)}, ${escapeLiteral(o.balance)})`).join(', ')}) AS v(id, city, balance) ` +
        'WHERE u.id = v.id',
    );
  if (del.length > 0) parts.push(`DELETE FROM ${table} WHERE id IN (${del.map((o) => o.id).join(', ')})`);
  return parts.join(';\n');
}
