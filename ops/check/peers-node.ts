// `pgcdc check`, the peer-specific facts of one node (docs/peers.md): what the links that apply the
// other nodes' changes here need beyond what any source needs. Read in one query (NODE_FACTS_SQL);
// judged by a pure function, so each verdict and its fix are table-tested.
import pg from 'pg';
import type { SourceConfig } from '../../pipeline/config/schema.ts';
import { ORIGIN_FUNCTIONS } from '../../consumers/peer/origin.ts';
import { error, ok, warn, type CheckResult } from './types.ts';

export interface NodeFacts {
  version: number;
  track_commit_timestamp: string;
  /** how many replication origins can be in use at once on the server (max_replication_slots before 18) */
  origin_capacity: number;
  /**
   * origins of other meshes (or left over) holding one of those places: an origin keeps its place
   * (and its progress) from its first use until it is dropped, running or not. Undefined: the
   * role may not read pg_replication_origin_status.
   */
  origins_held_elsewhere?: string[] | undefined;
  role: string;
  rolsuper: boolean;
  /** the ORIGIN_FUNCTIONS the role may not execute */
  origin_missing: string[];
  /** the table exists */
  table: boolean;
  /** INSERT, UPDATE, DELETE, SELECT the role lacks on the table */
  write_missing: string[];
  owns: boolean;
  can_create: boolean;
  /** the tables beside the table and the local-delete trigger exist */
  beside: boolean;
  trigger: boolean;
  db: string;
  server: string;
}

const FN_LIST = ORIGIN_FUNCTIONS.map((f) => `'${f}'`).join(', ');

/** $1 schema, $2 table. */
export const NODE_FACTS_SQL = `
WITH t AS (
  SELECT c.oid, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))
SELECT current_setting('server_version_num')::int AS version,
       current_setting('track_commit_timestamp') AS track_commit_timestamp,
       CASE WHEN current_setting('server_version_num')::int >= 180000
            THEN current_setting('max_active_replication_origins', true)::int
            ELSE current_setting('max_replication_slots')::int END AS origin_capacity,
       r.rolname::text AS role, r.rolsuper,
       ARRAY(SELECT f FROM unnest(ARRAY[${FN_LIST}]) f
              WHERE NOT has_function_privilege(f, 'EXECUTE')) AS origin_missing,
       EXISTS (SELECT 1 FROM t) AS table,
       ARRAY(SELECT p FROM t, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p
              WHERE NOT has_table_privilege(t.oid, p)) AS write_missing,
       COALESCE((SELECT pg_has_role(t.relowner, 'USAGE') FROM t), false) AS owns,
       has_schema_privilege($1, 'CREATE') AS can_create,
       (to_regclass(format('%I.%I', $1, $2 || '_pgcdc_peer')) IS NOT NULL
        AND to_regclass(format('%I.%I', $1, $2 || '_pgcdc_local_deleted')) IS NOT NULL
        AND to_regclass(format('%I.%I', $1, $2 || '_pgcdc_conflicts')) IS NOT NULL) AS beside,
       EXISTS (SELECT 1 FROM pg_trigger g, t WHERE g.tgrelid = t.oid
                AND g.tgname = $2 || '_pgcdc_peer_local_delete') AS trigger,
       current_database()::text AS db,
       COALESCE(inet_server_addr()::text, 'local') || ':' || current_setting('port') AS server
  FROM pg_roles r WHERE r.rolname = current_user`;

/** The verdicts on one node's facts; `nodes` is the size of the mesh. Ids are relative to the node. */
export function judgeNode(f: NodeFacts, nodes: number, src: SourceConfig): CheckResult[] {
  const table = `${src.schema}.${src.table}`;
  const role = pg.escapeIdentifier(f.role);
  const out: CheckResult[] = [];
  if (f.version < 140000)
    out.push(
      error(
        'version',
        `PostgreSQL ${f.version} is too old for peers: reading a row's replication origin (pg_xact_commit_timestamp_origin) needs 14, and pgcdc is tested on 15 and 16+`,
        'upgrade the node to PostgreSQL 15 or later',
      ),
    );
  else if (f.version < 150000)
    out.push(
      warn(
        'version',
        `PostgreSQL ${f.version}: peers are tested on 15 and 16+ only`,
        'upgrade to 15 or later',
      ),
    );
  if (f.track_commit_timestamp !== 'on')
    out.push(
      error(
        'track_commit_timestamp',
        'track_commit_timestamp is off: conflicts are decided by the source commit time, which the node cannot read',
        'ALTER SYSTEM SET track_commit_timestamp = on; then restart PostgreSQL (managed services: the parameter group)',
      ),
    );
  else out.push(ok('track_commit_timestamp', 'track_commit_timestamp is on'));
  if (f.origin_missing.length > 0)
    out.push(
      error(
        'origins',
        `role ${f.role} may not use replication origins (no EXECUTE on ${f.origin_missing.join(', ')}): the links cannot mark what they apply, and every applied change would be published again (an echo); a superuser grants it in this database`,
        `${f.origin_missing.map((fn) => `GRANT EXECUTE ON FUNCTION ${fn} TO ${role};`).join(' ')}`,
      ),
    );
  else
    out.push(ok('origins', `role ${f.role} may use replication origins${f.rolsuper ? ' (superuser)' : ''}`));
  const linksIn = nodes - 1;
  const held = f.origins_held_elsewhere ?? [];
  if (f.origin_capacity >= linksIn && f.origin_capacity - held.length < linksIn)
    out.push(
      error(
        'origin_capacity',
        `the server lets ${f.origin_capacity} replication origins be in use at once, and ${held.length} other origins hold a place (${held.slice(0, 5).join(', ')}${held.length > 5 ? ', ...' : ''}): the ${linksIn} links into this node need one each, or they cannot start ("could not find free replication state slot")`,
        `drop the origins no longer used (SELECT pg_replication_origin_drop('<name>')), or raise ${f.version >= 180000 ? 'max_active_replication_origins' : 'max_replication_slots'} and restart PostgreSQL`,
      ),
    );
  if (f.origin_capacity < linksIn)
    out.push(
      error(
        'origin_capacity',
        `the server lets ${f.origin_capacity} replication origins be in use at once; the ${linksIn} links into this node need one each (nodes sharing the server need theirs too)`,
        `raise ${f.version >= 180000 ? 'max_active_replication_origins' : 'max_replication_slots'} to at least ${linksIn + 1} and restart PostgreSQL`,
      ),
    );
  if (!f.table) return out; // checkSource reports the missing table
  if (f.write_missing.length > 0)
    out.push(
      error(
        'write',
        `role ${f.role} lacks ${f.write_missing.join(', ')} on ${table}: the links cannot apply the other nodes' changes`,
        `GRANT ${f.write_missing.join(', ')} ON ${table} TO ${role};`,
      ),
    );
  else out.push(ok('write', `role ${f.role} may read and write ${table}`));
  out.push(...judgeBeside(f, table, role));
  return out;
}

/** The version, local-delete and conflict tables beside the table, and the trigger feeding one. */
function judgeBeside(f: NodeFacts, table: string, role: string): CheckResult[] {
  if (f.beside && f.trigger)
    return [
      ok(
        'beside',
        `the tables beside ${table} (versions, local deletes, conflict log) and its trigger exist`,
      ),
    ];
  const missing = [...(f.beside ? [] : ['the tables beside it']), ...(f.trigger ? [] : ['its trigger'])];
  const can = (f.beside || f.can_create) && (f.trigger || f.owns);
  if (can)
    return [
      warn(
        'beside',
        `${missing.join(' and ')} do not exist yet; the first link into this node creates them (${table}_pgcdc_peer, _pgcdc_local_deleted, _pgcdc_conflicts, a trigger on ${table})`,
        'nothing to do',
      ),
    ];
  const grants = [
    ...(f.beside || f.can_create ? [] : [`GRANT CREATE ON SCHEMA ${table.split('.')[0]} TO ${role};`]),
    ...(f.trigger || f.owns
      ? []
      : [`ALTER TABLE ${table} OWNER TO ${role}; (or let the owner start the link once)`]),
  ];
  return [
    error(
      'beside',
      `${missing.join(' and ')} do not exist and role ${f.role} cannot create them: the links would fail at their first batch`,
      grants.join(' '),
    ),
  ];
}
