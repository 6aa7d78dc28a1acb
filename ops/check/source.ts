// `pgcdc check` for the source database: connection, wal_level, privileges, the table (primary
// key, replica identity, columns vs the contract), the publication and the replication slot (slot.ts).
import pg from 'pg';
import type { TableContract } from '../../schemas/contract.ts';
import type { SourceConfig } from '../../pipeline/config/schema.ts';
import { redactUrl } from '../../pipeline/observability/logger.ts';
import { COLUMNS_SQL, compareColumns, type PgColumn } from './columns.ts';
import { error, errMessage, info, ok, warn, type CheckResult } from './types.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import { connectionFailure, pgContext } from './transport.ts';
import { checkSlot } from './slot.ts';

interface TableRow {
  oid: number;
  relreplident: string;
  can_select: boolean;
  owns: boolean;
  pk: string[] | null;
  ident_index: string | null;
}

const TABLE_SQL = `
SELECT c.oid::int AS oid, c.relreplident::text AS relreplident,
       has_table_privilege(c.oid, 'SELECT') AS can_select,
       pg_has_role(c.relowner, 'USAGE') AS owns,
       (SELECT array_agg(a.attname::text ORDER BY k.ord)
          FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary) AS pk,
       (SELECT ci.relname::text FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisreplident) AS ident_index
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`;

export async function checkSource(
  src: SourceConfig,
  contract: TableContract,
  connections: PgConnections = createPgConnections(),
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const table = `${src.schema}.${src.table}`;
  const client = connections.client(src.url, 'ops', 'pgcdc-check');
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    out.push(
      connectionFailure(
        'source.connect',
        err,
        pgContext('source', src.tls !== undefined),
        {
          message: `cannot connect to the source ${redactUrl(src.url)}: ${errMessage(err)}`,
          fix: 'check source.url (host, port, database, user, password), that PostgreSQL runs and that pg_hba.conf lets this host in',
        },
        `source ${redactUrl(src.url)}`,
      ),
    );
    await client.end().catch(() => undefined);
    return out;
  }
  try {
    const settings = await client.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders', 'server_version')",
    );
    const get = (n: string) => settings.rows.find((r) => r.name === n)?.setting ?? '';
    out.push(
      ok('source.connect', `connected to ${redactUrl(src.url)} (PostgreSQL ${get('server_version')})`),
    );
    if (get('wal_level') !== 'logical') {
      out.push(
        error(
          'source.wal_level',
          `wal_level is "${get('wal_level')}"; logical replication needs "logical"`,
          'ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (managed services: set the logical replication parameter, e.g. rds.logical_replication = 1)',
        ),
      );
    } else {
      out.push(ok('source.wal_level', 'wal_level is logical'));
    }
    if (Number(get('max_replication_slots')) === 0 || Number(get('max_wal_senders')) === 0) {
      out.push(
        error(
          'source.wal_senders',
          `max_replication_slots = ${get('max_replication_slots')}, max_wal_senders = ${get('max_wal_senders')}`,
          'set both to at least 1 (postgresql.conf) and restart PostgreSQL',
        ),
      );
    }

    const role = (
      await client.query<{ role: string; rolsuper: boolean; rolreplication: boolean; can_create: boolean }>(
        `SELECT current_user AS role, rolsuper, rolreplication,
                has_database_privilege(current_database(), 'CREATE') AS can_create
           FROM pg_roles WHERE rolname = current_user`,
      )
    ).rows[0]!;
    if (!role.rolsuper && !role.rolreplication) {
      out.push(
        error(
          'source.privileges',
          `role ${role.role} has neither REPLICATION nor superuser: it cannot create or stream a replication slot`,
          `ALTER ROLE ${pg.escapeIdentifier(role.role)} WITH REPLICATION;`,
        ),
      );
    } else {
      out.push(
        ok('source.privileges', `role ${role.role} has ${role.rolsuper ? 'superuser' : 'REPLICATION'}`),
      );
    }

    const t = (await client.query<TableRow>(TABLE_SQL, [src.schema, src.table])).rows[0];
    if (!t) {
      out.push(
        error(
          'source.table',
          `table ${table} does not exist`,
          'create it (schemas/users.sql) or fix source.schema / source.table',
        ),
      );
    } else {
      out.push(...checkTable(t, table, role.role, contract));
      const cols = (await client.query<PgColumn>(COLUMNS_SQL, [t.oid])).rows;
      const m = compareColumns(cols, contract.columns);
      if (m.missing.length || m.wrongType.length) {
        const parts = [
          ...m.missing.map((c) => `${c.name} missing`),
          ...m.wrongType.map((c) => `${c.name} is ${c.actual}, the contract says ${c.expected}`),
        ];
        out.push(
          error(
            'source.columns',
            `table ${table} does not match the contract (${contract.table}-value.avsc in ${src.contracts ?? 'the shipped contracts'}): ${parts.join('; ')}`,
            `see the difference with pgcdc contract diff --table ${table}; regenerate the contract with pgcdc contract generate --force --table ${table} and review it (a BACKWARD-compatible change), or align the table with the contract`,
          ),
        );
      } else {
        out.push(
          ok(
            'source.columns',
            `${contract.columns.length} columns match the contract${extraNote(src, table, m.extra)}`,
          ),
        );
      }
    }

    out.push(...(await checkPublication(client, src, table, role, t)));
    out.push(...(await checkSlot(client, src)));
  } catch (err) {
    out.push(
      error('source.query', `reading the source catalog failed: ${errMessage(err)}`, 'see the message'),
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  return out;
}

function checkTable(t: TableRow, table: string, role: string, contract: TableContract): CheckResult[] {
  const out: CheckResult[] = [];
  if (!t.can_select) {
    out.push(
      error(
        'source.select',
        `role ${role} may not SELECT from ${table} (needed for snapshots)`,
        `GRANT SELECT ON ${table} TO ${pg.escapeIdentifier(role)};`,
      ),
    );
  }
  const keys = contract.keyColumns.join(', ');
  if (!t.pk) {
    out.push(
      error(
        'source.primary_key',
        `table ${table} has no primary key: events are keyed (and partitioned, and applied) by it`,
        `ALTER TABLE ${table} ADD PRIMARY KEY (${keys});`,
      ),
    );
  } else if (t.pk.join(',') !== contract.keyColumns.join(',')) {
    out.push(
      error(
        'source.primary_key',
        `table ${table} has primary key (${t.pk.join(', ')}), the contract's key is (${keys})`,
        'make the primary key match schemas/avro/*-key.avsc',
      ),
    );
  } else {
    out.push(ok('source.primary_key', `primary key (${keys})`));
  }
  switch (t.relreplident) {
    case 'n':
      out.push(
        error(
          'source.replica_identity',
          `table ${table} has REPLICA IDENTITY NOTHING: updates and deletes are not published with a key, so they are lost`,
          `ALTER TABLE ${table} REPLICA IDENTITY DEFAULT; (or FULL for complete before images)`,
        ),
      );
      break;
    case 'd':
      out.push(
        info(
          'source.replica_identity',
          'REPLICA IDENTITY DEFAULT: before images carry only the key, and an update leaves out unchanged TOASTed (large) columns, which pgcdc applies as partial updates',
          `ALTER TABLE ${table} REPLICA IDENTITY FULL; if consumers need complete before images`,
        ),
      );
      break;
    case 'f':
      out.push(ok('source.replica_identity', 'REPLICA IDENTITY FULL: complete before images'));
      break;
    case 'i':
      out.push(
        info(
          'source.replica_identity',
          `REPLICA IDENTITY USING INDEX ${t.ident_index ?? '?'}: before images carry that index's columns only`,
        ),
      );
      break;
    default:
      out.push(warn('source.replica_identity', `unknown replica identity "${t.relreplident}"`));
  }
  return out;
}

async function checkPublication(
  client: pg.Client,
  src: SourceConfig,
  table: string,
  role: { role: string; rolsuper: boolean; can_create: boolean },
  t: TableRow | undefined,
): Promise<CheckResult[]> {
  const pub = (
    await client.query<{ puballtables: boolean; pubinsert: boolean; pubupdate: boolean; pubdelete: boolean }>(
      'SELECT puballtables, pubinsert, pubupdate, pubdelete FROM pg_publication WHERE pubname = $1',
      [src.publication],
    )
  ).rows[0];
  const create = `CREATE PUBLICATION ${pg.escapeIdentifier(src.publication)} FOR TABLE ${table};`;
  if (!pub) {
    const canCreate = role.rolsuper || (role.can_create && (t?.owns ?? false));
    if (canCreate) {
      return [
        warn(
          'source.publication',
          `publication ${src.publication} does not exist; pgcdc produce will create it (FOR TABLE ${table})`,
          `nothing to do, or create it yourself: ${create}`,
        ),
      ];
    }
    return [
      error(
        'source.publication',
        `publication ${src.publication} does not exist, and role ${role.role} cannot create it (it must own ${table} and have CREATE on the database)`,
        `as the owner of ${table}: ${create}`,
      ),
    ];
  }
  const member = await client.query(
    'SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
    [src.publication, src.schema, src.table],
  );
  if (member.rowCount === 0) {
    return [
      error(
        'source.publication',
        `publication ${src.publication} exists but does not include ${table}`,
        `ALTER PUBLICATION ${pg.escapeIdentifier(src.publication)} ADD TABLE ${table};`,
      ),
    ];
  }
  const missing = (['insert', 'update', 'delete'] as const).filter((op) => !pub[`pub${op}`]);
  if (missing.length) {
    return [
      error(
        'source.publication',
        `publication ${src.publication} does not publish ${missing.join(', ')}: those changes never reach the targets`,
        `ALTER PUBLICATION ${pg.escapeIdentifier(src.publication)} SET (publish = 'insert, update, delete');`,
      ),
    ];
  }
  return [
    ok(
      'source.publication',
      `publication ${src.publication} publishes ${table}${pub.puballtables ? ' (FOR ALL TABLES)' : ''}`,
    ),
  ];
}

/**
 * The table's columns outside the contract: not captured (pinned mode, and NOT NULL ones in either
 * mode), or added to the events by automatic schema changes (docs/contracts.md, Schema changes).
 */
export function extraNote(src: SourceConfig, table: string, extra: PgColumn[]): string {
  if (extra.length === 0) return '';
  const names = (cs: PgColumn[]) => cs.map((c) => c.name).join(', ');
  const pin = `pgcdc contract generate --force --table ${table}, review`;
  if (src.schemaChanges !== 'automatic') return ` (not captured: ${names(extra)}; to capture them: ${pin})`;
  const nullable = extra.filter((c) => !c.notNull);
  const notNull = extra.filter((c) => c.notNull);
  return ` (${[
    nullable.length
      ? `captured by automatic schema changes as an evolved contract version: ${names(nullable)}; to pin them: ${pin}`
      : '',
    notNull.length ? `not captured, NOT NULL is not a BACKWARD-compatible addition: ${names(notNull)}` : '',
  ]
    .filter(Boolean)
    .join('; ')})`;
}
