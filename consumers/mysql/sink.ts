// MySQL / MariaDB target: applies a batch in one transaction with position-guarded statements
// (sql.ts), the same guarantees as the PostgreSQL sink. Fast path: the batch folded to one change
// per key and written set-based (one multi-row upsert, one delete and one marker insert, one
// update per set of unchanged columns) in two round trips: the reads that decide which upserts
// are written and whether every partial update finds its row (truncate mark, delete markers, the
// partial updates' rows, locked; with the batch's truncates and BEGIN), then every write and
// COMMIT (a batch of deletes and truncates only: one round trip). If the target refuses something, the batch is replayed
// event by event under savepoints: rejected rows (strict mode, CHECK, too long, a value MySQL
// cannot hold) are dead-lettered with the error; a row blocked by a secondary unique key commits
// the prefix and asks to retry the rest later, unless the row holding the value was written from
// a later position. Deletes leave markers and truncates the table's mark (tables beside the
// target), which keep older upserts out; markers are pruned at open and then hourly.
// Lanes (`applyConnections`, consumers/group/lanes.ts): several sinks of a target, a connection
// each, apply partitions at the same time. Two of them can wait on each other (a unique value, a
// marker): InnoDB breaks a deadlock at once by rolling the victim's whole transaction back (1213),
// a lock wait timeout rolls back a statement (1205). Neither fails the target: the set-based batch
// goes event by event, which commits what it can and retries the rest as a `lock-wait` (lockWait).
import mysql from 'mysql2/promise';
import type { MysqlTargetConfig } from '../../pipeline/config/schema.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import { audit } from '../../pipeline/observability/audit.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { TableContract } from '../../schemas/contract.ts';
import { groupByUnchanged, splitTruncates } from '../batch.ts';
import { collapseBatch } from '../postgres/sql.ts';
import type { ApplyResult, DeadLetter, DecodedEvent, Sink } from '../sink.ts';
import { classifyMysqlError, lockConflictOf, mysqlErrorText, mysqlErrorTextWithoutValues } from './errors.ts';
import { MarkReader, MarkSnapshot, markReads } from './marks.ts';
import {
  multiDeleteSql,
  multiPartialUpdateSql,
  multiUpsertSql,
  PARTIALS_PER_STATEMENT,
  partialUpdateSql,
  pruneSql,
  rowPositionsSql,
  rowValues,
  sessionSql,
  truncateSql,
  type Statement,
} from './sql.ts';
import { checkSessionModes, checkTables, connectMysql, createTables } from './setup.ts';
import { softDeleteSql, type SoftDelete } from './soft.ts';
import type { MysqlTable } from './table.ts';
import { UnrepresentableValueError } from './types.ts';
import { UniqueHolders } from './unique.ts';

const PRUNE_INTERVAL_MS = 3_600_000;
const SQL_MODES = 'SELECT @@SESSION.sql_mode AS session, @@GLOBAL.sql_mode AS global';

export interface MysqlTimeouts {
  connectTimeoutMs: number;
  /** a statement taking longer fails the batch (retried): below kafka.sessionTimeoutMs */
  statementTimeoutMs: number;
  /** innodb_lock_wait_timeout of the session */
  lockTimeoutMs: number;
}

type Conn = mysql.Connection;
type Header = mysql.ResultSetHeader;
type Rows = mysql.RowDataPacket[];

export class MysqlSink implements Sink {
  readonly kind = 'mysql';
  private conn: Conn | undefined;
  private readonly table: MysqlTable;
  private closed = false;
  private prunedAt = 0;
  private readonly holders: UniqueHolders;

  constructor(
    private readonly cfg: MysqlTargetConfig,
    contract: TableContract,
    private readonly logger: Logger,
    private readonly timeouts: MysqlTimeouts,
    /** mapping.deletePolicy soft: deletes mark the row (soft.ts), event by event as at Postgres */
    private readonly soft?: SoftDelete,
  ) {
    this.table = { table: cfg.table, columns: contract.columns, keyColumns: contract.keyColumns };
    this.holders = new UniqueHolders(this.table);
  }

  private async run<T = Header>(c: Conn, st: Statement | string): Promise<T> {
    const s = typeof st === 'string' ? { sql: st, values: [] } : st;
    const [res] = await c.query({ sql: s.sql, values: s.values, timeout: this.timeouts.statementTimeoutMs });
    return res as T;
  }

  /**
   * Several statements in one round trip (the connection allows multiple statements; every value
   * is a literal that reads the same in any sql_mode: literals.ts, and the session's own sql_mode
   * has no NO_BACKSLASH_ESCAPES either). The server stops at the first failing statement and the
   * error is thrown. Returns one result per statement.
   */
  private async many(c: Conn, sts: Statement[]): Promise<unknown[]> {
    // a loop, not flatMap: flatMap of a batch's ~10,000 values cost more than building them
    const values: unknown[] = [];
    for (const s of sts) for (const v of s.values) values.push(v);
    const [res] = await c.query({
      sql: sts.map((s) => s.sql).join(';\n'),
      values,
      timeout: this.timeouts.statementTimeoutMs,
    });
    return sts.length === 1 ? [res] : (res as unknown[]);
  }

  async open(): Promise<void> {
    if (this.closed) throw new PgcdcError(`target ${this.cfg.name}: sink is closed`);
    const c = await connectMysql(this.cfg, this.timeouts.connectTimeoutMs);
    c.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'target connection error'));
    try {
      const session = await this.many(
        c,
        [...sessionSql(this.timeouts.lockTimeoutMs / 1000), SQL_MODES].map((sql) => ({ sql, values: [] })),
      );
      checkSessionModes((session.at(-1) as mysql.RowDataPacket[])[0]!, this.cfg.name, this.logger);
      if (this.cfg.createTable) await createTables(c, this.table);
      await checkTables(c, this.table, this.cfg.name);
      await this.prune(c);
    } catch (err) {
      await c.end().catch(() => undefined);
      if (classifyMysqlError(err) === 'transient' && !(err instanceof PgcdcError))
        throw new UnavailableError(`target ${this.cfg.name}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    this.conn = c;
  }

  /**
   * Drops delete markers that protect nothing any more; at most once an hour. Autocommit
   * statements: one that meets another lane's batch in a lock conflict is tried again next batch.
   */
  private async prune(c: Conn): Promise<void> {
    if (Date.now() - this.prunedAt < PRUNE_INTERVAL_MS) return;
    this.prunedAt = Date.now();
    let pruned = 0;
    try {
      for (const s of pruneSql(this.table, this.cfg.deleteMarkerRetentionHours))
        pruned += (await this.run(c, s)).affectedRows;
    } catch (err) {
      if (!lockConflictOf(err)) throw err;
      this.prunedAt = 0;
    }
    if (pruned > 0) this.logger.info({ pruned }, 'delete markers pruned');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
  }

  private async disconnect(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    await c?.end().catch(() => c.destroy());
  }

  async apply(events: DecodedEvent[]): Promise<ApplyResult> {
    if (!this.conn) await this.open();
    try {
      // undefined: a value MySQL cannot hold, or a partial update found no row: per event then
      const fast = this.soft ? undefined : await this.applyFast(events);
      const result = fast ?? (await this.applyCareful(events));
      await this.prune(this.conn!);
      return result;
    } catch (err) {
      // a lock conflict with another lane (the set-based batch is rolled back): event by event,
      // which commits what it can and waits for the lock as a `lock-wait`
      if (lockConflictOf(err)) return this.applyCareful(events);
      const kind = classifyMysqlError(err);
      if (err instanceof PgcdcError) throw err;
      if (kind === 'transient') {
        await this.disconnect();
        throw new UnavailableError(`target ${this.cfg.name}: ${(err as Error).message}`, { cause: err });
      }
      if (kind === 'blocking') throw this.blocking(err);
      return this.applyCareful(events);
    }
  }

  private blocking(err: unknown): PgcdcError {
    return new PgcdcError(`target ${this.cfg.name}: ${(err as Error).message}`, {
      retriable: true,
      cause: err,
      hint: 'the target table or grants do not fit the events (pgcdc check says what); fix them, delivery resumes by itself',
    });
  }

  private async applyFast(events: DecodedEvent[]): Promise<ApplyResult | undefined> {
    const c = this.conn!;
    const t = this.table;
    const { truncates, rows: changes } = splitTruncates(events);
    const { upserts, partials, deletes } = collapseBatch(changes, t.keyColumns);
    let rows: unknown[][];
    let partialUpdates: { items: DecodedEvent[]; st: Statement }[];
    try {
      rows = upserts.map((e) => rowValues(t.columns, e.event.after!));
      partialUpdates = groupByUnchanged(partials, PARTIALS_PER_STATEMENT).map((items) => ({
        items,
        st: multiPartialUpdateSql(t, items),
      }));
    } catch (err) {
      if (err instanceof UnrepresentableValueError) return undefined;
      throw err;
    }
    // Round trip 1: begin, the truncates (applied by position, they commute with the row events:
    // first), the truncate mark (locked shared), the delete markers of the upserts' and partial
    // updates' keys, and the partial updates' rows (locked: updated next): which upserts are
    // written, and whether every partial update finds its row (else event by event). Without
    // upserts and partial updates these go with the writes in one round trip.
    const judged = [...upserts, ...partials];
    const truncating = truncates.map((e) => truncateSql(t, e.event));
    const head: Statement[] = [{ sql: 'BEGIN', values: [] }, ...truncating.flat(), ...markReads(t, judged)];
    if (partials.length > 0)
      head.push(
        rowPositionsSql(
          t,
          partials.map((p) => p.key),
          true,
        ),
      );
    try {
      const readsAlone = judged.length > 0;
      let live: number[] = [];
      let first: unknown[] = [];
      if (readsAlone) {
        first = await this.many(c, head);
        const [mark, markers, partialRows] = first.slice(1 + 3 * truncates.length) as mysql.RowDataPacket[][];
        const snapshot = new MarkSnapshot(t, mark!, markers);
        if (partials.length > 0 && snapshot.missing(partials, partialRows!)) {
          await this.run(c, 'ROLLBACK');
          return undefined;
        }
        live = snapshot.notSuperseded(upserts);
      }
      // Round trip 2: every write, and the commit.
      const writes: Statement[] = [];
      if (live.length > 0)
        writes.push(
          multiUpsertSql(
            t,
            live.map((i) => upserts[i]!.event),
            live.map((i) => rows[i]!),
          ),
        );
      writes.push(...partialUpdates.map((p) => p.st));
      if (deletes.length > 0) writes.push(...multiDeleteSql(t, deletes));
      writes.push({ sql: 'COMMIT', values: [] });
      const second = await this.many(c, readsAlone ? writes : [...head, ...writes]);
      this.auditTruncates(truncates, readsAlone ? first : second);
      return { applied: [...events], deadLetters: [] };
    } catch (err) {
      await this.run(c, 'ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Audit lines of the truncates run at the head of a batch (`results` of that round trip). */
  private auditTruncates(truncates: DecodedEvent[], results: unknown[]): void {
    truncates.forEach((e, i) => {
      const removed = (results[1 + 3 * i + 2] as Header).affectedRows;
      this.auditTruncate(e, removed, 0);
    });
  }

  /** A truncate at the event's position: the rows older than it removed, its mark kept. */
  private async truncate(c: Conn, e: DecodedEvent): Promise<void> {
    const started = Date.now();
    const [mark, markers, rows] = truncateSql(this.table, e.event);
    await this.run(c, mark!);
    await this.run(c, markers!);
    this.auditTruncate(e, (await this.run(c, rows!)).affectedRows, Date.now() - started);
  }

  private auditTruncate(e: DecodedEvent, removed: number, durationMs: number): void {
    audit(
      this.logger,
      'info',
      {
        kind: 'apply',
        status: 'ok',
        counts: { truncates: 1, rowsRemoved: removed },
        durationMs,
        eventId: e.event.event_id,
      },
      'truncate applied: the rows older than it removed, older events kept out from now on',
    );
  }

  /** Applies one event; returns a dead letter when an update of unsent columns finds no row. */
  private async applyOne(c: Conn, e: DecodedEvent, marks: MarkReader): Promise<DeadLetter | undefined> {
    const t = this.table;
    const op = e.event.op;
    switch (op) {
      case 't':
        await this.truncate(c, e);
        return undefined;
      case 'd':
        for (const s of this.soft ? softDeleteSql(t, this.soft, e) : multiDeleteSql(t, [e]))
          await this.run(c, s);
        return undefined;
      case 'c':
      case 'r':
      case 'u':
        break;
      default:
        return op satisfies never;
    }
    if (e.event.unchanged.length === 0) {
      const row = rowValues(t.columns, e.event.after!);
      if ((await marks.notSuperseded([e])).length === 1)
        await this.run(c, multiUpsertSql(t, [e.event], [row]));
      return undefined;
    }
    const res = await this.run(c, partialUpdateSql(t, e.event, e.key));
    if (res.affectedRows > 0 || !(await marks.missing([e]))) return undefined;
    return {
      offset: e.offset,
      reason: 'missing-row',
      error: `update of ${JSON.stringify(t.keyColumns.map((k) => String(e.key[k])).join(','))} carries no value for unchanged column(s) ${e.event.unchanged.join(', ')} and the row is missing at the target; re-snapshot to repair`,
    };
  }

  /**
   * Event `e` met a lock conflict (another lane waits for what this transaction holds, or a
   * transaction outside the pipeline holds the lock). A lock wait timeout rolled back its statement
   * only: the prefix commits, which frees what it held, and the rest is retried from `e`. A deadlock
   * rolled back the whole transaction (savepoints too): nothing was applied, and the batch is
   * retried from its first event; the position guard makes the second attempt idempotent. Either
   * way a `lock-wait`: retried, never dead-lettered (consumers/group/conflicts.ts).
   */
  private async lockWait(
    c: Conn,
    events: DecodedEvent[],
    e: DecodedEvent,
    result: ApplyResult,
    lock: 'deadlock' | 'lock-timeout',
    err: unknown,
  ): Promise<ApplyResult> {
    const error = mysqlErrorTextWithoutValues(err);
    const rolledBack =
      lock === 'deadlock' ||
      !(await this.run(c, 'ROLLBACK TO SAVEPOINT ev').then(
        () => true,
        () => false, // innodb_rollback_on_timeout: the whole transaction went, as on a deadlock
      ));
    if (rolledBack) {
      await this.run(c, 'ROLLBACK').catch(() => undefined);
      return {
        applied: [],
        deadLetters: [],
        retryFrom: { offset: events[0]!.offset, reason: 'lock-wait', error },
      };
    }
    await this.run(c, 'COMMIT');
    return { ...result, retryFrom: { offset: e.offset, reason: 'lock-wait', error } };
  }

  private async applyCareful(events: DecodedEvent[]): Promise<ApplyResult> {
    const c = this.conn!;
    const result: ApplyResult = { applied: [], deadLetters: [] };
    const marks = new MarkReader(this.table, (st) => this.run<mysql.RowDataPacket[]>(c, st));
    await this.run(c, 'BEGIN');
    try {
      for (const e of events) {
        await this.run(c, 'SAVEPOINT ev');
        try {
          const missing = await this.applyOne(c, e, marks);
          await this.run(c, 'RELEASE SAVEPOINT ev');
          if (missing) result.deadLetters.push(missing);
          else result.applied.push(e);
        } catch (err) {
          if (err instanceof UnrepresentableValueError) {
            await this.run(c, 'ROLLBACK TO SAVEPOINT ev');
            result.deadLetters.push({ offset: e.offset, reason: 'unrepresentable', error: err.message });
            continue;
          }
          const lock = lockConflictOf(err);
          if (lock) return this.lockWait(c, events, e, result, lock, err);
          const kind = classifyMysqlError(err);
          if (kind === 'transient' || kind === 'blocking') throw err;
          await this.run(c, 'ROLLBACK TO SAVEPOINT ev');
          if (kind === 'rejected') {
            result.deadLetters.push({
              offset: e.offset,
              reason: 'rejected',
              error: mysqlErrorText(err),
              cause: err,
            });
            continue;
          }
          if (await this.holders.supersede(e, (st) => this.run<Rows>(c, st))) {
            // the holder was written from a later position: this row's own later event (still to
            // come in this partition) replaces this intermediate state
            result.applied.push(e);
            continue;
          }
          result.retryFrom = {
            offset: e.offset,
            reason: 'secondary-unique',
            error: mysqlErrorTextWithoutValues(err),
          };
          break;
        }
      }
      await this.run(c, 'COMMIT');
      return result;
    } catch (err) {
      await this.run(c, 'ROLLBACK').catch(() => undefined);
      if (classifyMysqlError(err) === 'transient') {
        await this.disconnect();
        throw new UnavailableError(`target ${this.cfg.name}: ${(err as Error).message}`, { cause: err });
      }
      throw this.blocking(err);
    }
  }
}
