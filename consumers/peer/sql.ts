// SQL of a peer sink (docs/peers.md), built from the contract; identifiers quoted, values always
// parameters. The application's table keeps its own columns only: a key's version lives beside it
// in `<table>_pgcdc_peer` (written in the same transaction as the apply); local deletes are
// appended by a trigger to `<table>_pgcdc_local_deleted` (the row is gone, so the deleting
// transaction must be kept to read its commit time; append-only, so a local delete never waits on
// a lock the sink holds, and the two cannot deadlock); conflicts go to `<table>_pgcdc_conflicts`.
// Pure builders; the sink runs them.
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { toSqlParam } from '../../schemas/values.ts';
import type { UniqueIndex } from '../postgres/unique.ts';
import { columnSpec, qname, quoteIdent as q, type TargetTable } from '../postgres/table.ts';
import type { Version } from './version.ts';

export interface Statement {
  text: string;
  values: unknown[];
}

/** The setting a peer sink's session carries: the local-delete trigger ignores its deletes. */
export const APPLYING_SETTING = 'pgcdc.peer_apply';

export const peerTableName = (t: TargetTable) => `${t.table}_pgcdc_peer`;
export const conflictsTableName = (t: Pick<TargetTable, 'table'>) => `${t.table}_pgcdc_conflicts`;
export const localDeletedTableName = (t: TargetTable) => `${t.table}_pgcdc_local_deleted`;
const localDeleted = (t: TargetTable) => `${q(t.schema)}.${q(localDeletedTableName(t))}`;
const peerTable = (t: TargetTable) => `${q(t.schema)}.${q(peerTableName(t))}`;
export const conflictsTable = (t: TargetTable) => `${q(t.schema)}.${q(conflictsTableName(t))}`;
const triggerName = (t: TargetTable) => `${t.table}_pgcdc_peer_local_delete`;

const usOf = (expr: string) => `(extract(epoch FROM ${expr}) * 1000000)::bigint::text`;

/**
 * The tables beside the application's table and the trigger that records local deletes (and the
 * old key of a local key change) with the deleting transaction's id, whose commit time is read
 * when a remote change of that key arrives.
 */
export function setupSql(t: TargetTable): string[] {
  const keys = t.keyColumns.map((k) => `${q(k)} ${columnSpec(t, k).sqlType} NOT NULL`);
  const pk = t.keyColumns.map(q).join(', ');
  const fn = `${q(t.schema)}.${q(triggerName(t))}`;
  const oldKey = t.keyColumns.map((k) => `OLD.${q(k)}`).join(', ');
  const newKey = t.keyColumns.map((k) => `NEW.${q(k)}`).join(', ');
  return [
    `CREATE TABLE IF NOT EXISTS ${peerTable(t)} (${keys.join(', ')}, node text NOT NULL, ts_us bigint, ` +
      `lsn bigint NOT NULL DEFAULT 0, seq bigint NOT NULL DEFAULT 0, deleted boolean NOT NULL, ` +
      `event_id text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (${pk}))`,
    `CREATE TABLE IF NOT EXISTS ${localDeleted(t)} (${keys.join(', ')}, xid xid8 NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS ${q(`${localDeletedTableName(t)}_key`)} ON ${localDeleted(t)} (${pk})`,
    `CREATE TABLE IF NOT EXISTS ${conflictsTable(t)} (id bigserial PRIMARY KEY, ` +
      `at timestamptz NOT NULL DEFAULT clock_timestamp(), link text NOT NULL, kind text NOT NULL, ` +
      `resolution text NOT NULL, key jsonb NOT NULL, other_key jsonb, local_version jsonb, ` +
      `remote_version jsonb NOT NULL, local_row jsonb, remote_row jsonb, event_id text NOT NULL)`,
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN ` +
      `IF current_setting('${APPLYING_SETTING}', true) = 'on' THEN RETURN NULL; END IF; ` +
      `IF TG_OP = 'UPDATE' AND ROW(${oldKey}) IS NOT DISTINCT FROM ROW(${newKey}) THEN RETURN NULL; END IF; ` +
      `INSERT INTO ${localDeleted(t)} (${pk}, xid) VALUES (${oldKey}, pg_current_xact_id()); RETURN NULL; END $f$`,
    // only when missing: creating a trigger locks the application's table against its writers
    `DO $d$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '${triggerName(t)}' ` +
      `AND tgrelid = '${qname(t).replace(/'/g, "''")}'::regclass) THEN ` +
      `CREATE TRIGGER ${q(triggerName(t))} AFTER DELETE OR UPDATE ON ${qname(t)} FOR EACH ROW EXECUTE FUNCTION ${fn}(); ` +
      `END IF; END $d$`,
  ];
}

function keyWhere(t: TargetTable, key: Row, alias: string, values: unknown[]): string {
  return t.keyColumns
    .map((k) => {
      const c = columnSpec(t, k);
      values.push(toSqlParam(c.pgType, key[k] ?? null));
      return `${alias}.${q(k)} = $${values.length}::${c.sqlType}`;
    })
    .join(' AND ');
}

/**
 * Serializes the links applying at this node per key (a transaction-level advisory lock): two
 * links deciding on the same key one after the other, each seeing what the other committed.
 */
export function keyLockSql(t: TargetTable, key: Row): Statement {
  const k = JSON.stringify(t.keyColumns.map((c) => String(key[c])));
  return { text: `SELECT pg_advisory_xact_lock(hashtext($1))`, values: [`${t.schema}.${t.table}:${k}`] };
}

/** Locks the key's live row, if any (run before rowFactsSql, so that reads the newest version). */
export function lockRowSql(t: TargetTable, key: Row): Statement {
  const values: unknown[] = [];
  return { text: `SELECT 1 FROM ${qname(t)} r WHERE ${keyWhere(t, key, 'r', values)} FOR UPDATE`, values };
}

/** The live row of a key, its xmin's commit time (µs) and replication origin id. */
export function rowFactsSql(t: TargetTable, key: Row): Statement {
  const values: unknown[] = [];
  const text =
    `SELECT to_jsonb(r) AS json, ${usOf('o."timestamp"')} AS ts_us, o.roident::int AS roident ` +
    `FROM ${qname(t)} r, LATERAL pg_xact_commit_timestamp_origin(r.xmin) o ` +
    `WHERE ${keyWhere(t, key, 'r', values)}`;
  return { text, values };
}

/** The key's version row beside the table (locked). */
export function metaFactsSql(t: TargetTable, key: Row): Statement {
  const values: unknown[] = [];
  const text =
    `SELECT node, ts_us::text, lsn::text, seq::text, deleted FROM ${peerTable(t)} m ` +
    `WHERE ${keyWhere(t, key, 'm', values)} FOR UPDATE`;
  return { text, values };
}

/** Commit time (µs) of the key's latest committed local delete, or null. */
export function localDeleteSql(t: TargetTable, key: Row): Statement {
  const values: unknown[] = [];
  const text =
    `SELECT ${usOf('max(pg_xact_commit_timestamp(x.xid::xid))')} AS ts_us FROM ${localDeleted(t)} x ` +
    `WHERE ${keyWhere(t, key, 'x', values)}`;
  return { text, values };
}

/** The key's local deletes whose commit is known: superseded by the version just applied. */
export function foldLocalDeletesSql(t: TargetTable, key: Row): Statement {
  const values: unknown[] = [];
  const text =
    `DELETE FROM ${localDeleted(t)} x WHERE ${keyWhere(t, key, 'x', values)} ` +
    `AND pg_xact_commit_timestamp(x.xid::xid) IS NOT NULL`;
  return { text, values };
}

/**
 * Writes the event's row (unchanged TOAST values are kept): `update` over the live row the sink
 * locked, `insert` where it found none (DO NOTHING: a row a local writer inserted meanwhile is
 * newer, the sink decides again).
 */
export function writeRowSql(t: TargetTable, e: ChangeEvent, mode: 'insert' | 'update', key: Row): Statement {
  const row = e.after!;
  const cols = t.columns.filter((c) => !e.unchanged.includes(c.name));
  const values = cols.map((c) => toSqlParam(c.pgType, row[c.name] ?? null));
  if (mode === 'update') {
    const set = cols.filter((c) => !t.keyColumns.includes(c.name));
    const params = set.map((c) => toSqlParam(c.pgType, row[c.name] ?? null));
    const sets = set.map((c, i) => `${q(c.name)} = $${i + 1}::${c.sqlType}`);
    return {
      text: `UPDATE ${qname(t)} r SET ${sets.join(', ')} WHERE ${keyWhere(t, key, 'r', params)}`,
      values: params,
    };
  }
  const text =
    `INSERT INTO ${qname(t)} (${cols.map((c) => q(c.name)).join(', ')}) ` +
    `VALUES (${cols.map((c, i) => `$${i + 1}::${c.sqlType}`).join(', ')}) ` +
    `ON CONFLICT (${t.keyColumns.map(q).join(', ')}) DO NOTHING`;
  return { text, values };
}

export function deleteSql(t: TargetTable, key: Row): Statement {
  const values: unknown[] = [];
  return { text: `DELETE FROM ${qname(t)} r WHERE ${keyWhere(t, key, 'r', values)}`, values };
}

/** Record the version the key now has at this node (written with the apply, same transaction). */
export function writeMetaSql(
  t: TargetTable,
  key: Row,
  v: Version,
  deleted: boolean,
  eventId: string | null,
): Statement {
  const values: unknown[] = t.keyColumns.map((k) => toSqlParam(columnSpec(t, k).pgType, key[k] ?? null));
  const types = t.keyColumns.map((k) => columnSpec(t, k).sqlType);
  const n = values.length;
  values.push(
    v.node,
    v.tsUs === null ? null : v.tsUs.toString(),
    v.lsn.toString(),
    v.seq.toString(),
    deleted,
    eventId,
  );
  const pk = t.keyColumns.map(q).join(', ');
  const text =
    `INSERT INTO ${peerTable(t)} (${pk}, node, ts_us, lsn, seq, deleted, event_id) VALUES (` +
    `${types.map((ty, i) => `$${i + 1}::${ty}`).join(', ')}, $${n + 1}, $${n + 2}::bigint, $${n + 3}::bigint, $${n + 4}::bigint, $${n + 5}, $${n + 6}) ` +
    `ON CONFLICT (${pk}) DO UPDATE SET node = EXCLUDED.node, ts_us = EXCLUDED.ts_us, lsn = EXCLUDED.lsn, ` +
    `seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, event_id = EXCLUDED.event_id, updated_at = clock_timestamp()`;
  return { text, values };
}

export interface ConflictRecord {
  link: string;
  kind: string;
  resolution: string;
  key: Row;
  otherKey?: Row | undefined;
  localVersion?: Version | undefined;
  remoteVersion: Version;
  localRow?: unknown;
  remoteRow?: unknown;
  eventId: string;
}

const json = (v: unknown) =>
  v === undefined || v === null
    ? null
    : JSON.stringify(v, (_k, x: unknown) =>
        typeof x === 'bigint'
          ? x.toString()
          : x instanceof Uint8Array
            ? Buffer.from(x).toString('base64')
            : x,
      );

export const versionJson = (v: Version | undefined) =>
  v && {
    node: v.node,
    commitTimeUs: v.tsUs?.toString() ?? null,
    commitTime: v.tsUs === null ? null : new Date(Number(v.tsUs / 1000n)).toISOString(),
    lsn: v.lsn.toString(),
    seq: v.seq.toString(),
  };

export function logConflictSql(t: TargetTable, c: ConflictRecord): Statement {
  return {
    text:
      `INSERT INTO ${conflictsTable(t)} (link, kind, resolution, key, other_key, local_version, remote_version, local_row, remote_row, event_id) ` +
      `VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10)`,
    values: [
      c.link,
      c.kind,
      c.resolution,
      json(c.key),
      json(c.otherKey),
      json(versionJson(c.localVersion)),
      json(versionJson(c.remoteVersion)),
      json(c.localRow),
      json(c.remoteRow),
      c.eventId,
    ],
  };
}

/**
 * Keys of the other rows holding `row`'s value of the unique index (evaluated for the candidate
 * row under the table's column names, as consumers/postgres/unique.ts does).
 */
export function holderKeysSql(t: TargetTable, index: UniqueIndex, row: Row, key: Row): Statement {
  const values: unknown[] = [];
  const candidate = t.columns.map((c) => {
    values.push(toSqlParam(c.pgType, row[c.name] ?? null));
    return `$${values.length}::${c.sqlType} AS ${q(c.name)}`;
  });
  const notSelf = keyWhere(t, key, qname(t), values);
  const parts = index.parts.join(', ');
  return {
    text:
      `SELECT ${t.keyColumns.map(q).join(', ')} FROM ${qname(t)} ` +
      `WHERE ROW(${parts}) = (SELECT ${parts} FROM (SELECT ${candidate.join(', ')}) AS candidate) ` +
      `AND NOT (${notSelf})${index.predicate ? ` AND (${index.predicate})` : ''}`,
    values,
  };
}
