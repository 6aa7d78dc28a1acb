// The partitioned phase of the random peers test (convergence.int.test.ts): while no node runs,
// each node writes on its own, so two nodes' writes of one key are concurrent by construction (no
// change can have reached the other). The write log notes each write's commit time as PostgreSQL
// reports it (pg_xact_commit_timestamp of the writing transaction), independently of pgcdc. From
// it, per key written at two or more nodes, the node that must log the conflict: the one holding
// the winning write W (the highest version under the mesh's order; W is that node's last write of
// the key). Every other node's write of the key arrives there older than W and loses, and is
// logged, unless it is a delete meeting W's delete (both wanted the row gone: not a conflict).
// A key is expected when some write that reaches W's node is not such a delete.
import { rng } from '../../dev/verify/seed.ts';
import { compareVersions, type VersionOrder } from '../../consumers/peer/version.ts';
import { withClient } from '../support/database.ts';
import type { MeshEnv } from '../support/peers.ts';

export interface Written {
  node: string;
  id: number;
  op: 'upsert' | 'update' | 'delete';
  tsUs: bigint;
}

/** Seeded writes at every node at once (none replicated: the nodes are stopped); what changed a row. */
export async function partitionedWrites(env: MeshEnv, seed: number, keys: number): Promise<Written[]> {
  const all: Written[][] = await Promise.all(
    env.nodes.map(({ name, db }, i) =>
      withClient(db.url, async (c) => {
        const next = rng(seed + 1_000_003 + i * 7919);
        const out: Written[] = [];
        for (let n = 1; n <= 30; n++) {
          const id = 1 + Math.floor(next() * keys);
          const r = next();
          const [op, text, values]: [Written['op'], string, unknown[]] =
            r < 0.4
              ? [
                  'upsert',
                  `INSERT INTO users (id, email, username, city) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, city = EXCLUDED.city`,
                  [id, `p${id}-${name}-${n}@x`, `${name}p${n}`, `pcity-${name}-${n}`],
                ]
              : r < 0.8
                ? ['update', `UPDATE users SET city = $2 WHERE id = $1`, [id, `pcity-${name}-${n}`]]
                : ['delete', `DELETE FROM users WHERE id = $1`, [id]];
          await c.query('BEGIN');
          const res = await c.query(text, values);
          const xid = (await c.query<{ x: string }>(`SELECT pg_current_xact_id()::text AS x`)).rows[0]!.x;
          await c.query('COMMIT');
          if ((res.rowCount ?? 0) === 0) continue;
          const ts = await c.query<{ us: string }>(
            `SELECT (extract(epoch FROM pg_xact_commit_timestamp($1::xid8::xid)) * 1000000)::bigint::text AS us`,
            [xid],
          );
          out.push({ node: name, id, op, tsUs: BigInt(ts.rows[0]!.us) });
        }
        return out;
      }),
    ),
  );
  return all.flat();
}

/** Key id -> the node whose conflict log must name it (see the header). */
export function expectedConflicts(written: Written[], order: VersionOrder): Map<string, string> {
  const byKey = new Map<number, Written[]>();
  for (const w of written) byKey.set(w.id, [...(byKey.get(w.id) ?? []), w]);
  const out = new Map<string, string>();
  const version = (w: Written) => ({ tsUs: w.tsUs, node: w.node, lsn: 0n, seq: 0n });
  for (const [id, ws] of byKey) {
    if (new Set(ws.map((w) => w.node)).size < 2) continue;
    const win = ws.reduce((a, b) => (compareVersions(version(b), version(a), order) > 0 ? b : a));
    const met = ws.filter((w) => w.node !== win.node);
    if (met.some((w) => !(w.op === 'delete' && win.op === 'delete'))) out.set(String(id), win.node);
  }
  return out;
}
