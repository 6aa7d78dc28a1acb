// Prepares the source for streaming: checks wal_level and every captured table (a primary key is
// required: events are keyed by it), creates the publication (all captured tables) and
// the pgoutput replication slot when missing, and reads the slot's confirmed position. The slot is
// checked against the position pgcdc stored for it (position.ts): a slot that would skip changes
// (dropped, re-created, invalidated) is refused, never silently streamed from.
import pg from 'pg';
import type { SourceConfig, TableRef } from '../../pipeline/config/schema.ts';
import { sourceTablesOf, tableName } from '../../pipeline/config/schema.ts';
import { ConfigError, UnavailableError } from '../../pipeline/errors.ts';
import { parseLsn, type Lsn } from '../../schemas/lsn.ts';
import { ensurePositionTable, judgeSlot, readPosition, storePosition } from './position.ts';

export interface SlotInfo {
  confirmedFlushLsn: Lsn;
  created: boolean;
  /** the slot existed but pgcdc had no stored position for it (first start of this version) */
  adopted: boolean;
  database: string;
  /** server_version_num, e.g. 150018 */
  serverVersion: number;
}

const q = pg.escapeIdentifier;

export async function prepareSource(client: pg.Client, src: SourceConfig): Promise<SlotInfo> {
  const wal = await client.query<{ wal_level: string }>('SHOW wal_level');
  if (wal.rows[0]?.wal_level !== 'logical') {
    throw new ConfigError(
      `source wal_level is "${wal.rows[0]?.wal_level}", logical replication needs "logical"`,
      {
        hint: 'ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL',
      },
    );
  }
  const tables = sourceTablesOf(src);
  for (const t of tables) await checkTable(client, t);
  await ensurePublication(client, src.publication, tables);
  await ensurePositionTable(client, src.position);
  const stored = await readPosition(client, src.position, src.slot);
  const slot = await client.query<{
    plugin: string;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
    active: boolean;
    active_pid: number | null;
    database: string;
  }>(
    'SELECT plugin, confirmed_flush_lsn::text, wal_status, active, active_pid, database FROM pg_replication_slots WHERE slot_name = $1',
    [src.slot],
  );
  const { db, version } = (
    await client.query<{ db: string; version: string }>(
      "SELECT current_database() AS db, current_setting('server_version_num') AS version",
    )
  ).rows[0]!;
  const serverVersion = Number(version);
  const s = slot.rows[0];
  if (!s) {
    const verdict = judgeSlot({ slot: src.slot, found: undefined, stored, positionTable: src.position });
    if (verdict.kind === 'refuse') throw verdict.error;
    const created = await client.query<{ lsn: string }>(
      "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')",
      [src.slot],
    );
    const at = parseLsn(created.rows[0]!.lsn);
    await storePosition(client, src.position, src.slot, at);
    return { confirmedFlushLsn: at, created: true, adopted: false, database: db, serverVersion };
  }
  if (s.plugin !== 'pgoutput') {
    throw new ConfigError(`replication slot ${src.slot} uses plugin ${s.plugin}, pgcdc needs pgoutput`, {
      hint: `drop it (pgcdc slots drop ${src.slot}) or choose another source.slot`,
    });
  }
  if (s.database !== db) {
    throw new ConfigError(`replication slot ${src.slot} belongs to database ${s.database}, not ${db}`, {
      hint: 'choose another source.slot',
    });
  }
  if (s.active) {
    throw new UnavailableError(
      `replication slot ${src.slot} is in use by another process (pid ${s.active_pid})`,
      {
        hint: 'only one producer may stream a slot; stop the other one',
      },
    );
  }
  const verdict = judgeSlot({
    slot: src.slot,
    found: { confirmedFlushLsn: parseLsn(s.confirmed_flush_lsn ?? '0/0'), walStatus: s.wal_status },
    stored,
    positionTable: src.position,
  });
  switch (verdict.kind) {
    case 'refuse':
      throw verdict.error;
    case 'create':
      throw new Error('unreachable: the slot exists');
    case 'stream':
      if (verdict.adopt) await storePosition(client, src.position, src.slot, verdict.from);
      return {
        confirmedFlushLsn: verdict.from,
        created: false,
        adopted: verdict.adopt,
        database: db,
        serverVersion,
      };
    default:
      return verdict satisfies never;
  }
}

export async function emitHeartbeat(client: pg.Client, prefix: string): Promise<void> {
  await client.query('SELECT pg_logical_emit_message(false, $1, $2)', [prefix, new Date().toISOString()]);
}

/** A captured table must exist and have a primary key its deletes carry (replica identity). */
async function checkTable(client: pg.Client, ref: TableRef): Promise<void> {
  const table = await client.query<{
    relreplident: string;
    has_pk: boolean;
    pk_columns: string[];
    ident_index: string | null;
    ident_columns: string[];
  }>(
    `SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
            ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
                   WHERE i.indrelid = c.oid AND i.indisprimary) AS pk_columns,
            (SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE i.indrelid = c.oid AND i.indisreplident) AS ident_index,
            ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
                   WHERE i.indrelid = c.oid AND i.indisreplident) AS ident_columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [ref.schema, ref.table],
  );
  const t = table.rows[0];
  if (!t)
    throw new ConfigError(`source table ${ref.schema}.${ref.table} does not exist`, {
      hint: 'create it or fix source.schema/source.table (or source.tables)',
    });
  if (!t.has_pk)
    throw new ConfigError(`source table ${ref.schema}.${ref.table} has no primary key`, {
      hint: `events are keyed by the primary key: add one (ALTER TABLE ${ref.schema}.${ref.table} ADD PRIMARY KEY (...)), or leave the table out of source.tables`,
    });
  // Under REPLICA IDENTITY USING INDEX a delete carries only that index's columns: without the
  // primary key it could not be keyed, and would stop the stream at the first delete.
  const lacking = t.pk_columns.filter((k) => !t.ident_columns.includes(k));
  if (t.relreplident === 'i' && lacking.length > 0)
    throw new ConfigError(
      `source table ${ref.schema}.${ref.table} has REPLICA IDENTITY USING INDEX ${t.ident_index ?? '?'}, which lacks the primary key column(s) ${lacking.join(', ')}: deletes could not be keyed`,
      {
        hint: `ALTER TABLE ${ref.schema}.${ref.table} REPLICA IDENTITY DEFAULT (or FULL, or USING INDEX an index that includes ${lacking.join(', ')})`,
      },
    );
}

/** Creates the publication for every captured table, or checks that the existing one has them all. */
async function ensurePublication(client: pg.Client, publication: string, tables: TableRef[]): Promise<void> {
  const pub = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if (pub.rowCount === 0) {
    const list = tables.map((t) => `${q(t.schema)}.${q(t.table)}`).join(', ');
    await client.query(`CREATE PUBLICATION ${q(publication)} FOR TABLE ${list}`);
    return;
  }
  const members = await client.query<{ schemaname: string; tablename: string }>(
    'SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1',
    [publication],
  );
  const has = new Set(members.rows.map((r) => `${r.schemaname}.${r.tablename}`));
  const lacking = tables.filter((t) => !has.has(tableName(t))).map(tableName);
  if (lacking.length > 0)
    throw new ConfigError(`publication ${publication} exists but does not include ${lacking.join(', ')}`, {
      hint: `ALTER PUBLICATION ${publication} ADD TABLE ${lacking.join(', ')}`,
    });
}
