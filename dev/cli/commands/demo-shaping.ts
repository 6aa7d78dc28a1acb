// `pgcdc demo` also syncs a differently shaped Postgres peer (target "cms", docs/shaping.md
// "Example: a CMS user table") beside the identical peer: the CMS's own `fe_users` table with its
// auto-increment uid, renamed and computed columns, a constant, the filter
// `is_active && !is_blocked`, users matched by email (case-insensitively) and soft-deleted. This
// module adds that target to the demo's configuration (before the app is built, so the producer
// knows its filter), resets its table, group and dead-letter topic, creates `fe_users` with a row
// the CMS made itself, runs the consumer, and at the end compares the table with an independent
// SQL query of the mapped, filtered source (not the mapping code) and checks that the CMS's own
// row is untouched (owned rows only). The target and the CMS's table are exported for
// test/shaping/cms.int.test.ts, which syncs the same CMS under random writes.
import pg from 'pg';
import { startConsumer, type App } from '../../../pipeline/compose.ts';
import {
  PostgresTargetSchema,
  type Config,
  type PostgresTargetConfig,
} from '../../../pipeline/config/schema.ts';
import { compareUntilEqual, resetDemoTarget, withClient, type DemoPart } from './demo-support.ts';

const CMS_TABLE = 'fe_users';
const CMS_OWN_EMAIL = 'editor@cms.local';

/**
 * The CMS target of docs/shaping.md, as written in a configuration file (unparsed): the demo adds
 * it to its configuration, test/shaping/cms.int.test.ts writes it into the file its CLI reads.
 */
export function cmsTarget(url: string, name = 'cms') {
  return {
    name,
    type: 'postgres' as const,
    url,
    tables: [{ name: 'public.users', table: CMS_TABLE }],
    mapping: {
      include: ['email', 'username', 'first_name', 'middle_name', 'last_name', 'is_active', 'bio'],
      rename: { username: 'login' },
      constants: { pid: { value: 7 } },
      computed: {
        name: '[first_name, middle_name, last_name].filter(x, x.hasValue()).map(x, x.value()).join(" ")',
        disable: '!is_active',
      },
      filter: 'is_active && !is_blocked',
      match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
      deletePolicy: 'soft' as const,
      softDelete: { column: 'deleted', type: 'boolean' as const },
    },
  };
}

/**
 * The CMS's own table (its auto-increment uid, its columns, a unique lower(email)) and rows the
 * CMS made itself, as SQL for the peer.
 */
export function cmsTableSql(ownRows: { email: string; login: string; name: string }[]): string {
  const lit = pg.escapeLiteral;
  const rows = ownRows.map((r) => `(${lit(r.email)}, ${lit(r.login)}, ${lit(r.name)})`).join(', ');
  return `CREATE TABLE ${CMS_TABLE} (uid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text, login text, name text,
       first_name text, middle_name text, last_name text, is_active boolean, bio text, pid bigint, disable boolean,
       deleted boolean NOT NULL DEFAULT false);
     CREATE UNIQUE INDEX ${CMS_TABLE}_email ON ${CMS_TABLE} (lower(email));
     ${rows ? `INSERT INTO ${CMS_TABLE} (email, login, name) VALUES ${rows}` : ''}`;
}

/** Adds the CMS target (cmsTarget) at the demo's peer to the demo's configuration. */
export function addShapedDemoTarget(config: Config, peerUrl: string): PostgresTargetConfig {
  const target = PostgresTargetSchema.parse(cmsTarget(peerUrl));
  config.targets.push(target);
  return target;
}

/** Drops what an earlier demo left (table, bookkeeping, group, DLQ) and creates the CMS's own table. */
export async function resetShapedDemo(app: App, target: PostgresTargetConfig): Promise<void> {
  await withClient(target.url, async (c) => {
    await resetDemoTarget(app, { ...target, table: CMS_TABLE }, (t) =>
      c.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(t)}`),
    );
    await c.query(cmsTableSql([{ email: CMS_OWN_EMAIL, login: 'editor', name: 'CMS Editor' }]));
  });
}

/**
 * What the CMS must hold, computed straight from the source by SQL: one line per active, unblocked
 * user, keyed by lower(email); the bio as its md5 (it may be large).
 */
const EXPECTED = `SELECT lower(email) AS k, row(username, first_name, middle_name, last_name, is_active,
    concat_ws(' ', first_name, middle_name, last_name), NOT is_active, 7, md5(coalesce(bio, '')))::text AS v
  FROM public.users WHERE is_active AND NOT is_blocked`;
/** What the CMS holds: its live (not soft-deleted) rows that pgcdc created or adopted. */
const ACTUAL = `SELECT lower(email) AS k, row(login, first_name, middle_name, last_name, is_active,
    name, disable, pid, md5(coalesce(bio, '')))::text AS v
  FROM ${CMS_TABLE} f WHERE NOT deleted
    AND EXISTS (SELECT 1 FROM ${CMS_TABLE}_pgcdc_links l WHERE l._pgcdc_target_key = f.uid::text)`;
const COUNTS = `SELECT count(*) FILTER (WHERE deleted)::int AS soft,
    bool_and(login = 'editor' AND name = 'CMS Editor' AND NOT deleted) FILTER (WHERE email = '${CMS_OWN_EMAIL}') AS own_kept
  FROM ${CMS_TABLE}`;

interface Verdict {
  equal: boolean;
  expected: number;
  actual: number;
  differences: string[];
}

async function compare(sourceUrl: string, peerUrl: string): Promise<Verdict> {
  const rows = (url: string, sql: string) =>
    withClient(url, async (c) => {
      const r = await c.query<{ k: string; v: string }>(sql);
      return new Map(r.rows.map((x) => [x.k, x.v]));
    });
  const [want, have] = await Promise.all([rows(sourceUrl, EXPECTED), rows(peerUrl, ACTUAL)]);
  const differences: string[] = [];
  for (const [k, v] of want)
    if (!have.has(k)) differences.push(`${k} missing`);
    else if (have.get(k) !== v) differences.push(`${k} differs`);
  for (const k of have.keys()) if (!want.has(k)) differences.push(`${k} should not be there`);
  return { equal: differences.length === 0, expected: want.size, actual: have.size, differences };
}

/** Starts the CMS consumer; its check waits (deadline 120 s) until the CMS equals the SQL of the source. */
export async function startShapedDemo(app: App, target: PostgresTargetConfig): Promise<DemoPart> {
  const consumer = await startConsumer(app, target.name);
  const sourceUrl = app.config.source.url;
  return {
    async check(say) {
      const r = await compareUntilEqual(() => compare(sourceUrl, target.url));
      const counts = await withClient(target.url, (c) =>
        c.query<{ soft: number; own_kept: boolean | null }>(COUNTS),
      );
      const { soft, own_kept: ownKept } = counts.rows[0]!;
      const st = consumer.status();
      say(
        `target "${target.name}" (shaped: ${CMS_TABLE}, own uid, matched by email, filter is_active && !is_blocked, soft delete): ` +
          `${st.applied} events applied, ${st.deadLettered} dead-lettered`,
      );
      say(
        r.equal
          ? `${CMS_TABLE}: equal to the mapped, filtered source (independent SQL): ${r.actual} live rows, ${soft} soft-deleted, the CMS's own row ${ownKept ? 'kept' : 'CHANGED'}`
          : `${CMS_TABLE}: NOT equal: ${r.expected} rows expected from the source, ${r.actual} live at the CMS; ${r.differences.slice(0, 5).join('; ')}`,
      );
      return r.equal && ownKept === true && st.deadLettered === 0;
    },
    stop: () => consumer.stop(),
  };
}
