// `pgcdc reconcile` of shaped targets on the real stack, under concurrent writes. Two targets in one
// peer database: `shop` (id-keyed: columns chosen, a rename, a computed field, filter is_active, soft
// delete) and `cms` (matched by email case-insensitively, its own uid, a rename, a computed field,
// filter !is_blocked, soft delete by timestamp, a row the CMS made itself). Drift injected at each:
// rows deleted and soft-deleted by hand, a renamed and a computed column edited, a row that left the
// filter / was deleted at the source while the consumers skipped those events (as past retention),
// a foreign row, a row revived by hand at the cms after its source row was deleted; plus a row
// changed at the source while its events wait in Kafka (lag, not drift).
// Each report names exactly that drift in the target's terms; --repair ends with both targets
// equal to the mapped, filtered source by an independent SQL comparison; the foreign rows survive.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../pipeline/config/load.ts';
import { reconcile, type TableReport } from '../../ops/reconcile/index.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  driftSamples,
  ownRowsWriter,
  reconcileWhileReturning,
  skipPastRetention,
} from '../support/reconcile.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runProducer,
  startTestConsumer,
  testApp,
  type PipelineEnv,
  type Stops,
} from '../support/pipeline.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

const SHOP = {
  name: 'shop',
  type: 'postgres',
  table: 'shop_users',
  mapping: {
    include: ['id', 'email', 'username', 'city', 'is_active'],
    rename: { username: 'login' },
    computed: { label: 'username + "@" + city.orValue("-")' },
    filter: 'is_active',
    deletePolicy: 'soft',
    softDelete: { column: 'deleted', type: 'boolean' },
  },
};
const CMS = {
  name: 'cms',
  type: 'postgres',
  table: 'fe_users',
  mapping: {
    include: ['email', 'username', 'first_name'],
    rename: { username: 'login' },
    computed: { name: 'first_name.orValue("") + "!"' },
    filter: '!is_blocked',
    match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
    deletePolicy: 'soft',
    softDelete: { column: 'deleted_at', type: 'timestamptz' },
  },
};

/** What each target must hold, straight from the source (not through the code under test). */
const SHOP_EXPECTED = `SELECT id::text, email, username AS login, city, username || '@' || coalesce(city, '-') AS label
  FROM users WHERE is_active ORDER BY id`;
const SHOP_ACTUAL = `SELECT id::text, email, login, city, label FROM shop_users
  WHERE NOT deleted AND _pgcdc_lsn IS NOT NULL ORDER BY id`;
const CMS_EXPECTED = `SELECT lower(email) AS email, username AS login, first_name, coalesce(first_name, '') || '!' AS name
  FROM users WHERE NOT is_blocked ORDER BY 1`;
const CMS_ACTUAL = `SELECT lower(email) AS email, login, first_name, name FROM fe_users f WHERE deleted_at IS NULL
  AND EXISTS (SELECT 1 FROM fe_users_pgcdc_links l WHERE l._pgcdc_target_key = f.uid::text) ORDER BY 1`;

async function equal(e: PipelineEnv, expected: string, actual: string) {
  const [a, b] = await Promise.all([query(e.source.url, expected), query(e.peer.url, actual)]);
  return JSON.stringify(a) === JSON.stringify(b) ? a.length : undefined;
}

describe('pgcdc reconcile of shaped targets', () => {
  it('id-keyed and matched targets: exactly the injected drift in their terms, and --repair', async () => {
    const env = await pipelineEnv(stackUrls(), 'rec_shape');
    const raw = parse(readFileSync(env.configFile, 'utf8')) as Record<string, unknown>;
    raw.targets = [
      { ...SHOP, url: env.peer.url },
      { ...CMS, url: env.peer.url },
    ];
    writeFileSync(env.configFile, stringify(raw));
    env.config = parseConfig(raw);
    const app = testApp(env.config);
    cleanup = () => dropPipelineEnv(env, app.kafka, stops);
    const deps = { config: env.config, pg: app.pg, kafka: app.kafka, logger: app.logger };
    await query(
      env.peer.url,
      `CREATE TABLE fe_users (uid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text, login text,
         first_name text, name text, deleted_at timestamptz);
       CREATE UNIQUE INDEX fe_users_email ON fe_users (lower(email));
       INSERT INTO fe_users (email, login, name) VALUES ('cms-only@cms.local', 'cms-only', 'Keep');`,
    );
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, first_name, city, is_active, is_blocked)
       SELECT g, 'U' || g || '@x.io', 'u' || g, CASE WHEN g % 4 <> 0 THEN 'F' || g END, CASE WHEN g % 3 <> 0 THEN 'Rome' END,
         g % 10 <> 0, g % 15 = 0
       FROM generate_series(1, 120) g;
       SELECT setval(pg_get_serial_sequence('users', 'id'), 1000)`,
    );
    runProducer(app, stops);
    const consumers = {
      shop: await startTestConsumer(app, 'shop'),
      cms: await startTestConsumer(app, 'cms'),
    };
    await waitUntil(() => equal(env, SHOP_EXPECTED, SHOP_ACTUAL), {
      what: 'shop synced',
      timeoutMs: 120_000,
    });
    await waitUntil(() => equal(env, CMS_EXPECTED, CMS_ACTUAL), { what: 'cms synced', timeoutMs: 120_000 });
    for (const name of ['shop', 'cms']) {
      const clean = await reconcile(deps, name, { chunkSize: 25 });
      expect(clean.drift, name).toBe(false);
      expect(clean.tables[0]!.compared, name).toBeGreaterThan(90);
    }
    await expect(reconcile(deps, 'cms', { repair: true, includeForeign: true })).rejects.toThrow(
      /matches rows by email: --include-foreign does not apply/,
    );

    // a source row deleted (both targets soft-delete it), then revived by hand at the cms below
    await query(env.source.url, 'DELETE FROM users WHERE id = 13');
    await waitUntil(
      async () =>
        (
          await query(
            env.peer.url,
            `SELECT 1 FROM shop_users s, fe_users f WHERE s.id = 13 AND s.deleted
               AND lower(f.email) = 'u13@x.io' AND f.deleted_at IS NOT NULL`,
          )
        ).length === 1,
      { what: 'row 13 soft-deleted at both targets', timeoutMs: 60_000 },
    );
    // changes the consumers never see (skipped as past retention): id 3 deleted, id 5 leaves shop's filter
    await skipPastRetention(app, env, {
      consumers: [consumers.shop, consumers.cms],
      change: async () => {
        await query(env.source.url, 'DELETE FROM users WHERE id = 3');
        await query(env.source.url, 'UPDATE users SET is_active = false WHERE id = 5');
      },
    });
    const writer = ownRowsWriter(env.source.url, {
      insert:
        "INSERT INTO users (email, username, first_name, is_active, is_blocked) VALUES ($1, 'w', 'W', true, false), ($2, 'w', NULL, $3, $4)",
      params: (n) => [n % 2 === 0, n % 3 === 0],
      set: "city = 'c' || $1::text, is_active = NOT is_active",
      pauseMs: 300,
    });
    stops.push(() => writer.stop());
    // a row changed at the source while its events wait in Kafka: lag, not drift
    await query(env.source.url, "UPDATE users SET city = 'Oslo', first_name = 'Zed' WHERE id = 4");
    // drift made by hand at the targets
    await query(
      env.peer.url,
      `DELETE FROM shop_users WHERE id = 1;
       UPDATE shop_users SET label = 'forged' WHERE id = 2;
       UPDATE shop_users SET login = 'renamed' WHERE id = 7;
       UPDATE shop_users SET deleted = true WHERE id = 6;
       ALTER TABLE shop_users ALTER COLUMN _pgcdc_lsn DROP NOT NULL, ALTER COLUMN _pgcdc_seq DROP NOT NULL,
         ALTER COLUMN _pgcdc_event_id DROP NOT NULL;
       INSERT INTO shop_users (id, email, login, city, is_active, label, deleted) VALUES (100000, 'f@x.io', 'f', NULL, true, 'f@-', false);
       UPDATE fe_users SET login = 'hacked' WHERE lower(email) = 'u7@x.io';
       UPDATE fe_users SET name = 'forged' WHERE lower(email) = 'u9@x.io';
       DELETE FROM fe_users WHERE lower(email) = 'u8@x.io';
       UPDATE fe_users SET deleted_at = now() WHERE lower(email) = 'u11@x.io';
       UPDATE fe_users SET deleted_at = NULL WHERE lower(email) = 'u13@x.io';`,
    );

    // the consumers come back only once each pass has begun: their backlog is lag, not drift
    const reports: Record<string, TableReport> = {};
    for (const name of ['shop', 'cms'] as const) {
      const { report: r, consumer } = await reconcileWhileReturning(app, deps, name, { chunkSize: 25 });
      consumers[name] = consumer;
      stops.push(() => consumers[name].stop());
      expect(r.drift).toBe(true);
      reports[name] = r.tables[0]!;
    }
    expect(driftSamples(reports.shop!)).toEqual({
      missing: ['1', '6'],
      differing: [
        { key: '2', columns: ['label'] },
        { key: '7', columns: ['login'] },
      ],
      extra: [
        { key: '100000', owned: false },
        { key: '3', owned: true },
        { key: '5', owned: true },
      ],
      unsettled: 0,
    });
    expect(driftSamples(reports.cms!)).toEqual({
      missing: ['11', '8'],
      differing: [
        { key: '7', columns: ['login'] },
        { key: '9', columns: ['name'] },
      ],
      extra: [
        { key: '13', owned: true }, // revived by hand behind its deleted link
        { key: '3', owned: true },
      ],
      unsettled: 0,
    });

    const shop = await reconcile(deps, 'shop', { chunkSize: 25, repair: true });
    expect(shop.tables[0]!.repaired).toMatchObject({ fed: 4, removed: 2 });
    // the shop's feed reached the cms too (every target receives a fed row): its row 7 is right again
    const cms = await reconcile(deps, 'cms', { chunkSize: 25, repair: true });
    expect(cms.tables[0]!.samples.differing).toEqual([{ key: '9', columns: ['name'] }]);
    expect(cms.tables[0]!.repaired).toMatchObject({ fed: 3, removed: 2 });
    await writer.stop();
    await waitUntil(() => equal(env, SHOP_EXPECTED, SHOP_ACTUAL), {
      what: 'shop to equal the mapped, filtered source',
      timeoutMs: 120_000,
    });
    await waitUntil(() => equal(env, CMS_EXPECTED, CMS_ACTUAL), {
      what: 'cms to equal the mapped, filtered source',
      timeoutMs: 120_000,
    });
    expect(
      await query(env.peer.url, 'SELECT deleted FROM shop_users WHERE id IN (5, 100000) ORDER BY id'),
    ).toEqual([{ deleted: true }, { deleted: false }]);
    expect(
      await query(env.peer.url, "SELECT login, deleted_at FROM fe_users WHERE email = 'cms-only@cms.local'"),
    ).toEqual([{ login: 'cms-only', deleted_at: null }]);
    expect(
      await query(
        env.peer.url,
        "SELECT deleted_at IS NOT NULL AS soft FROM fe_users WHERE lower(email) = 'u13@x.io'",
      ),
    ).toEqual([{ soft: true }]);
    const after = await reconcile(deps, 'shop', { chunkSize: 25 });
    expect(after.tables[0]!.extra).toEqual({ owned: 0, foreign: 1 });
    expect(after.drift).toBe(false);
    expect((await reconcile(deps, 'cms', { chunkSize: 25 })).drift).toBe(false);
  }, 600_000);
});
