// PostgreSQL target: applies a batch in one transaction with position-guarded statements.
// Fast path: the whole batch in one go, folded to one change per key and sent as ONE statement
// outside a transaction block (batch-sql.ts: one round trip; a named prepared statement of the
// connection). If the target refuses something, the batch is replayed
// event by event under savepoints: rejected rows are dead-lettered, and a row blocked by a
// secondary unique constraint (e.g. two users swapping emails across partitions) commits the
// prefix and asks to retry the rest later, once the other partition has caught up. Deletes leave
// a marker (deleted.ts) that keeps older upserts of the key out; markers are pruned at open and
// then hourly. A truncate removes the rows older than it and leaves the table's mark
// (truncated.ts), which keeps every older upsert out.
import pg from 'pg';
import type { PostgresTargetConfig } from '../../pipeline/config/schema.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import { audit } from '../../pipeline/observability/audit.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import type { TableContract } from '../../schemas/contract.ts';
import type { ApplyResult, DeadLetter, DecodedEvent, Sink } from '../sink.ts';
import { createDeletedTableSql, deletedTableName, pruneDeletedSql } from './deleted.ts';
import { classifyPgError } from './errors.ts';
import { softDeleteSql, type SoftDelete } from './soft-delete.ts';
import { createTruncatedTableSql, truncateSql, truncatedTableName } from './truncated.ts';
import { UNIQUE_INDEX_SQL, holderPositionSql, uniqueIndexFromRows, type UniqueIndex } from './unique.ts';
import {
  applySql,
  collapseBatch,
  createTableSql,
  deletedLaterSql,
  existingKeysSql,
  existsSql,
  type CollapsedBatch,
  type TargetTable,
} from './sql.ts';
import { batchSql } from './batch-sql.ts';
import { PreparedStatements } from './prepared.ts';
import { groupByUnchanged, splitTruncates } from '../batch.ts';

const PRUNE_INTERVAL_MS = 3_600_000;
/**
 * Both paths wait this long at most for a lock. The set-based path: partitions are applied at the
 * same time on several connections (consumers/group/lanes.ts), and two of them can wait on each
 * other for a unique value (users swapping emails across partitions), which Postgres would only
 * break after deadlock_timeout (1 s); past it the batch goes event by event, committing the prefix
 * it could apply. The event-by-event path: an event that waits for a lock longer (most often
 * another lane's transaction holding the unique value it takes, while that lane waits for a value
 * this one holds) is a wait like a secondary-unique conflict: the prefix is committed, which frees
 * what this lane held, and the event is retried (`lock-wait`, never dead-lettered for it:
 * consumers/group/conflicts.ts).
 */
const LOCK_WAIT_MS = 100;
/** Every target transaction of this sink starts so: its lock waits bounded by LOCK_WAIT_MS. */
const BEGIN_BOUNDED = `BEGIN; SET LOCAL lock_timeout = ${LOCK_WAIT_MS}`;
/** Statements outside a transaction block (the one-statement batch) are bounded by the session. */
const SESSION_BOUNDED = `SET lock_timeout = ${LOCK_WAIT_MS}`;
const LOCK_NOT_AVAILABLE = '55P03';
const LOCK_WAITS = new Set([LOCK_NOT_AVAILABLE, '40P01']);

export class PostgresSink implements Sink {
  readonly kind = 'postgres';
  private client: pg.Client | undefined;
  private readonly table: TargetTable;
  private pkConstraint = '';
  private closed = false;
  /** mapping.deletePolicy soft: deletes mark the row (soft-delete.ts), one by one */
  private readonly soft: SoftDelete | undefined;

  constructor(
    private readonly cfg: PostgresTargetConfig,
    contract: TableContract,
    private readonly logger: Logger,
    /** the one Postgres connection factory (target role: statement and lock timeouts) */
    private readonly pg: PgConnections = createPgConnections(),
  ) {
    this.table = {
      schema: cfg.schema,
      table: cfg.table,
      columns: contract.columns,
      keyColumns: contract.keyColumns,
    };
    const m = cfg.mapping; // compose passes this table's own mapping (pipeline/config/mapping.ts mappingFor)
    this.soft = m && !Array.isArray(m) && m.deletePolicy === 'soft' ? m.softDelete : undefined;
  }

  async open(): Promise<void> {
    if (this.closed) throw new PgcdcError(`target ${this.cfg.name}: sink is closed`);
    const client = this.pg.client(this.cfg.url, 'target', `pgcdc-sink:${this.cfg.name}`);
    client.on('error', (err) => this.logger.warn({ err: err.message }, 'target connection error'));
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new UnavailableError(`target ${this.cfg.name}: cannot connect: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      if (this.cfg.createTable) {
        await client.query(createTableSql(this.table));
        await client.query(createDeletedTableSql(this.table));
        await client.query(createTruncatedTableSql(this.table));
      }
      const pk = await client.query<{ conname: string }>(
        `SELECT conname FROM pg_constraint WHERE contype = 'p' AND conrelid = to_regclass($1)`,
        [`${pg.escapeIdentifier(this.cfg.schema)}.${pg.escapeIdentifier(this.cfg.table)}`],
      );
      if (!pk.rows[0]) {
        throw new PgcdcError(
          `target ${this.cfg.name}: table ${this.cfg.schema}.${this.cfg.table} is missing or has no primary key`,
          {
            hint: 'set createTable: true or create it with the columns of schemas/avro/users-value.avsc plus _pgcdc_lsn, _pgcdc_seq, _pgcdc_event_id',
          },
        );
      }
      this.pkConstraint = pk.rows[0].conname;
      await this.checkDeletedTable(client);
      await this.prune(client);
      await client.query(SESSION_BOUNDED);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.prepared.clear(); // a new connection has none
    this.client = client;
  }

  /** The delete-marker and truncate-mark tables beside the target table must exist. */
  private async checkDeletedTable(client: pg.Client): Promise<void> {
    for (const [name, what, ddl] of [
      [deletedTableName(this.table), 'delete-marker', createDeletedTableSql(this.table)],
      [truncatedTableName(this.table), 'truncate-mark', createTruncatedTableSql(this.table)],
    ] as const) {
      const r = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [
        `${pg.escapeIdentifier(this.cfg.schema)}.${pg.escapeIdentifier(name)}`,
      ]);
      if (!r.rows[0]?.ok) {
        throw new PgcdcError(
          `target ${this.cfg.name}: the ${what} table ${this.cfg.schema}.${name} is missing`,
          {
            hint: `set createTable: true or create it: ${ddl.replace(/\s+/g, ' ')}`,
          },
        );
      }
    }
  }

  private prunedAt = 0;
  /** the set-based statements, prepared on the current connection */
  private readonly prepared = new PreparedStatements();

  /**
   * Drops delete markers that protect nothing any more (deleted.ts); at most once an hour, in a
   * transaction of its own with the target role's lock timeout (not the apply's 100 ms).
   */
  private async prune(client: pg.Client): Promise<void> {
    if (Date.now() - this.prunedAt < PRUNE_INTERVAL_MS) return;
    this.prunedAt = Date.now();
    let pruned = 0;
    await client.query('BEGIN; SET LOCAL lock_timeout = DEFAULT');
    try {
      for (const sql of pruneDeletedSql(this.table, this.cfg.deleteMarkerRetentionHours || undefined))
        pruned += (await client.query(sql)).rowCount ?? 0;
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    if (pruned > 0) this.logger.info({ pruned }, 'delete markers pruned');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
  }

  private async disconnect(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  async apply(events: DecodedEvent[]): Promise<ApplyResult> {
    if (!this.client) await this.open();
    try {
      const fast = await this.applyFast(events).catch((err: unknown) => {
        if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE) return undefined;
        throw err;
      });
      // undefined: a lock waited on too long, or a partial update found no row to update
      const result = fast ?? (await this.applyCareful(events));
      await this.prune(this.client!);
      return result;
    } catch (err) {
      const kind = classifyPgError(err, this.pkConstraint);
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
      hint: 'the target table or permissions do not fit the events; fix them, delivery resumes by itself',
    });
  }

  private async applyFast(events: DecodedEvent[]): Promise<ApplyResult | undefined> {
    const c = this.client!;
    const result: ApplyResult = { applied: [], deadLetters: [] };
    // A truncate is applied by position (truncated.ts), so it commutes with the row events: it
    // goes first, and the guarded statements after it let only the rows newer than it land.
    const { truncates, rows } = splitTruncates(events);
    const collapsed =
      this.table.keyColumns.length === 1 && !this.soft
        ? collapseBatch(rows, this.table.keyColumns)
        : undefined;
    if (collapsed && truncates.length === 0) {
      // The common batch: one statement outside a transaction block (its own transaction), one
      // round trip instead of BEGIN, a statement per part and COMMIT. Its lock waits are bounded
      // by the session's lock_timeout (open). When a partial update found no row, what it applied
      // stays (every row is guarded by its position) and the batch is replayed event by event.
      if (!(await this.applyCollapsed(c, collapsed))) return undefined;
      return { applied: events, deadLetters: [] };
    }
    await c.query(BEGIN_BOUNDED);
    try {
      for (const e of truncates) await this.truncate(c, e);
      if (collapsed) {
        if (!(await this.applyCollapsed(c, collapsed))) {
          await c.query('ROLLBACK');
          return undefined;
        }
        result.applied.push(...events);
      } else {
        for (const e of rows) {
          const missing = await this.applyOne(c, e);
          if (missing) result.deadLetters.push(missing);
          else result.applied.push(e);
        }
      }
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Set-based: one guarded upsert, one update per set of unchanged columns and one delete for the
   * whole batch, as one statement (batch-sql.ts); false when a partial update found no row to
   * update (the batch is then replayed event by event, which dead-letters that event).
   */
  private async applyCollapsed(c: pg.Client, b: CollapsedBatch<DecodedEvent>): Promise<boolean> {
    const { upserts, partials, deletes } = b;
    if (upserts.length + partials.length + deletes.length === 0) return true;
    const groups = groupByUnchanged(partials);
    const res = await this.prepared.run<Record<string, string>>(
      c,
      batchSql(this.table, {
        upserts: upserts.map((e) => e.event),
        partialGroups: groups.map((g) => g.map((e) => e.event)),
        deletes,
      }),
    );
    if (partials.length === 0) return true;
    const key = this.table.keyColumns[0]!;
    const updated = new Set(res.rows.map((r) => r[key]));
    const notUpdated = partials.filter((e) => !updated.has(String(e.key[key])));
    if (notUpdated.length === 0) return true;
    // not updated: newer at the target (fine), or missing there (dead letter, per event)
    const exists = await this.prepared.run(c, existingKeysSql(this.table, notUpdated));
    return exists.rowCount === notUpdated.length;
  }

  /** Applies one event; returns a dead letter when a partial update finds no row to update. */
  private async applyOne(c: pg.Client, e: DecodedEvent) {
    if (e.event.op === 't') return this.truncate(c, e);
    const stmt =
      e.event.op === 'd' && this.soft
        ? softDeleteSql(this.table, this.soft, e.event, e.key)
        : applySql(this.table, e.event, e.key);
    const res = await c.query(stmt);
    if (e.event.unchanged.length > 0 && res.rowCount === 0) {
      const exists = await c.query(existsSql(this.table, e.key));
      const deletedLater =
        exists.rowCount === 0 && (await c.query(deletedLaterSql(this.table, e.key, e.event)));
      if (deletedLater && deletedLater.rowCount === 0) {
        return {
          offset: e.offset,
          reason: 'missing-row',
          error: `update of ${JSON.stringify(String(e.key.id))} carries no value for unchanged column(s) ${e.event.unchanged.join(', ')} and the row is missing at the target; re-snapshot to repair`,
        };
      }
    }
    return undefined;
  }

  /** A truncate at the event's position: the rows older than it go, its mark stays (truncated.ts). */
  private async truncate(c: pg.Client, e: DecodedEvent): Promise<undefined> {
    const started = Date.now();
    const res = await c.query(truncateSql(this.table, e.event));
    audit(
      this.logger,
      'info',
      {
        kind: 'apply',
        status: 'ok',
        counts: { truncates: 1, rowsRemoved: res.rowCount ?? 0 },
        durationMs: Date.now() - started,
        eventId: e.event.event_id,
      },
      'truncate applied: the rows older than it removed, older events kept out from now on',
    );
    return undefined;
  }

  private readonly uniqueIndexes = new Map<string, UniqueIndex | undefined>();

  /**
   * Does the row that holds e's value for the unique index `name` (a constraint's or a plain
   * unique index, on columns or expressions) come from a later source position than e?
   */
  private async supersededByHolder(c: pg.Client, e: DecodedEvent, name: string): Promise<boolean> {
    const row = e.event.after;
    if (!row || !name) return false;
    if (!this.uniqueIndexes.has(name)) {
      const r = await c.query<{ part: string; predicate: string | null }>(UNIQUE_INDEX_SQL, [
        name,
        `${pg.escapeIdentifier(this.cfg.schema)}.${pg.escapeIdentifier(this.cfg.table)}`,
      ]);
      this.uniqueIndexes.set(name, uniqueIndexFromRows(r.rows));
    }
    const index = this.uniqueIndexes.get(name);
    if (!index) return false;
    const holder = await c.query<{ lsn: string; seq: string }>(
      holderPositionSql(this.table, index, row, e.key),
    );
    const h = holder.rows[0];
    if (!h) return false;
    const [lsn, seq] = [BigInt(h.lsn), BigInt(h.seq)];
    const { commit_lsn, seq: eseq } = e.event.source;
    return lsn > commit_lsn || (lsn === commit_lsn && seq > eseq);
  }

  /**
   * Event by event, each under a savepoint (set with BEGIN, then released and set again for the
   * next event in one round trip; a rolled back savepoint stays for the next event): rejected rows
   * are dead-lettered, a secondary-unique conflict or a long lock wait commits the prefix and asks
   * to retry from there.
   */
  private async applyCareful(events: DecodedEvent[]): Promise<ApplyResult> {
    const c = this.client!;
    const result: ApplyResult = { applied: [], deadLetters: [] };
    await c.query(`${BEGIN_BOUNDED}; SAVEPOINT ev`);
    try {
      for (const [i, e] of events.entries()) {
        let missing: DeadLetter | undefined;
        try {
          missing = await this.applyOne(c, e);
        } catch (err) {
          await c.query('ROLLBACK TO SAVEPOINT ev');
          const kind = classifyPgError(err, this.pkConstraint);
          const message = (err as Error).message;
          if (LOCK_WAITS.has((err as { code?: string }).code ?? '')) {
            result.retryFrom = { offset: e.offset, reason: 'lock-wait', error: message };
            break;
          }
          if (kind === 'rejected') {
            result.deadLetters.push({ offset: e.offset, reason: 'rejected', error: message, cause: err });
            continue;
          }
          if (kind === 'secondary-unique') {
            if (await this.supersededByHolder(c, e, (err as { constraint?: string }).constraint ?? '')) {
              // The row holding this value was written from a LATER source position, so at that
              // time our row no longer had it: a later event of our row (still to come in this
              // partition) replaces this intermediate state. Skipping it is what keeps two
              // partitions from waiting on each other forever.
              result.applied.push(e);
              continue;
            }
            result.retryFrom = { offset: e.offset, reason: 'secondary-unique', error: message };
            break;
          }
          throw err;
        }
        if (missing) result.deadLetters.push(missing);
        else result.applied.push(e);
        if (i < events.length - 1) await c.query('RELEASE SAVEPOINT ev; SAVEPOINT ev');
      }
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      const kind = classifyPgError(err, this.pkConstraint);
      if (kind === 'transient') {
        await this.disconnect();
        throw new UnavailableError(`target ${this.cfg.name}: ${(err as Error).message}`, { cause: err });
      }
      throw this.blocking(err);
    }
  }
}
