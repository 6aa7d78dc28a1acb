// Conflicting writes at one node of a dev mesh (dev/peers/mesh.ts), for the peers demo and bench:
// a paced loop of single-row transactions on a shared set of keys (so that nodes write the same
// users before each other's changes arrive): profile updates, blocks, email changes (emails
// unique per key and node, so no two keys ever share one), deletes and re-inserts. Seeded; what
// it did is counted per operation. A failed statement (a deadlock with a link) is counted and the
// loop goes on.
import pg from 'pg';
import { sleep } from '../../pipeline/retry.ts';
import { rng } from '../verify/seed.ts';

export type WriteOp = 'update' | 'block' | 'email' | 'delete' | 'reinsert';

export interface WriterStats {
  node: string;
  /** statements that changed a row */
  writes: number;
  byOp: Record<WriteOp, number>;
  failed: number;
  /** Date.now() after the last statement's commit */
  lastCommitAt: number;
}

export interface MeshWriter {
  stats: WriterStats;
  /** stops after the statement in flight; resolves with the counts */
  stop(): Promise<WriterStats>;
}

const CITIES = ['Aarau', 'Bern', 'Chur', 'Davos', 'Emmen', 'Frutigen', 'Genf'];

function pickOp(x: number): WriteOp {
  if (x < 0.45) return 'update';
  if (x < 0.6) return 'block';
  if (x < 0.75) return 'email';
  if (x < 0.85) return 'delete';
  return 'reinsert';
}

function statement(op: WriteOp, id: number, node: string, n: number, r: () => number): [string, unknown[]] {
  switch (op) {
    case 'update':
      return [
        `UPDATE users SET city = $2, username = $3, updated_at = clock_timestamp() WHERE id = $1`,
        [id, CITIES[Math.floor(r() * CITIES.length)], `${node}-${n}`],
      ];
    case 'block':
      return [
        `UPDATE users SET is_blocked = NOT is_blocked, updated_at = clock_timestamp() WHERE id = $1`,
        [id],
      ];
    case 'email':
      return [
        `UPDATE users SET email = $2, updated_at = clock_timestamp() WHERE id = $1`,
        [id, `${id}.${node}.${n}@mesh`],
      ];
    case 'delete':
      return [`DELETE FROM users WHERE id = $1`, [id]];
    case 'reinsert':
      return [
        `INSERT INTO users (id, email, username) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, updated_at = clock_timestamp()`,
        [id, `${id}.${node}.${n}@mesh`, `${node}-${n}`],
      ];
    default:
      return op satisfies never;
  }
}

/** Starts writing at `url` at `ratePerSec` on `keys` until stop(). */
export function startMeshWriter(
  url: string,
  node: string,
  opts: { ratePerSec: number; keys: number[]; seed: number },
): MeshWriter {
  const r = rng(opts.seed);
  const stats: WriterStats = {
    node,
    writes: 0,
    byOp: { update: 0, block: 0, email: 0, delete: 0, reinsert: 0 },
    failed: 0,
    lastCommitAt: 0,
  };
  let stopping = false;
  const run = (async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const interval = 1000 / opts.ratePerSec;
      const t0 = Date.now();
      for (let n = 0; !stopping; n++) {
        const due = t0 + n * interval - Date.now();
        if (due > 0) await sleep(due);
        const op = pickOp(r());
        const id = opts.keys[Math.floor(r() * opts.keys.length)]!;
        const [text, values] = statement(op, id, node, n, r);
        try {
          const res = await c.query(text, values);
          stats.lastCommitAt = Date.now();
          if ((res.rowCount ?? 0) > 0) {
            stats.writes++;
            stats.byOp[op]++;
          }
        } catch {
          stats.failed++;
        }
      }
    } finally {
      await c.end();
    }
  })();
  return {
    stats,
    async stop() {
      stopping = true;
      await run;
      return stats;
    },
  };
}
