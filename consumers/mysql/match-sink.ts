// MySQL/MariaDB target matched by its own unique key (`mapping.match`): the twin of
// consumers/postgres/matched-sink.ts with the same rules (consumers/matching/decide.ts, applied by
// consumers/matching/apply.ts), this file being their I/O: the statements of match.ts on one
// connection. The target keeps its AUTO_INCREMENT primary key (a CMS's uid) and pgcdc finds a
// source row's twin by the match key; the link (table `<table>_pgcdc_links`) follows the source
// row, so a later change of the match value itself updates the right row. Events are applied one
// by one in one transaction per batch, each under a savepoint, guarded by the position stored in
// the link; only linked rows are ever changed, deleted or soft-deleted (owned rows only).
import mysql from 'mysql2/promise';
import type { MysqlTargetConfig } from '../../pipeline/config/schema.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import { applyMatched, matchedTarget, type MatchStore, type Outcome } from '../matching/apply.ts';
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
  ownerSql,
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

  private applyOne(c: mysql.Connection, e: DecodedEvent): Promise<Outcome> {
    return applyMatched(this.store(c), matchedTarget(this.table), e.key, e.event);
  }

  /** The matched rules' reads and writes (consumers/matching/apply.ts) as this table's SQL. */
  private store(c: mysql.Connection): MatchStore {
    const t = this.table;
    const run = <T = Header>(st: Statement | string) => this.run<T>(c, st);
    return {
      async link(key) {
        const [r] = await run<Rows>(linkSql(t, key));
        return (
          r && {
            targetKey: text(r.target_key),
            deleted: Number(r.deleted) === 1,
            lsn: BigInt(String(r.lsn)),
            seq: BigInt(String(r.seq)),
          }
        );
      },
      async holder(value) {
        const [h] = await run<Rows>(holderSql(t, value));
        return h && String(h.target_key);
      },
      async owner(targetKey) {
        const [l] = await run<Rows>(ownerSql(t, targetKey));
        return l
          ? { deleted: Number(l.deleted) === 1, lsn: BigInt(String(l.lsn)), seq: BigInt(String(l.seq)) }
          : null;
      },
      async upsertLink(key, link, pos) {
        await run(upsertLinkSql(t, key, link, pos));
      },
      async update(row, unchanged, targetKey) {
        return (await run(updateRowSql(t, row, unchanged, targetKey))).affectedRows > 0;
      },
      async insert(row) {
        return String((await run(insertRowSql(t, row))).insertId);
      },
      async release(targetKey) {
        await run(releaseMatchSql(t, targetKey));
      },
      async remove(targetKey, commitTimeUs) {
        await run(removeRowSql(t, targetKey, commitTimeUs));
      },
      async truncate(pos, commitTimeUs) {
        for (const s of truncateMatchedSql(t, pos, commitTimeUs)) await run(s);
      },
    };
  }
}
