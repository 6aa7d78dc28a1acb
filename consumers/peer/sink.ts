// Peer sink (docs/peers.md): applies one table of one node's changes at another node of a peers
// mesh. Its session (session.ts, shared by the link's tables) is marked with the link's
// replication origin (origin.ts), so nothing it commits is published again. Each change is decided against the key's current version at this node
// (version.ts): applied when it wins under the mesh's policy, skipped when it loses; the winner's
// version is stored beside the table in the same transaction, and a conflict (a write of another
// node met) is logged in <table>_pgcdc_conflicts, counted and audited with both versions. A row
// whose unique value (e.g. email) another key holds is resolved by the policy or left for an
// operator (unique.ts); nothing blocks the link. A batch is one transaction, which also records
// the link's progress per partition (prune.ts); a redelivered change (offset and time not past that
// progress) is skipped, so it changes nothing even once the delete it lost to was pruned. After
// the commit, at most once per prune.intervalMs, the link prunes deleted keys' versions (prune.ts).
import type pg from 'pg';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import { audit } from '../../pipeline/observability/audit.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { Row, TableContract } from '../../schemas/contract.ts';
import type { ApplyResult, DecodedEvent, Sink } from '../sink.ts';
import { classifyPgError } from '../postgres/errors.ts';
import type { TargetTable } from '../postgres/table.ts';
import type { ConflictCounter } from './metrics.ts';
import type { PeerSession } from './session.ts';
import {
  batchProgress,
  progressSetupSql,
  progressSql,
  prune,
  recordProgressSql,
  redelivered,
  type Decided,
  type PruneSettings,
} from './prune.ts';
import {
  deleteSql,
  foldLocalDeletesSql,
  localDeleteSql,
  logConflictSql,
  metaFactsSql,
  keyLockSql,
  lockRowSql,
  rowFactsSql,
  setupSql,
  writeRowSql,
  versionJson,
  writeMetaSql,
  type ConflictRecord,
} from './sql.ts';
import { resolveUnique, uniqueViolation } from './unique.ts';
import { currentVersion, decide, type Current, type Version, type VersionOrder } from './version.ts';

/** One link of the mesh: `from`'s topic applied at node `to` (this sink's database). */
export interface PeerLink {
  /** link name (the target and consumer group name): `to_<to>` in the configuration of node `from` */
  name: string;
  /** both ends, `<from>-><to>`: the link in the conflict log, the metric and messages */
  label: string;
  mesh: string;
  from: string;
  to: string;
  url: string;
  schema: string;
  table: string;
  order: VersionOrder;
  onUniqueConflict: 'resolve' | 'keep-local';
  /** every link into `to`, by label (pruning waits for all of them: prune.ts) */
  links: string[];
  /** partitions of each node's topic */
  partitions: number;
  prune: PruneSettings;
}

export class PeerSink implements Sink {
  readonly kind = 'peer';
  private readonly table: TargetTable;
  private closed = false;
  private acquired = false;
  /** the tables beside this table exist (set up once per sink) */
  private ready = false;
  private lastPrune = Date.now();

  constructor(
    private readonly link: PeerLink,
    contract: TableContract,
    private readonly logger: Logger,
    /** the link's session, shared by the sinks of every table the link carries (session.ts) */
    private readonly session: PeerSession,
    private readonly conflicts?: ConflictCounter,
    /** told how many rows each pruning run removed (the metric) */
    private readonly pruned?: (rows: number) => void,
  ) {
    this.table = {
      schema: link.schema,
      table: link.table,
      columns: contract.columns,
      keyColumns: contract.keyColumns,
    };
  }

  async open(): Promise<void> {
    if (this.closed) throw new PgcdcError(`peer link ${this.link.label}: sink is closed`);
    if (!this.acquired) this.session.acquire();
    this.acquired = true;
    try {
      const client = await this.session.get();
      if (this.ready) return;
      await client.query('BEGIN');
      // two links into one node set up the same objects: one at a time
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('pgcdc_peer_setup'))`);
      for (const sql of [...setupSql(this.table), progressSetupSql(this.table)]) await client.query(sql);
      await client.query('COMMIT');
      this.ready = true;
    } catch (err) {
      await this.session.reset();
      throw this.failure(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.acquired) await this.session.release();
    this.acquired = false;
  }

  private failure(err: unknown): PgcdcError {
    if (err instanceof PgcdcError) return err;
    const message = `peer link ${this.link.label}: ${(err as Error).message}`;
    const code = (err as { code?: string }).code;
    if (code === '42501')
      return new PgcdcError(message, {
        retriable: true,
        cause: err,
        hint: 'the sink role needs superuser or EXECUTE on the replication-origin functions (docs/peers.md, Privileges; pgcdc check)',
      });
    if (code === '53400')
      return new PgcdcError(message, {
        retriable: true,
        cause: err,
        hint: 'every replication origin keeps a place from its first use until it is dropped: drop the unused ones (pg_replication_origin_status lists them; pg_replication_origin_drop) or raise max_replication_slots (18+: max_active_replication_origins); pgcdc check counts them',
      });
    // "replication origin ... is already active for PID": the previous session is still ending
    if (code === '55000' || classifyPgError(err, '') === 'transient')
      return new UnavailableError(message, { cause: err });
    return new PgcdcError(message, {
      retriable: true,
      cause: err,
      hint: 'fix the node database; delivery resumes by itself',
    });
  }

  async apply(events: DecodedEvent[]): Promise<ApplyResult> {
    await this.open();
    const c = await this.session.get();
    const logged: ConflictRecord[] = [];
    try {
      await c.query('BEGIN');
      const decided = await this.progress(c);
      const fresh = events.filter((e) => !redelivered(e, decided));
      for (const e of byKey(fresh, this.table.keyColumns)) await this.applyOne(c, e, logged);
      for (const [partition, p] of batchProgress(events))
        await c.query(recordProgressSql(this.table, this.link.label, partition, p.offset, p.tsUs));
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      const failure = this.failure(err);
      if (failure instanceof UnavailableError) await this.session.reset();
      throw failure;
    }
    for (const r of logged) this.report(r);
    await this.maybePrune(c);
    return { applied: events, deadLetters: [] };
  }

  /** What this link decided so far per partition (its progress rows, read in the apply's transaction). */
  private async progress(c: pg.Client): Promise<Decided> {
    const r = await c.query<{ partition: number; kafka_offset: string; ts_us: string }>(
      progressSql(this.table, this.link.label),
    );
    return new Map(
      r.rows.map((x) => [x.partition, { offset: BigInt(x.kafka_offset), tsUs: BigInt(x.ts_us) }]),
    );
  }

  /** A pruning run (prune.ts) once per prune.intervalMs; a failure is logged, the link goes on. */
  private async maybePrune(c: pg.Client): Promise<void> {
    const s = this.link.prune;
    if (s.intervalMs <= 0 || Date.now() - this.lastPrune < s.intervalMs) return;
    this.lastPrune = Date.now();
    const window = this.link.order.policy === 'priority' ? this.link.order.priorityWindowMs : 0;
    try {
      const n = await prune(c, this.table, {
        links: this.link.links,
        partitions: this.link.partitions,
        marginUs: BigInt(s.marginMs + window) * 1000n,
        afterMs: s.afterMs,
        batch: s.batch,
      });
      this.pruned?.(n);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message },
        'pruning the versions beside the table failed; next run later',
      );
    }
  }

  private async applyOne(c: pg.Client, e: DecodedEvent, logged: ConflictRecord[]): Promise<void> {
    const ev = e.event;
    if (ev.op === 't') {
      this.logger.warn(
        { eventId: ev.event_id },
        'TRUNCATE of a peer is not applied at the other nodes (docs/peers.md)',
      );
      return;
    }
    const incoming: Version = {
      tsUs: ev.source.ts_us,
      node: this.link.from,
      lsn: ev.source.commit_lsn,
      seq: ev.source.seq,
    };
    await c.query(keyLockSql(this.table, e.key));
    const op = ev.op === 'd' ? 'delete' : ev.op === 'c' ? 'insert' : 'upsert';
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.current(c, e.key);
      const d = decide(op, incoming, current, this.link.order);
      const done =
        !d.apply ||
        (ev.op === 'd'
          ? await this.remove(c, e, incoming, current.state === 'live')
          : await this.writeRow(c, e, incoming, current.state === 'live' ? 'update' : 'insert', logged));
      if (done) {
        if (d.conflict) logged.push(await this.log(c, e, d.conflict, current, incoming));
        return;
      }
      // a local writer inserted the key after the sink looked: decide again against its row
    }
    throw new UnavailableError(
      `peer link ${this.link.label}: key ${JSON.stringify(String(Object.values(e.key)[0]))} keeps changing under the apply; retrying`,
    );
  }

  private async remove(c: pg.Client, e: DecodedEvent, incoming: Version, live: boolean): Promise<true> {
    if (live) await c.query(deleteSql(this.table, e.key));
    await this.recordVersion(c, e.key, incoming, true, e.event.event_id);
    return true;
  }

  /**
   * The row written (false: an insert found the key taken by a local writer meanwhile), unless a
   * unique value held by another key keeps it out (unique.ts).
   */
  private async writeRow(
    c: pg.Client,
    e: DecodedEvent,
    incoming: Version,
    mode: 'insert' | 'update',
    logged: ConflictRecord[],
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      await c.query('SAVEPOINT peer_row');
      try {
        const res = await c.query(writeRowSql(this.table, e.event, mode, e.key));
        await c.query('RELEASE SAVEPOINT peer_row');
        if (res.rowCount === 0) return false;
        await this.recordVersion(c, e.key, incoming, false, e.event.event_id);
        return true;
      } catch (err) {
        await c.query('ROLLBACK TO SAVEPOINT peer_row');
        const index = uniqueViolation(err, this.table);
        if (!index || attempt > 8) throw err;
        const outcome = await resolveUnique(c, {
          table: this.table,
          link: this.link,
          event: e,
          incoming,
          index,
          current: (key) => this.current(c, key),
        });
        logged.push(...outcome.logged);
        if (!outcome.retry) return true;
      }
    }
  }

  /** The key's new version beside the table; the local deletes it superseded are folded in. */
  private async recordVersion(c: pg.Client, key: Row, v: Version, deleted: boolean, eventId: string) {
    await c.query(writeMetaSql(this.table, key, v, deleted, eventId));
    await c.query(foldLocalDeletesSql(this.table, key));
  }

  private async current(c: pg.Client, key: Row): Promise<Current> {
    const t = this.table;
    // lock first, then read: a row another session changed meanwhile is read in its new version
    await c.query(lockRowSql(t, key));
    const row = (
      await c.query<{ json: unknown; ts_us: string | null; roident: number | null }>(rowFactsSql(t, key))
    ).rows[0];
    const meta = (
      await c.query<{ node: string; ts_us: string | null; lsn: string; seq: string; deleted: boolean }>(
        metaFactsSql(t, key),
      )
    ).rows[0];
    const big = (s: string | null | undefined) => (s == null ? null : BigInt(s));
    const localDelete = row
      ? undefined
      : (await c.query<{ ts_us: string | null }>(localDeleteSql(t, key))).rows[0];
    return currentVersion(
      this.link.to,
      {
        row: row && { json: row.json, tsUs: big(row.ts_us), roident: row.roident },
        meta: meta && {
          node: meta.node,
          tsUs: big(meta.ts_us),
          lsn: BigInt(meta.lsn),
          seq: BigInt(meta.seq),
          deleted: meta.deleted,
        },
        localDeleteTsUs: big(localDelete?.ts_us),
      },
      this.link.order,
    );
  }

  private async log(
    c: pg.Client,
    e: DecodedEvent,
    conflict: { kind: string; resolution: string },
    current: Current,
    incoming: Version,
  ): Promise<ConflictRecord> {
    const record: ConflictRecord = {
      link: this.link.label,
      ...conflict,
      key: e.key,
      localVersion: current.state === 'none' ? undefined : current.version,
      remoteVersion: incoming,
      localRow: current.state === 'live' ? current.row : undefined,
      remoteRow: e.event.after ?? undefined,
      eventId: e.event.event_id,
    };
    await c.query(logConflictSql(this.table, record));
    return record;
  }

  /** After the commit: the metric and one audit line per conflict (versions, no row values). */
  private report(r: ConflictRecord): void {
    this.conflicts?.inc({ link: this.link.label, kind: r.kind, resolution: r.resolution });
    audit(
      this.logger,
      'warn',
      {
        kind: 'apply',
        status: 'ok',
        counts: { conflicts: 1 },
        durationMs: 0,
        conflict: r.kind,
        resolution: r.resolution,
        key: JSON.stringify(r.key, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        ...(r.otherKey
          ? {
              otherKey: JSON.stringify(r.otherKey, (_k, v: unknown) =>
                typeof v === 'bigint' ? v.toString() : v,
              ),
            }
          : {}),
        localVersion: versionJson(r.localVersion),
        remoteVersion: versionJson(r.remoteVersion),
        eventId: r.eventId,
      },
      `peer conflict ${r.kind}: ${r.resolution} (both versions in ${this.link.table}_pgcdc_conflicts)`,
    );
  }
}

/**
 * The batch in key order (stable: one key's events keep their order): every link into a node
 * locks rows in the same order, so two links applying at once wait on each other, never deadlock.
 */
export function byKey(events: DecodedEvent[], keyColumns: string[]): DecodedEvent[] {
  const keyOf = (e: DecodedEvent) => keyColumns.map((k) => e.key[k]);
  const cmp = (a: unknown, b: unknown) => {
    const [x, y] = [
      typeof a === 'bigint' || typeof a === 'number' ? a : String(a),
      typeof b === 'bigint' || typeof b === 'number' ? b : String(b),
    ];
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return events
    .map((e, i) => ({ e, i, k: keyOf(e) }))
    .sort((a, b) => {
      for (let j = 0; j < a.k.length; j++) {
        const c = cmp(a.k[j], b.k[j]);
        if (c !== 0) return c;
      }
      return a.i - b.i;
    })
    .map((x) => x.e);
}
