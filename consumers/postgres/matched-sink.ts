// PostgreSQL target matched by its own unique key (`mapping.match`): the target keeps its primary
// key (an auto-increment uid, say) and pgcdc finds a source row's twin by the match key. The first
// event of a source row adopts the target row holding its match value (a row the target made
// itself) or creates one; the link (matched.ts) then follows the source row, so a later change of
// the match value itself updates the right row. Events are applied one by one in one transaction
// per batch, each under a savepoint, guarded by the position stored in the link. What an event
// does when another row holds its match value (skip its value, wait, release, adopt, conflict) is
// decided by the rules shared with the MariaDB sink (consumers/matching/decide.ts); this file is
// their I/O: the statements of matched.ts on one connection.
import pg from 'pg';
import type { PostgresTargetConfig } from '../../pipeline/config/schema.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import type { TargetShape } from '../mapping/shape.ts';
import {
  applyMatched,
  linkKeyColumns,
  matchedTarget,
  type MatchStore,
  type Outcome,
} from '../matching/apply.ts';
import type { ApplyResult, DeadLetter, DecodedEvent, Sink } from '../sink.ts';
import { classifyPgError } from './errors.ts';
import {
  createLinksTableSql,
  createMatchedTableSql,
  holderSql,
  insertRowSql,
  linkSql,
  linksTableName,
  matchedRelations,
  ownerSql,
  releaseMatchSql,
  removeRowSql,
  truncateMatchedSql,
  updateRowSql,
  upsertLinkSql,
  type MatchedTable,
} from './matched.ts';

/** The matched table of a target whose shape has a match key. */
export function matchedTableOf(cfg: PostgresTargetConfig, shape: TargetShape): MatchedTable {
  const match = shape.match!;
  return {
    schema: cfg.schema,
    table: cfg.table,
    columns: shape.columns,
    sourceKey: linkKeyColumns(shape),
    targetKey: match.targetKey,
    match: { column: match.column, caseInsensitive: match.caseInsensitive },
    soft: shape.softDelete,
  };
}

export class MatchedPostgresSink implements Sink {
  readonly kind = 'postgres';
  private client: pg.Client | undefined;
  private closed = false;

  constructor(
    private readonly cfg: PostgresTargetConfig,
    private readonly table: MatchedTable,
    private readonly logger: Logger,
    private readonly pg: PgConnections = createPgConnections(),
  ) {}

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
      const ddl = [...createMatchedTableSql(this.table), ...createLinksTableSql(this.table)];
      // only when something is missing: another lane of this target may be writing (matched.ts)
      const present = await client.query<{ ok: boolean }>(
        'SELECT bool_and(to_regclass(r) IS NOT NULL) AS ok FROM unnest($1::text[]) AS r',
        [matchedRelations(this.table)],
      );
      if (this.cfg.createTable && !present.rows[0]?.ok) for (const sql of ddl) await client.query(sql);
      for (const name of [this.table.table, linksTableName(this.table)]) {
        const r = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [
          `${pg.escapeIdentifier(this.table.schema)}.${pg.escapeIdentifier(name)}`,
        ]);
        if (!r.rows[0]?.ok)
          throw new PgcdcError(`target ${this.cfg.name}: table ${this.table.schema}.${name} is missing`, {
            hint: `set createTable: true or create it: ${ddl.join('; ').replace(/\s+/g, ' ')}`,
          });
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  async apply(events: DecodedEvent[]): Promise<ApplyResult> {
    if (!this.client) await this.open();
    const c = this.client!;
    const result: ApplyResult = { applied: [], deadLetters: [] };
    try {
      await c.query('BEGIN');
      for (const e of events) {
        await c.query('SAVEPOINT ev');
        let out: Outcome;
        try {
          out = await this.applyOne(c, e);
          await c.query('RELEASE SAVEPOINT ev');
        } catch (err) {
          await c.query('ROLLBACK TO SAVEPOINT ev');
          const kind = classifyPgError(err, '');
          if (kind === 'rejected') out = { kind: 'dead', reason: 'rejected', error: (err as Error).message };
          else if (kind === 'secondary-unique')
            out = { kind: 'retry', error: (err as Error).message }; // a concurrent writer: try again
          else throw err;
        }
        if (out.kind === 'retry') {
          result.retryFrom = { offset: e.offset, reason: 'secondary-unique', error: out.error };
          break;
        }
        if (out.kind === 'dead') result.deadLetters.push(this.dead(e, out));
        else result.applied.push(e);
      }
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (classifyPgError(err, '') === 'transient') {
        const old = this.client;
        this.client = undefined;
        await old?.end().catch(() => undefined);
        throw new UnavailableError(`target ${this.cfg.name}: ${(err as Error).message}`, { cause: err });
      }
      throw new PgcdcError(`target ${this.cfg.name}: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
        hint: 'the target table or permissions do not fit the events; fix them, delivery resumes by itself',
      });
    }
  }

  private dead(e: DecodedEvent, out: { reason: string; error: string }): DeadLetter {
    return { offset: e.offset, reason: out.reason, error: out.error };
  }

  private applyOne(c: pg.Client, e: DecodedEvent): Promise<Outcome> {
    return applyMatched(this.store(c), matchedTarget(this.table), e.key, e.event);
  }

  /** The matched rules' reads and writes (consumers/matching/apply.ts) as this table's SQL. */
  private store(c: pg.Client): MatchStore {
    const t = this.table;
    return {
      async link(key) {
        const r = (
          await c.query<{ target_key: string | null; deleted: boolean; lsn: string; seq: string }>(
            linkSql(t, key),
          )
        ).rows[0];
        return r && { targetKey: r.target_key, deleted: r.deleted, lsn: BigInt(r.lsn), seq: BigInt(r.seq) };
      },
      async holder(value) {
        return (await c.query<{ target_key: string }>(holderSql(t, value))).rows[0]?.target_key;
      },
      async owner(targetKey) {
        const l = (await c.query<{ deleted: boolean; lsn: string; seq: string }>(ownerSql(t, targetKey)))
          .rows[0];
        return l ? { deleted: l.deleted, lsn: BigInt(l.lsn), seq: BigInt(l.seq) } : null;
      },
      async upsertLink(key, link, pos) {
        await c.query(upsertLinkSql(t, key, link, pos));
      },
      async update(row, unchanged, targetKey) {
        return ((await c.query(updateRowSql(t, row, unchanged, targetKey))).rowCount ?? 0) > 0;
      },
      async insert(row) {
        return (await c.query<{ target_key: string }>(insertRowSql(t, row))).rows[0]!.target_key;
      },
      async release(targetKey) {
        await c.query(releaseMatchSql(t, targetKey));
      },
      async remove(targetKey, commitTimeUs) {
        await c.query(removeRowSql(t, targetKey, commitTimeUs));
      },
      async truncate(pos, commitTimeUs) {
        await c.query(truncateMatchedSql(t, pos, commitTimeUs));
      },
    };
  }
}
