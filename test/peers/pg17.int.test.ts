// Peers on PostgreSQL 16+ (docs/peers.md, "No echo"): the server filters origin-marked
// transactions itself when START_REPLICATION asks for `origin 'none'`, so a transaction a link
// applied never reaches the producer at all. The stack's server is PostgreSQL 15 (the Origin
// message path); this file runs a three-node mesh on a PostgreSQL 17 cluster of its own (the
// portable build from Maven Central, dev/stack/postgres-portable.ts, on a free port or
// PGCDC_STACK_PG17_PORT), with the stack's Kafka and registry. Proved: every node converges, each
// topic holds exactly its node's local writes, rows the links applied carry a replication origin,
// and the producers' client-side filter never saw an Origin message (the server dropped those
// transactions). Skipped, saying why, only when Maven Central cannot be reached and CI is unset.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../dev/stack/ports.ts';
import {
  PortableDownloadError,
  startScratchPostgres,
  type ScratchPostgres,
} from '../../dev/stack/postgres-portable.ts';
import { stackSettingsFromEnv } from '../../dev/stack/settings.ts';
import { OriginFilter } from '../../producers/postgres/origin.ts';
import {
  expectLocalWritesOnly,
  meshEnv,
  sql,
  startMesh,
  waitSlotsConsistent,
  type Mesh,
  type MeshEnv,
} from '../support/peers.ts';
import { stackUrls } from '../support/stack.ts';

describe('peers on PostgreSQL 17: origin none', () => {
  const ctx = {} as { pg?: ScratchPostgres; env?: MeshEnv; mesh?: Mesh; skipped?: string };
  // what the producers' client-side filter saw: Origin messages mean the server did not filter
  // (a spy calls the real method through and keeps every message it was given)
  const spy = vi.spyOn(OriginFilter.prototype, 'pass');
  const seen = (tag: string) => spy.mock.calls.filter(([m]) => m.tag === tag).length;

  beforeAll(async () => {
    const settings = stackSettingsFromEnv(process.env);
    const t0 = Date.now();
    try {
      const port = Number(process.env.PGCDC_STACK_PG17_PORT ?? (await freePort()));
      ctx.pg = await startScratchPostgres(settings, {
        name: 'pg17-peers',
        port,
        log: (m) => console.error(`[pg17] ${m}`),
      });
    } catch (err) {
      if (!(err instanceof PortableDownloadError) || process.env.CI) throw err;
      ctx.skipped = `PostgreSQL 17 cannot be downloaded here: ${err.message} (${err.hint ?? ''})`;
      console.error(`[pg17] SKIPPED: ${ctx.skipped}`);
      return;
    }
    console.error(
      `[pg17] PostgreSQL ${ctx.pg.version} ready in ${Date.now() - t0} ms on port ${ctx.pg.port}`,
    );
    ctx.env = await meshEnv({ ...stackUrls(), adminUrl: ctx.pg.adminUrl }, 3);
    ctx.mesh = await startMesh(ctx.env);
  }, 240_000);

  afterAll(async () => {
    spy.mockRestore();
    await ctx.mesh?.stop();
    await ctx.env?.drop(ctx.mesh?.app);
    await ctx.pg?.stop();
  }, 180_000);

  it('the server drops applied transactions: no echo, topics hold the local writes', async (t) => {
    if (ctx.skipped) return t.skip(ctx.skipped);
    const env = ctx.env!;
    const mesh = ctx.mesh!;
    for (const { name } of env.nodes) {
      const v = await sql<{ v: number }>(
        env.url(name),
        `SELECT current_setting('server_version_num')::int AS v`,
      );
      expect(v.rows[0]!.v).toBeGreaterThanOrEqual(170000);
    }
    await waitSlotsConsistent(env);
    await expectLocalWritesOnly(env, mesh);
    // the links' writes carry their origin (so an Origin message would follow their Begin) ...
    const applied = await sql<{ n: number }>(
      env.url('b'),
      `SELECT count(*)::int AS n FROM users u, LATERAL pg_xact_commit_timestamp_origin(u.xmin) o
        WHERE o.roident <> 0`,
    );
    expect(applied.rows[0]!.n).toBeGreaterThan(0);
    // ... yet no producer ever received one: the server filtered those transactions (origin 'none')
    expect(seen('begin'), 'transactions the producers received').toBeGreaterThan(0);
    expect(seen('origin'), 'Origin messages the producers received').toBe(0);
  }, 240_000);
});
