// Origin marking (docs/peers.md, "No echo"): the session of a peer sink that applies node A's
// changes at node B sets up the replication origin `pgcdc_<mesh>_<A>_<B>` once per connection, so
// every transaction it commits carries that origin in B's WAL, and B's producer skips it
// (producers/postgres/origin.ts). The session also sets pgcdc.peer_apply, which the local-delete
// trigger (sql.ts) reads to leave the sink's own deletes to the sink. Replication origins are
// cluster-wide and one session at a time may use one: each link has its own.
//
// Privileges (PostgreSQL 15 and 16+ alike): the pg_replication_origin_* functions are revoked
// from PUBLIC, so the sink's role is a superuser or has been granted EXECUTE on the three functions
// in ORIGIN_FUNCTIONS by one (`pgcdc check` says which grant is missing). On 16+ the producer's
// server-side filter (`origin 'none'`) needs nothing beyond the REPLICATION it already has.
import type pg from 'pg';
import { APPLYING_SETTING } from './sql.ts';

/** The origin of the link applying `from`'s changes at `to` in mesh `mesh`. */
export const originName = (mesh: string, from: string, to: string) => `pgcdc_${mesh}_${from}_${to}`;

/** The functions a non-superuser sink role needs EXECUTE on (granted by a superuser). */
export const ORIGIN_FUNCTIONS = [
  'pg_replication_origin_create(text)',
  'pg_replication_origin_oid(text)',
  'pg_replication_origin_session_setup(text)',
] as const;

/** Marks every later transaction of this session with the link's origin (creating it once). */
export async function markSessionOrigin(client: pg.Client, origin: string): Promise<void> {
  await client.query(
    `SELECT pg_replication_origin_create($1::text) WHERE pg_replication_origin_oid($1::text) IS NULL`,
    [origin],
  );
  await client.query(`SELECT pg_replication_origin_session_setup($1::text)`, [origin]);
  await client.query(`SELECT set_config('${APPLYING_SETTING}', 'on', false)`);
}
