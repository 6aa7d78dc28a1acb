// `pgcdc check` for each target: a postgres target answers and its table has the contract's
// columns (with the same types), the bookkeeping columns and the key; a webhook answers at all.
import pg from 'pg';
import { EVENT_ID, POS_LSN, POS_SEQ, SYNCED_AT } from '../../consumers/postgres/sql.ts';
import type { TableContract } from '../../schemas/contract.ts';
import type {
  PostgresTargetConfig,
  TargetConfig,
  WebhookTargetConfig,
} from '../../pipeline/config/schema.ts';
import { redactUrl } from '../../pipeline/observability/logger.ts';
import { createDeletedTableSql, deletedTableName } from '../../consumers/postgres/deleted.ts';
import { createTruncatedTableSql, truncatedTableName } from '../../consumers/postgres/truncated.ts';
import { checkMysqlTarget } from './mysql.ts';
import { COLUMNS_SQL, compareColumns, type PgColumn } from './columns.ts';
import { error, errMessage, info, ok, warn, type CheckResult } from './types.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import { connectionFailure, pgContext } from './transport.ts';

export function checkTarget(
  t: TargetConfig,
  contract: TableContract,
  connections: PgConnections = createPgConnections(),
): Promise<CheckResult[]> {
  switch (t.type) {
    case 'postgres':
      return checkPostgresTarget(t, contract, connections);
    case 'webhook':
      return checkWebhookTarget(t);
    case 'mysql':
      return checkMysqlTarget(t, contract);
    default:
      return t satisfies never;
  }
}

/** name, type, and how to add it to a table that has rows (position 0: any event is newer) */
const BOOKKEEPING: [string, string, string][] = [
  [POS_LSN, 'bigint', 'bigint NOT NULL DEFAULT 0'],
  [POS_SEQ, 'bigint', 'bigint NOT NULL DEFAULT 0'],
  [EVENT_ID, 'text', "text NOT NULL DEFAULT ''"],
  [SYNCED_AT, 'timestamp with time zone', 'timestamptz NOT NULL DEFAULT clock_timestamp()'],
];

async function checkPostgresTarget(
  t: PostgresTargetConfig,
  contract: TableContract,
  connections: PgConnections,
): Promise<CheckResult[]> {
  const id = (what: string) => `target.${t.name}.${what}`;
  const table = `${t.schema}.${t.table}`;
  const client = connections.client(t.url, 'ops', 'pgcdc-check');
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    return [
      connectionFailure(
        id('connect'),
        err,
        pgContext(`targets[${t.name}]`, t.tls !== undefined),
        {
          message: `target ${t.name}: cannot connect to ${redactUrl(t.url)}: ${errMessage(err)}`,
          fix: `check targets[${t.name}].url and that the database runs`,
        },
        `target ${t.name} ${redactUrl(t.url)}`,
      ),
    ];
  }
  const out: CheckResult[] = [ok(id('connect'), `connected to ${redactUrl(t.url)}`)];
  try {
    const rel = (
      await client.query<{ oid: number }>('SELECT to_regclass($1)::oid::int AS oid', [
        `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.table)}`,
      ])
    ).rows[0]?.oid;
    if (!rel) {
      out.push(
        t.createTable
          ? warn(
              id('table'),
              `table ${table} does not exist; pgcdc consume will create it (createTable: true)`,
            )
          : error(
              id('table'),
              `table ${table} does not exist and createTable is false`,
              'create it with the contract columns plus _pgcdc_lsn bigint, _pgcdc_seq bigint, _pgcdc_event_id text, _pgcdc_synced_at timestamptz, or set createTable: true',
            ),
      );
      return out;
    }
    const cols = (await client.query<PgColumn>(COLUMNS_SQL, [rel])).rows;
    const m = compareColumns(cols, contract.columns);
    const problems = [
      ...m.missing.map((c) => `${c.name} missing`),
      ...m.wrongType.map((c) => `${c.name} is ${c.actual}, the contract says ${c.expected}`),
    ];
    const addBookkeeping: string[] = [];
    for (const [name, type, add] of BOOKKEEPING) {
      const c = cols.find((x) => x.name === name);
      if (!c) {
        problems.push(`${name} missing`);
        addBookkeeping.push(`ADD COLUMN ${name} ${add}`);
      } else if (c.type !== type) problems.push(`${name} is ${c.type}, must be ${type}`);
    }
    const required = m.extra.filter(
      (c) => c.notNull && !c.hasDefault && !BOOKKEEPING.some(([n]) => n === c.name),
    );
    for (const c of required)
      problems.push(`${c.name} is NOT NULL without a default and not in the contract`);
    if (problems.length) {
      const fix = [
        ...m.missing.map((c) => `ADD COLUMN ${pg.escapeIdentifier(c.name)} ${c.sqlType}`),
        ...m.wrongType.map((c) => `ALTER COLUMN ${pg.escapeIdentifier(c.name)} TYPE ${c.expected}`),
        ...addBookkeeping,
      ];
      out.push(
        error(
          id('columns'),
          `table ${table} does not fit the events: ${problems.join('; ')}`,
          fix.length
            ? `ALTER TABLE ${table} ${fix.join(', ')}; (or drop it and let createTable recreate it)`
            : `fix the columns of ${table} (or drop it and let createTable recreate it)`,
        ),
      );
    } else {
      out.push(
        ok(
          id('columns'),
          `table ${table} has the ${contract.columns.length} contract columns and the bookkeeping ones`,
        ),
      );
    }
    if (m.stricter.length) {
      out.push(
        warn(
          id('not_null'),
          `columns ${m.stricter.join(', ')} are NOT NULL at the target but nullable at the source: rows with NULLs will be dead-lettered`,
          `ALTER TABLE ${table} ${m.stricter.map((c) => `ALTER COLUMN ${pg.escapeIdentifier(c)} DROP NOT NULL`).join(', ')};`,
        ),
      );
    }
    const pk = (
      await client.query<{ cols: string[] | null }>(
        `SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols
           FROM pg_index i
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = $1 AND i.indisprimary`,
        [rel],
      )
    ).rows[0]?.cols;
    if (!pk || pk.join(',') !== contract.keyColumns.join(',')) {
      out.push(
        error(
          id('primary_key'),
          `table ${table} ${pk ? `has primary key (${pk.join(', ')})` : 'has no primary key'}; upserts need (${contract.keyColumns.join(', ')})`,
          `ALTER TABLE ${table} ADD PRIMARY KEY (${contract.keyColumns.join(', ')});`,
        ),
      );
    }
    const checks = await client.query<{ conname: string }>(
      "SELECT conname FROM pg_constraint WHERE conrelid = $1 AND contype = 'c'",
      [rel],
    );
    if (checks.rowCount) {
      out.push(
        info(
          id('constraints'),
          `table ${table} has CHECK constraint(s) ${checks.rows.map((r) => r.conname).join(', ')} the source may not have: rows violating them are dead-lettered`,
        ),
      );
    }
    out.push(...(await checkBookkeepingTables(client, t, contract)));
  } catch (err) {
    out.push(error(id('query'), `reading the target catalog failed: ${errMessage(err)}`, 'see the message'));
  } finally {
    await client.end().catch(() => undefined);
  }
  return out;
}

/** The bookkeeping tables beside the target table: delete markers and the truncate mark. */
const BOOKKEEPING_TABLES = [
  { what: 'delete-marker', check: 'delete_markers', name: deletedTableName, ddl: createDeletedTableSql },
  { what: 'truncate-mark', check: 'truncate_mark', name: truncatedTableName, ddl: createTruncatedTableSql },
] as const;

async function checkBookkeepingTables(
  client: pg.Client,
  t: PostgresTargetConfig,
  contract: TableContract,
): Promise<CheckResult[]> {
  const table = {
    schema: t.schema,
    table: t.table,
    columns: contract.columns,
    keyColumns: contract.keyColumns,
  };
  const out: CheckResult[] = [];
  for (const b of BOOKKEEPING_TABLES) {
    const name = `${t.schema}.${b.name(table)}`;
    const found = (
      await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid::int AS oid', [
        `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(b.name(table))}`,
      ])
    ).rows[0]?.oid;
    const id = `target.${t.name}.${b.check}`;
    out.push(
      found
        ? ok(id, `${b.what} table ${name} exists`)
        : t.createTable
          ? warn(
              id,
              `${b.what} table ${name} does not exist; pgcdc consume will create it (createTable: true)`,
            )
          : error(
              id,
              `${b.what} table ${name} does not exist and createTable is false: pgcdc consume refuses to start without it`,
              `${b.ddl(table).replace(/\s+/g, ' ')};`,
            ),
    );
  }
  return out;
}

async function checkWebhookTarget(t: WebhookTargetConfig): Promise<CheckResult[]> {
  const id = `target.${t.name}.connect`;
  const shown = redactUrl(t.url);
  try {
    // HEAD: nothing is delivered; any HTTP answer (even 404/405) proves the receiver is reachable.
    const res = await fetch(t.url, {
      method: 'HEAD',
      signal: AbortSignal.timeout(Math.round(t.connectTimeout * 1000) + 2000),
    });
    return [
      res.status >= 500
        ? warn(
            id,
            `webhook ${shown} answers HEAD with HTTP ${res.status}`,
            'check the receiver; deliveries will be retried',
          )
        : ok(id, `webhook ${shown} reachable (HEAD answered HTTP ${res.status})`),
    ];
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return [
      error(
        id,
        `webhook ${shown} unreachable: ${errMessage(err)}${cause}`,
        `start the receiver, or fix targets[${t.name}].url`,
      ),
    ];
  }
}
