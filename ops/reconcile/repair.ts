// `reconcile --repair`: brings a target back to the source without writing around the pipeline.
// - Missing and differing rows are fed again as snapshot reads (op=r) through the producer's own
//   snapshot path: the table's checkpoint row gets a keyed feed (a snapshot whose key scan is
//   already at its end and whose pending keys are the rows to feed), and the producer streaming
//   the slot reads those keys between watermarks and publishes them on the change topic. So they
//   are ordered against live changes of the same key, and every target's position guard applies
//   (a target that already holds the row rewrites the same values). A running snapshot is never
//   overridden.
// - Extra rows are removed by the target's own sink (mapping decorator included) with a delete
//   event positioned at the source's current WAL position: the delete policy (delete, soft,
//   ignore) applies, and the position guard lets it touch only rows pgcdc wrote (a row carrying a
//   source position); a later insert of the key at the source has a later position and wins.
//   Foreign rows (no position) are removed only with includeForeign, by the same policy, in SQL.
// - A matched target's extra rows are linked rows: its matched sink removes them by their link; a
//   row revived by hand behind a deleted link is removed by the delete policy in SQL (revived.ts).
import type pg from 'pg';
import { mappedSink } from '../../consumers/group/mapped-sink.ts';
import { isIdentity } from '../../consumers/mapping/shape.ts';
import { MatchedMysqlSink, matchedMysqlTableOf } from '../../consumers/mysql/match-sink.ts';
import { MysqlSink } from '../../consumers/mysql/sink.ts';
import { MatchedPostgresSink, matchedTableOf } from '../../consumers/postgres/matched-sink.ts';
import { PostgresSink } from '../../consumers/postgres/sink.ts';
import type { DecodedEvent, Sink } from '../../consumers/sink.ts';
import {
  ensureCheckpointTable,
  filterFingerprint,
  readCheckpoint,
} from '../../producers/snapshot/checkpoint.ts';
import { SIGNAL_PREFIX } from '../../producers/snapshot/watermark.ts';
import { PgcdcError } from '../../pipeline/errors.ts';
import { createBackoff, sleep } from '../../pipeline/retry.ts';
import type { Row, TableContract } from '../../schemas/contract.ts';
import { parseLsn } from '../../schemas/lsn.ts';
import { decodeColumn } from '../../schemas/values.ts';
import type { ReconcileDeps } from './deps.ts';
import type { ReadableTarget, TablePlan } from './plan.ts';
import { removeForeignMysql } from './mysql.ts';
import { removeRevived } from './revived.ts';
import { sideOf, sourceRowsByKeys, withReconcileClient } from './postgres.ts';
import { expectedOf, keyPartsOf } from './rows.ts';

export interface RepairResult {
  /** rows fed again (op=r) through the producer */
  fed: number;
  /** extra rows removed (by the delete policy) */
  removed: number;
  feedId?: string;
}

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;

/** Writes the keyed feed into the table's checkpoint row; refuses while a snapshot runs. */
async function requestKeyedFeed(deps: ReconcileDeps, c: pg.Client, plan: TablePlan, keys: string[]) {
  const s = deps.config.source;
  const ref = { schema: s.snapshot.checkpointSchema, table: s.snapshot.checkpointTable };
  const key = { slot: s.slot, tableName: plan.table };
  await ensureCheckpointTable(c, ref);
  const src = sideOf(plan, 'source');
  const max = await c.query<{ k: string }>(
    `SELECT json_build_array(${src.keyText.join(', ')})::text AS k FROM ${src.from} ORDER BY ${src.order
      .split(', ')
      .map((x) => `${x} DESC`)
      .join(', ')} LIMIT 1`,
  );
  const parts = max.rows[0] ? (JSON.parse(max.rows[0].k) as string[]) : null;
  const maxKey = parts ? (parts.length === 1 ? parts[0]! : JSON.stringify(parts)) : null;
  const id = `reconcile-${Date.now().toString(36)}`;
  const r = await c.query(
    `INSERT INTO ${q(ref.schema)}.${q(ref.table)} AS t (slot, table_name, status, reason, snapshot_id, max_key,
       last_key, pending_keys, rows_total, batch_size, filter_fingerprint, requested_at, started_at, updated_at)
     VALUES ($1, $2, 'running', 'reconcile', $3, $4, $4, $5, $6, $7, $8, now(), now(), now())
     ON CONFLICT (slot, table_name) DO UPDATE SET status = 'running', reason = 'reconcile', snapshot_id = $3,
       max_key = $4, last_key = $4, pending_keys = $5, rows_done = 0, rows_total = $6, events = 0, chunks = 0,
       resumes = 0, batch_size = $7, filter_fingerprint = $8, requested_at = now(), started_at = now(),
       updated_at = now(), finished_at = NULL
     WHERE t.status = 'done'`,
    [
      key.slot,
      key.tableName,
      id,
      maxKey,
      keys,
      keys.length,
      s.snapshot.batchSize,
      filterFingerprint(s.snapshot.filter),
    ],
  );
  if (r.rowCount !== 1)
    throw new PgcdcError(`a snapshot of ${plan.table} is requested or running: repair does not override it`, {
      retriable: true,
      hint: 'wait for it (pgcdc snapshot --status), then run reconcile again',
    });
  await c.query('SELECT pg_logical_emit_message(false, $1, $2)', [SIGNAL_PREFIX, 'snapshot']);
  return { ref, key, id };
}

async function feed(deps: ReconcileDeps, plan: TablePlan, keys: string[], timeoutMs: number) {
  return withReconcileClient(deps.pg, deps.config.source.url, async (c) => {
    const { ref, key, id } = await requestKeyedFeed(deps, c, plan, keys);
    const deadline = Date.now() + timeoutMs;
    const backoff = createBackoff({ initialMs: 100, maxMs: 2000 });
    for (;;) {
      const cp = await readCheckpoint(c, ref, key);
      if (cp?.status === 'done' && cp.snapshotId === id) return id;
      if (cp?.snapshotId !== id)
        throw new PgcdcError(`the keyed feed of ${plan.table} was superseded by another snapshot`, {
          retriable: true,
          hint: 'run reconcile again once the snapshot is done',
        });
      if (Date.now() > deadline)
        throw new PgcdcError(`the producer did not feed the ${keys.length} rows of ${plan.table} in time`, {
          retriable: true,
          hint: `is a producer streaming slot ${deps.config.source.slot}? (pgcdc status); the feed stays requested and runs when it starts`,
        });
      await sleep(backoff.next());
    }
  });
}

function keyRow(plan: TablePlan, key: string): Row {
  const parts = keyPartsOf(plan, key);
  const row: Row = {};
  plan.key.forEach((k, i) => (row[k.source] = decodeColumn(k.spec, parts[i]!)));
  return row;
}

async function removeOwned(
  deps: ReconcileDeps,
  target: ReadableTarget,
  plan: TablePlan,
  source: pg.Client,
  keys: string[],
) {
  if (keys.length === 0) return 0;
  // the position first, then the check that the source still lacks the rows (or has them outside
  // the filter): a row inserted (or entering the filter) before the position is seen by the check,
  // one after it has the later position
  const pos = parseLsn(
    (await source.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l,
  );
  // still to be held: the source row exists and is inside the filter (or cannot be mapped: left alone)
  const held = new Set(
    (
      await sourceRowsByKeys(
        source,
        plan,
        keys.map((k) => keyPartsOf(plan, k)),
      )
    )
      .map((r) => expectedOf(plan, r))
      .filter((e) => e.expected !== null)
      .map((e) => e.key),
  );
  const gone = keys.filter((k) => !held.has(k));
  const contract = { ...plan.contract, columns: plan.shape.columns, keyColumns: plan.shape.keyColumns };
  const plain = plainSink(deps, target, plan, contract);
  const sink = isIdentity(plan.shape) ? plain : mappedSink(plain, plan.shape);
  const now = BigInt(Date.now());
  const events: DecodedEvent[] = gone.map((k, i) => ({
    offset: BigInt(i),
    key: keyRow(plan, k),
    event: {
      before: null,
      after: null,
      unchanged: [],
      op: 'd',
      ts_ms: now,
      event_id: `reconcile:${pos}:${k}`,
      source: {
        version: 'reconcile',
        connector: 'pgcdc',
        name: deps.config.kafka.topicPrefix,
        db: '',
        schema: plan.contract.schema,
        table: plan.contract.table,
        lsn: pos,
        commit_lsn: pos,
        seq: BigInt(i),
        tx_id: null,
        ts_us: now * 1000n,
        snapshot: false,
      },
    },
  }));
  await sink.open();
  try {
    const r = await sink.apply(events);
    if (r.retryFrom || r.deadLetters.length > 0)
      throw new PgcdcError(
        `removing extra rows of ${plan.table} failed: ${r.retryFrom?.error ?? r.deadLetters[0]?.error}`,
        {
          retriable: true,
          hint: 'run reconcile --repair again',
        },
      );
  } finally {
    await sink.close();
  }
  // a matched target's row revived by hand behind a deleted link: the sink's delete leaves it (its
  // link says deleted already), so it is removed by the delete policy here, still behind that link
  if (plan.shape.match) await removeRevived(deps, target, plan, gone);
  return gone.length;
}

/** The target's own sink for this table (its delete policy and position guard), unmapped. */
function plainSink(
  deps: ReconcileDeps,
  target: ReadableTarget,
  plan: TablePlan,
  contract: TableContract,
): Sink {
  switch (target.type) {
    case 'postgres': {
      const cfg = { ...target, ...plan.at };
      return plan.shape.match
        ? new MatchedPostgresSink(cfg, matchedTableOf(cfg, plan.shape), deps.logger, deps.pg)
        : new PostgresSink(cfg, contract, deps.logger, deps.pg);
    }
    case 'mysql': {
      const cfg = { ...target, table: plan.at.table };
      const timeouts = {
        connectTimeoutMs: deps.config.connections.connectTimeoutMs,
        ...deps.config.connections.target,
      };
      return plan.shape.match
        ? new MatchedMysqlSink(cfg, matchedMysqlTableOf(cfg, plan.shape), deps.logger, timeouts)
        : new MysqlSink(cfg, contract, deps.logger, timeouts, plan.shape.softDelete); // owned extras soft-deleted like the stream does
    }
    default:
      return target satisfies never;
  }
}

async function removeForeign(deps: ReconcileDeps, target: ReadableTarget, plan: TablePlan, keys: string[]) {
  // a matched target's extras are all linked (owned): rows without a link are never compared
  if (keys.length === 0 || !plan.extrasAreDrift || plan.shape.match) return 0;
  if (target.type === 'mysql') return removeForeignMysql(deps, target, plan, keys);
  const t = sideOf(plan, 'target');
  const where = `jsonb_build_array(${t.keyText.join(', ')}) IN (SELECT jsonb_array_elements($1::jsonb)) AND x."_pgcdc_lsn" IS NULL`;
  const sd = plan.softDelete;
  const text = sd
    ? `UPDATE ${t.from} SET ${q(sd.column)} = ${sd.type === 'boolean' ? 'true' : 'now()'} WHERE ${where}`
    : `DELETE FROM ${t.from} WHERE ${where}`;
  return withReconcileClient(deps.pg, target.url, async (c) => {
    const r = await c.query(text, [JSON.stringify(keys.map((k) => keyPartsOf(plan, k)))]);
    return r.rowCount ?? 0;
  });
}

export async function repairTable(
  deps: ReconcileDeps,
  target: ReadableTarget,
  plan: TablePlan,
  source: pg.Client,
  work: { feed: string[]; remove: { key: string; owned: boolean }[] },
  feedTimeoutMs = 600_000,
): Promise<RepairResult> {
  const out: RepairResult = { fed: 0, removed: 0 };
  if (work.feed.length > 0) {
    out.feedId = await feed(deps, plan, work.feed, feedTimeoutMs);
    out.fed = work.feed.length;
  }
  out.removed += await removeOwned(
    deps,
    target,
    plan,
    source,
    work.remove.filter((r) => r.owned).map((r) => r.key),
  );
  out.removed += await removeForeign(
    deps,
    target,
    plan,
    work.remove.filter((r) => !r.owned).map((r) => r.key),
  );
  return out;
}
