// PostgreSQL target matched by its own unique key (`mapping.match`): the target keeps its primary
// key (an auto-increment uid, say) and pgcdc finds a source row's twin by the match key. The first
// event of a source row adopts the target row holding its match value (a row the target made
// itself) or creates one; the link (matched.ts) then follows the source row, so a later change of
// the match value itself updates the right row. Events are applied one by one in one transaction
// per batch, each under a savepoint, guarded by the position stored in the link.
//
// When another row holds the match value an event needs:
// - a row linked to another live source row, written from a LATER source position: at that
//   position our row no longer had the value, so a later event of ours replaces this one: skipped;
// - one written from an EARLIER position: that row's change that releases the value is still to
//   come on another partition: the batch stops here and is retried later (as sink.ts does for
//   secondary unique keys), so email swaps converge;
// - a row linked to a deleted (or filtered-out) source row: its value is stale and is released
//   (set to NULL) for the live row that holds it at the source;
// - a row the target made itself, when our source row already has a row: dead-lettered (the
//   operator decides which one is right).
import pg from 'pg';
import type { PostgresTargetConfig } from '../../pipeline/config/schema.ts';
import { PgcdcError, UnavailableError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import type { TargetShape } from '../mapping/shape.ts';
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
    sourceKey: [...shape.keyNames].map(([from, to]) => ({
      ...shape.source.find((c) => c.name === from)!,
      name: to,
    })),
    targetKey: match.targetKey,
    match: { column: match.column, caseInsensitive: match.caseInsensitive },
    soft: shape.softDelete,
  };
}

type Outcome =
  { kind: 'ok' } | { kind: 'dead'; reason: string; error: string } | { kind: 'retry'; error: string };
const OK: Outcome = { kind: 'ok' };

const later = (a: { lsn: bigint; seq: bigint }, b: { lsn: bigint; seq: bigint }) =>
  a.lsn > b.lsn || (a.lsn === b.lsn && a.seq > b.seq);

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

  private async applyOne(c: pg.Client, e: DecodedEvent): Promise<Outcome> {
    const t = this.table;
    const ev = e.event;
    const pos = { lsn: ev.source.commit_lsn, seq: ev.source.seq, eventId: ev.event_id };
    if (ev.op === 't') {
      await c.query(truncateMatchedSql(t, pos, ev.source.ts_us));
      return OK;
    }
    const found = (
      await c.query<{ target_key: string | null; deleted: boolean; lsn: string; seq: string }>(
        linkSql(t, e.key),
      )
    ).rows[0];
    const link = found && {
      targetKey: found.target_key,
      deleted: found.deleted,
      lsn: BigInt(found.lsn),
      seq: BigInt(found.seq),
    };
    if (link && !later(pos, link)) return OK; // this key was written from a later position
    if (ev.op === 'd') {
      if (link?.targetKey && !link.deleted) await c.query(removeRowSql(t, link.targetKey, ev.source.ts_us));
      await c.query(
        upsertLinkSql(t, e.key, { targetKey: t.soft ? (link?.targetKey ?? null) : null, deleted: true }, pos),
      );
      return OK;
    }
    const row = ev.after!;
    let mine = link?.targetKey ?? null;
    let adopt: string | undefined;
    const value = ev.unchanged.includes(t.match.column) ? null : (row[t.match.column] ?? null);
    if (value !== null) {
      const h = (
        await c.query<{
          target_key: string;
          owner_deleted: boolean | null;
          owner_lsn: string | null;
          owner_seq: string | null;
        }>(holderSql(t, value))
      ).rows[0];
      if (h && h.target_key !== mine) {
        if (h.owner_lsn === null) {
          if (mine !== null && !link?.deleted)
            return {
              kind: 'dead',
              reason: 'match-conflict',
              error: `a row the target made itself (${t.targetKey} ${h.target_key}) holds the ${t.match.column} of this row`,
            };
          adopt = h.target_key; // the twin: adopted by the first event (or a revived row) of this key
        } else if (h.owner_deleted) {
          await c.query(releaseMatchSql(t, h.target_key));
        } else if (later({ lsn: BigInt(h.owner_lsn), seq: BigInt(h.owner_seq!) }, pos)) {
          return OK; // an intermediate state: a later event of this key replaces it
        } else {
          return {
            kind: 'retry',
            error: `${t.match.column} is held by ${t.targetKey} ${h.target_key}, whose change that releases it has not arrived yet`,
          };
        }
      }
    }
    if (mine !== null && adopt === undefined) {
      const r = await c.query(updateRowSql(t, row, ev.unchanged, mine));
      if (r.rowCount === 0) mine = null; // removed by the target system: created again below
    } else if (adopt !== undefined) {
      if (ev.unchanged.length > 0) return this.missing(e);
      await c.query(updateRowSql(t, row, [], adopt));
      mine = adopt;
    }
    if (mine === null) {
      if (ev.unchanged.length > 0) return this.missing(e);
      mine = (await c.query<{ target_key: string }>(insertRowSql(t, row))).rows[0]!.target_key;
    }
    await c.query(upsertLinkSql(t, e.key, { targetKey: mine, deleted: false }, pos));
    return OK;
  }

  private missing(e: DecodedEvent): Outcome {
    return {
      kind: 'dead',
      reason: 'missing-row',
      error: `update of ${JSON.stringify(Object.values(e.key).map(String))} carries no value for unchanged column(s) ${e.event.unchanged.join(', ')} and the row is missing at the target; re-snapshot to repair`,
    };
  }
}
