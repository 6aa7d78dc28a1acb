// MySQL/MariaDB target matched by its own unique key (`mapping.match`): the twin of
// consumers/postgres/matched-sink.ts with the same semantics. The target keeps its AUTO_INCREMENT
// primary key (a CMS's uid) and pgcdc finds a source row's twin by the match key. The first event
// of a source row adopts the target row holding its match value (a row the target made itself) or
// creates one; the link (match.ts, table `<table>_pgcdc_links`) then follows the source row, so a
// later change of the match value itself updates the right row. Events are applied one by one in
// one transaction per batch, each under a savepoint, guarded by the position stored in the link;
// only linked rows are ever changed, deleted or soft-deleted (owned rows only).
//
// When another row holds the match value an event needs:
// - a row linked to another live source row, written from a LATER source position: at that
//   position our row no longer had the value, so a later event of ours replaces this one: skipped;
// - one written from an EARLIER position: that row's change that releases the value is still to
//   come on another partition: the batch stops here and is retried later, so email swaps converge;
// - a row linked to a deleted (or filtered-out) source row: its value is stale and is released
//   (set to NULL) for the live row that holds it at the source;
// - a row the target made itself, when our source row already has a row: dead-lettered
//   (`match-conflict`: the operator decides which one is right).
import mysql from 'mysql2/promise';
import type { MysqlTargetConfig } from '../../pipeline/config/schema.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { ApplyResult, DecodedEvent, Sink } from '../sink.ts';
import { classifyMysqlError, mysqlErrorText, mysqlErrorTextWithoutValues } from './errors.ts';
import {
  createLinksTableSql,
  createMatchedTableSql,
  holderSql,
  insertRowSql,
  linkSql,
  linksName,
  matchedMysqlTableOf,
  matchTableProblem,
  releaseMatchSql,
  removeRowSql,
  tableFactsSql,
  truncateMatchedSql,
  updateRowSql,
  upsertLinkSql,
  type MatchedMysqlTable,
} from './match.ts';
import { connectMysql } from './setup.ts';
import type { MysqlTimeouts } from './sink.ts';
import { sessionSql, type Statement } from './sql.ts';
import { UnrepresentableValueError } from './types.ts';

type Outcome =
  { kind: 'ok' } | { kind: 'dead'; reason: string; error: string } | { kind: 'retry'; error: string };
const OK: Outcome = { kind: 'ok' };

interface Pos {
  lsn: bigint;
  seq: bigint;
}
const later = (a: Pos, b: Pos) => a.lsn > b.lsn || (a.lsn === b.lsn && a.seq > b.seq);
type Rows = mysql.RowDataPacket[];
type Header = mysql.ResultSetHeader;
/** a value as mysql2 returns it (strings, numbers; bigNumberStrings) as text */
const text = (v: unknown): string | null =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : null;

export { matchedMysqlTableOf };

export class MatchedMysqlSink implements Sink {
  readonly kind = 'mysql';
  private conn: mysql.Connection | undefined;
  private closed = false;

  constructor(
    private readonly cfg: MysqlTargetConfig,
    private readonly table: MatchedMysqlTable,
    private readonly logger: Logger,
    private readonly timeouts: MysqlTimeouts,
  ) {}

  private async run<T = Header>(c: mysql.Connection, st: Statement | string): Promise<T> {
    const s = typeof st === 'string' ? { sql: st, values: [] } : st;
    const [res] = await c.query({ sql: s.sql, values: s.values, timeout: this.timeouts.statementTimeoutMs });
    return res as T;
  }

  async open(): Promise<void> {
    if (this.closed) throw new PgcdcError(`target ${this.cfg.name}: sink is closed`);
    const c = await connectMysql(this.cfg, this.timeouts.connectTimeoutMs);
    c.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'target connection error'));
    try {
      for (const s of sessionSql(this.timeouts.lockTimeoutMs / 1000)) await this.run(c, s);
      const t = this.table;
      const ddl = [createMatchedTableSql(t, 'utf8mb4_bin'), createLinksTableSql(t, 'utf8mb4_bin')];
      if (this.cfg.createTable) for (const s of ddl) await this.run(c, s);
      const facts = (await this.run<Rows>(c, tableFactsSql(t))).map((r) => ({
        name: String(r.name),
        collation: text(r.collation),
        extra: String(r.extra),
        key: String(r.key),
      }));
      const problem = facts.length === 0 ? `table ${t.table} is missing` : matchTableProblem(t, facts);
      if (problem)
        throw new PgcdcError(`target ${this.cfg.name}: ${problem}`, {
          hint: `set createTable: true or fix the table (pgcdc check; docs/shaping.md): ${ddl[0]!.replace(/\s+/g, ' ')}`,
        });
      const [linksTable] = await this.run<Rows>(c, {
        sql: 'SELECT 1 AS ok FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        values: [linksName(t)],
      });
      if (!linksTable)
        throw new PgcdcError(`target ${this.cfg.name}: table ${linksName(t)} is missing`, {
          hint: `set createTable: true or create it: ${ddl[1]!.replace(/\s+/g, ' ')}`,
        });
    } catch (err) {
      await c.end().catch(() => undefined);
      if (!(err instanceof PgcdcError) && classifyMysqlError(err) === 'transient')
        throw new UnavailableError(`target ${this.cfg.name}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    this.conn = c;
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
    const c = this.conn!;
    const result: ApplyResult = { applied: [], deadLetters: [] };
    try {
      await this.run(c, 'BEGIN');
      for (const e of events) {
        await this.run(c, 'SAVEPOINT ev');
        let out: Outcome;
        try {
          out = await this.applyOne(c, e);
          await this.run(c, 'RELEASE SAVEPOINT ev');
        } catch (err) {
          out = await this.failed(c, err);
        }
        if (out.kind === 'retry') {
          result.retryFrom = { offset: e.offset, reason: 'secondary-unique', error: out.error };
          break;
        }
        if (out.kind === 'dead')
          result.deadLetters.push({ offset: e.offset, reason: out.reason, error: out.error });
        else result.applied.push(e);
      }
      await this.run(c, 'COMMIT');
      return result;
    } catch (err) {
      await this.run(c, 'ROLLBACK').catch(() => undefined);
      if (err instanceof PgcdcError) throw err;
      if (classifyMysqlError(err) === 'transient') {
        await this.disconnect();
        throw new UnavailableError(`target ${this.cfg.name}: ${(err as Error).message}`, { cause: err });
      }
      throw new PgcdcError(`target ${this.cfg.name}: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
        hint: 'the target table or grants do not fit the events (pgcdc check says what); fix them, delivery resumes by itself',
      });
    }
  }

  /** An event's statement failed: back to its savepoint, and what becomes of it (or rethrow). */
  private async failed(c: mysql.Connection, err: unknown): Promise<Outcome> {
    if (err instanceof UnrepresentableValueError) {
      await this.run(c, 'ROLLBACK TO SAVEPOINT ev');
      return { kind: 'dead', reason: 'unrepresentable', error: err.message };
    }
    const kind = classifyMysqlError(err);
    if (kind === 'transient' || kind === 'blocking') throw err;
    await this.run(c, 'ROLLBACK TO SAVEPOINT ev');
    if (kind === 'rejected') return { kind: 'dead', reason: 'rejected', error: mysqlErrorText(err) };
    return { kind: 'retry', error: mysqlErrorTextWithoutValues(err) }; // a concurrent writer: try again
  }

  private async applyOne(c: mysql.Connection, e: DecodedEvent): Promise<Outcome> {
    const t = this.table;
    const ev = e.event;
    const pos = { lsn: ev.source.commit_lsn, seq: ev.source.seq, eventId: ev.event_id };
    if (ev.op === 't') {
      for (const s of truncateMatchedSql(t, pos, ev.source.ts_us)) await this.run(c, s);
      return OK;
    }
    const [found] = await this.run<Rows>(c, linkSql(t, e.key));
    const link = found && {
      targetKey: text(found.target_key),
      deleted: Number(found.deleted) === 1,
      lsn: BigInt(String(found.lsn)),
      seq: BigInt(String(found.seq)),
    };
    if (link && !later(pos, link)) return OK; // this key was written from a later position
    if (ev.op === 'd') {
      if (link?.targetKey && !link.deleted)
        await this.run(c, removeRowSql(t, link.targetKey, ev.source.ts_us));
      const targetKey = t.soft ? (link?.targetKey ?? null) : null;
      await this.run(c, upsertLinkSql(t, e.key, { targetKey, deleted: true }, pos));
      return OK;
    }
    const row = ev.after!;
    let mine = link?.targetKey ?? null;
    let adopt: string | undefined;
    const value = ev.unchanged.includes(t.match.column) ? null : (row[t.match.column] ?? null);
    if (value !== null) {
      const [h] = await this.run<Rows>(c, holderSql(t, value));
      const holder = h && String(h.target_key);
      if (holder !== undefined && holder !== mine) {
        if (h!.owner_lsn === null) {
          if (mine !== null && !link?.deleted)
            return {
              kind: 'dead',
              reason: 'match-conflict',
              error: `a row the target made itself (${t.targetKey} ${holder}) holds the ${t.match.column} of this row`,
            };
          adopt = holder; // the twin: adopted by the first event (or a revived row) of this key
        } else if (Number(h!.owner_deleted) === 1) {
          await this.run(c, releaseMatchSql(t, holder));
        } else if (later({ lsn: BigInt(String(h!.owner_lsn)), seq: BigInt(String(h!.owner_seq)) }, pos)) {
          return OK; // an intermediate state: a later event of this key replaces it
        } else {
          return {
            kind: 'retry',
            error: `${t.match.column} is held by ${t.targetKey} ${holder}, whose change that releases it has not arrived yet`,
          };
        }
      }
    }
    if (mine !== null && adopt === undefined) {
      const r = await this.run(c, updateRowSql(t, row, ev.unchanged, mine));
      if (r.affectedRows === 0) mine = null; // removed by the target system: created again below
    } else if (adopt !== undefined) {
      if (ev.unchanged.length > 0) return missing(e);
      await this.run(c, updateRowSql(t, row, [], adopt));
      mine = adopt;
    }
    if (mine === null) {
      if (ev.unchanged.length > 0) return missing(e);
      mine = String((await this.run(c, insertRowSql(t, row))).insertId);
    }
    await this.run(c, upsertLinkSql(t, e.key, { targetKey: mine, deleted: false }, pos));
    return OK;
  }
}

function missing(e: DecodedEvent): Outcome {
  return {
    kind: 'dead',
    reason: 'missing-row',
    error: `update of ${JSON.stringify(Object.values(e.key).map(String))} carries no value for unchanged column(s) ${e.event.unchanged.join(', ')} and the row is missing at the target; re-snapshot to repair`,
  };
}
