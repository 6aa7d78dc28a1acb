// Helpers of the snapshot integration tests: seeding, a concurrent writer that keeps changing
// rows (also right where the snapshot reads), the checkpoint row, and throughput figures.
import {
  readCheckpoint,
  type Checkpoint,
  type CheckpointKey,
  type CheckpointTable,
} from '../../producers/snapshot/checkpoint.ts';
import type { App } from '../../pipeline/compose.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { insertUsers, makeUser, rng } from '../../dev/verify/seed.ts';
import type { InMessage } from '../../pipeline/kafka/port.ts';
import { withClient } from './database.ts';
import { writerLoop } from './pipeline.ts';

/**
 * Inserts `n` users (ids 1..n on a fresh table). `largeBioRatio` of them get a long but repetitive
 * bio (compressed inline); every `toastEvery`-th row an incompressible ~4 kB bio that PostgreSQL
 * stores out of line, so that updates leaving it alone are sent without it (partial events).
 */
export async function seedUsers(
  url: string,
  n: number,
  opts: { largeBioRatio?: number; seed?: number; toastEvery?: number } = {},
) {
  const r = rng(opts.seed ?? 42);
  const t0 = Date.now();
  await withClient(url, async (c) => {
    const batch = 2000;
    for (let i = 0; i < n; i += batch) {
      const rows = Array.from({ length: Math.min(batch, n - i) }, (_, j) =>
        makeUser(r, i + j, { tag: 'seed', largeBioRatio: opts.largeBioRatio ?? 0.1 }),
      );
      await insertUsers(c, rows, 500);
    }
    if (opts.toastEvery) {
      await c.query(
        `UPDATE users SET bio = (SELECT string_agg(md5(random()::text || g::text || users.id::text), '')
                                   FROM generate_series(1, 128) g)
          WHERE id % $1 = 0`,
        [opts.toastEvery],
      );
    }
    await c.query('ANALYZE users');
  });
  return Date.now() - t0;
}

export function checkpointWhere(config: Config): { ref: CheckpointTable; key: CheckpointKey } {
  const s = config.source;
  return {
    ref: { schema: s.snapshot.checkpointSchema, table: s.snapshot.checkpointTable },
    key: { slot: s.slot, tableName: `${s.schema}.${s.table}` },
  };
}

export function checkpoint(config: Config): Promise<Checkpoint | undefined> {
  const { ref, key } = checkpointWhere(config);
  return withClient(config.source.url, (c) => readCheckpoint(c, ref, key));
}

export interface WriterCounts {
  txns: number;
  inserts: number;
  updates: number;
  /** updates sent without the (unchanged, out-of-line) bio: partial events */
  partialUpdates: number;
  deletes: number;
  /** changes made to rows at or just ahead of the snapshot's position */
  nearSnapshot: number;
}

/**
 * Keeps changing `users` until stop(): inserts, full updates, updates that leave the TOASTed bio
 * untouched (partial events), deletes, several per transaction. Half of the updates and deletes
 * aim at the keys the snapshot is about to read (just after the checkpoint's last key), where
 * live changes and chunk rows collide.
 */
export function concurrentWriter(config: Config, seed = 7) {
  const counts: WriterCounts = {
    txns: 0,
    inserts: 0,
    updates: 0,
    partialUpdates: 0,
    deletes: 0,
    nearSnapshot: 0,
  };
  const r = rng(seed);
  const batch = config.source.snapshot.batchSize;
  let n = 0;
  let maxId = 1;
  let near: number | undefined;
  const pick = () => {
    if (near !== undefined && r() < 0.5) {
      counts.nearSnapshot++;
      return near + 1 + Math.floor(r() * batch * 2);
    }
    return 1 + Math.floor(r() * maxId);
  };
  const client = { connectionString: config.source.url, application_name: 'test-writer' };
  return writerLoop(client, counts, async (c) => {
    if (counts.txns % 5 === 0) {
      // Where the table ends and where the snapshot reads, refreshed every few transactions.
      const { max } = (await c.query<{ max: string | null }>('SELECT max(id)::text AS max FROM users'))
        .rows[0]!;
      const { ref, key } = checkpointWhere(config);
      const cp = await readCheckpoint(c, ref, key).catch(() => undefined);
      maxId = Number(max ?? 1);
      near = cp?.status === 'running' ? Number(cp.lastKey ?? 0) : undefined;
    }
    await c.query('BEGIN');
    for (let i = 0; i < 4; i++) {
      const what = r();
      if (what < 0.25) {
        await insertUsers(c, [makeUser(r, ++n, { tag: `live${seed}x`, largeBioRatio: 0.2 })]);
        counts.inserts++;
      } else if (what < 0.55) {
        const res = await c.query<{ toasted: boolean }>(
          "UPDATE users SET city = 'city-' || $2, balance = coalesce(balance, 0) + 1, updated_at = clock_timestamp() WHERE id = $1 RETURNING pg_column_size(bio) > 2000 AS toasted",
          [pick(), n],
        );
        counts.updates += res.rowCount ?? 0;
        // the bio stays out of line and unchanged: PostgreSQL sends the update without it
        counts.partialUpdates += res.rows.filter((x) => x.toasted).length;
      } else if (what < 0.8) {
        const res = await c.query(
          "UPDATE users SET bio = coalesce(bio, '') || ' +' || $2, is_active = NOT is_active, updated_at = clock_timestamp() WHERE id = $1",
          [pick(), n],
        );
        counts.updates += res.rowCount ?? 0;
      } else {
        const res = await c.query('DELETE FROM users WHERE id = $1', [pick()]);
        counts.deletes += res.rowCount ?? 0;
      }
    }
    await c.query('COMMIT');
    counts.txns++;
  });
}

/** Events a target applied so far, by op (the in-process consumer's metric). */
export async function appliedByOp(app: App, target: string): Promise<Record<string, number>> {
  const m = await app.metrics.applied.get();
  const out: Record<string, number> = {};
  for (const v of m.values) {
    const labels = v.labels as { target?: string; op?: string };
    if (labels.target === target && labels.op) out[labels.op] = v.value;
  }
  return out;
}

/** op=r messages (event id snap:...) in a topic read with readTopic(). */
export function snapshotMessages(messages: InMessage[]): InMessage[] {
  return messages.filter((m) => m.value !== null && m.headers['pgcdc-event-id']?.startsWith('snap:'));
}

export function perSecond(rows: number, ms: number): number {
  return ms > 0 ? Math.round((rows * 1000) / ms) : 0;
}

/** One line in the test output with the measured figures. */
export function report(what: string, figures: Record<string, string | number>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`[snapshot] ${what}: ${text}`);
}

/**
 * For a failed comparison: every message of the given keys in the topic (partition, offset, op,
 * position, event id, tx) and the position stored in the peer row, to see which event won.
 */
export async function explainKeys(app: App, topic: string, peerUrl: string, ids: string[]): Promise<string> {
  if (ids.length === 0) return '';
  const { createEventCodec } = await import('../../schemas/codec.ts');
  const { loadContract } = await import('../../schemas/contract.ts');
  const codec = await createEventCodec({
    registryUrl: app.config.registry.url,
    topic,
    contract: loadContract(),
  });
  const wanted = new Set(ids);
  const lines: string[] = [];
  const admin = app.kafka.admin();
  await admin.connect();
  const offsets = await admin.topicOffsets(topic).finally(() => admin.disconnect());
  const all = await app.kafka.reader().read(
    topic,
    offsets.map((o) => ({ partition: o.partition, from: o.low, to: o.high })),
    { timeoutMs: 60_000 },
  );
  for (const m of all) {
    const key = m.key ? String((await codec.decodeKey(m.key)).id) : '?';
    if (!wanted.has(key)) continue;
    if (m.value === null) {
      lines.push(`id ${key} p${m.partition}@${m.offset}: tombstone`);
      continue;
    }
    const e = await codec.decodeValue(m.value);
    lines.push(
      `id ${key} p${m.partition}@${m.offset}: ${e.op} pos=${e.source.commit_lsn}/${e.source.seq} tx=${e.source.tx_id} id=${e.event_id} unchanged=${e.unchanged.join(',')}`,
    );
  }
  const peer = await withClient(peerUrl, (c) =>
    c.query<Record<string, string>>(
      'SELECT id::text, _pgcdc_lsn::text, _pgcdc_seq::text, _pgcdc_event_id FROM users WHERE id::text = ANY($1)',
      [ids],
    ),
  ).catch((err: Error) => ({ rows: [{ error: err.message }] }));
  for (const r of peer.rows) lines.push(`peer row ${JSON.stringify(r)}`);
  return lines.join('\n');
}
