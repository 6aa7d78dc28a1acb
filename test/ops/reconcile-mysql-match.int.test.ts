// `pgcdc reconcile` of a CMS-shaped MariaDB target on the real stack, under concurrent writes: the
// CMS's own `fe_users` (its AUTO_INCREMENT uid, a case-insensitive unique email) matched by email
// (consumers/mysql/match-sink.ts), a rename, a computed field, a constant, filter `!is_blocked`,
// soft delete by a boolean; a row the CMS made itself and a twin the sync adopts. Reconcile reads it
// through the links table, keyed by the source key. Drift injected at the CMS: a column edited (a
// renamed one, a computed one), a row deleted and one soft-deleted by hand, a row revived by hand
// after its source row was deleted, owned rows whose source row was deleted or left the filter
// while the consumer skipped those events (as past retention), a new row the CMS made itself; and a
// row changed at the source while its events wait in Kafka (lag, not drift). The report names
// exactly that drift in source keys (never the CMS's own rows); --repair ends with the CMS equal to
// the mapped, filtered source by independent SQL on each side, the CMS's own rows untouched, and a
// second run finds no drift; the schedule (reconcile.every, mode repair) finds and repairs drift too.
import { afterAll, describe, expect, it } from 'vitest';
import { reconcile, type ReconcileReport, type TableReport } from '../../ops/reconcile/index.ts';
import { startReconcileSchedule } from '../../ops/reconcile/schedule.ts';
import type { MysqlTargetConfig } from '../../pipeline/config/schema.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  driftSamples,
  ownRowsWriter,
  reconcileWhileReturning,
  skipPastRetention,
} from '../support/reconcile.ts';
import {
  dropPipelineEnv,
  query,
  runCli,
  runProducer,
  startTestConsumer,
  testApp,
  type Stops,
} from '../support/pipeline.ts';
import { mysqlPipelineEnv, mysqlRows, withMysql, type MysqlPipelineEnv } from '../mysql/support.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

const CMS = {
  table: 'fe_users',
  mapping: {
    include: ['email', 'username', 'first_name'],
    rename: { username: 'login' },
    constants: { pid: { value: 7 } },
    computed: { name: 'first_name.orValue("") + "!"' },
    filter: '!is_blocked',
    match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
    deletePolicy: 'soft',
    softDelete: { column: 'deleted', type: 'boolean' },
  },
};

/** The CMS's own table in MariaDB, a row it made itself and a twin of source row 2. */
const CMS_TABLE = [
  `CREATE TABLE fe_users (uid INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
     email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL, login VARCHAR(255) NULL,
     first_name VARCHAR(255) NULL, name VARCHAR(1000) NULL, pid BIGINT NULL,
     deleted BOOLEAN NOT NULL DEFAULT FALSE, UNIQUE KEY fe_users_email (email)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `INSERT INTO fe_users (email, login, name) VALUES ('cms-only@cms.local', 'cms-only', 'Keep'), ('u2@x.io', 'cms-twin', 'Old')`,
];

/** What the CMS must hold, straight from the source (not through the code under test). */
const EXPECTED = `SELECT lower(email) AS email, username AS login, first_name, coalesce(first_name, '') || '!' AS name,
  '7' AS pid FROM users WHERE NOT is_blocked`;
/** What it holds: its live rows that pgcdc created or adopted (a revived row's link is there too). */
const ACTUAL = `SELECT lower(email) AS email, login, first_name, name, CAST(pid AS CHAR) AS pid FROM fe_users f
  WHERE NOT deleted AND EXISTS (SELECT 1 FROM fe_users_pgcdc_links l WHERE l._pgcdc_target_key = f.uid)`;
const FOREIGN = `SELECT email, login, name, CAST(deleted AS CHAR) AS deleted FROM fe_users
  WHERE email IN ('cms-only@cms.local', 'cms-new@cms.local') ORDER BY email`;

const sorted = (rows: object[]) => rows.map((r) => JSON.stringify(r)).sort();

async function equal(env: MysqlPipelineEnv): Promise<number | false> {
  const [want, have] = await Promise.all([
    query(env.source.url, EXPECTED),
    mysqlRows(env.mysql.url, ACTUAL).catch(() => undefined), // the links table appears at the start
  ]);
  return have !== undefined && JSON.stringify(sorted(want)) === JSON.stringify(sorted(have)) && want.length;
}

const softDeleted = async (env: MysqlPipelineEnv, email: string) =>
  (
    await mysqlRows(env.mysql.url, 'SELECT CAST(deleted AS CHAR) AS d FROM fe_users WHERE email = ?', [email])
  )[0]?.d === '1';

describe('pgcdc reconcile of a matched MariaDB target', () => {
  it('exactly the injected drift in source keys, --repair, a clean second run, and the schedule', async () => {
    const env = await mysqlPipelineEnv(stackUrls(), 'rec_mym', CMS);
    const app = testApp(env.config);
    cleanup = () => dropPipelineEnv(env, app.kafka, stops);
    const deps = { config: env.config, pg: app.pg, kafka: app.kafka, logger: app.logger };
    await withMysql(env.mysql.url, async (c) => {
      for (const sql of CMS_TABLE) await c.query(sql);
    });
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, first_name, is_active, is_blocked)
       SELECT g, 'U' || g || '@x.io', 'u' || g, CASE WHEN g % 4 <> 0 THEN 'F' || g END, true, g % 15 = 0
       FROM generate_series(1, 120) g;
       SELECT setval(pg_get_serial_sequence('users', 'id'), 1000)`,
    );
    runProducer(app, stops);
    let consumer = await startTestConsumer(app, 'peer');
    await waitUntil(() => equal(env), { what: 'the CMS synced', timeoutMs: 120_000 });
    expect(
      await mysqlRows(
        env.mysql.url,
        "SELECT CAST(uid AS CHAR) AS uid, login FROM fe_users WHERE email = 'u2@x.io'",
      ),
    ).toEqual([{ uid: '2', login: 'u2' }]); // the twin adopted: its uid kept
    const clean = await reconcile(deps, 'peer', { chunkSize: 25 });
    expect(clean.drift).toBe(false);
    expect(clean.tables[0]).toMatchObject({ compared: 112, missing: 0, differing: 0, unsettled: 0 });
    expect(clean.tables[0]!.extra).toEqual({ owned: 0, foreign: 0 }); // the CMS's own row is not judged
    await expect(reconcile(deps, 'peer', { repair: true, includeForeign: true })).rejects.toThrow(
      /matches rows by email: --include-foreign does not apply/,
    );

    // a source row deleted (the CMS soft-deletes it), then revived by hand at the CMS below
    await query(env.source.url, 'DELETE FROM users WHERE id = 13');
    await waitUntil(() => softDeleted(env, 'u13@x.io'), { what: 'row 13 soft-deleted', timeoutMs: 60_000 });
    // changes the consumer never sees (skipped as past retention): id 3 deleted, id 5 leaves the filter
    await skipPastRetention(app, env, {
      consumers: [consumer],
      change: async () => {
        await query(env.source.url, 'DELETE FROM users WHERE id = 3');
        await query(env.source.url, 'UPDATE users SET is_blocked = true WHERE id = 5');
      },
    });
    const writer = ownRowsWriter(env.source.url, {
      insert:
        "INSERT INTO users (email, username, first_name, is_blocked) VALUES ($1, 'w', 'W', false), ($2, 'w', NULL, $3)",
      params: (n) => [n % 3 === 0],
      set: "first_name = 'c' || $1::text, is_blocked = NOT is_blocked",
      pauseMs: 300,
    });
    stops.push(() => writer.stop());
    // a row changed at the source while its events wait in Kafka: lag, not drift
    await query(env.source.url, "UPDATE users SET first_name = 'Zed' WHERE id = 4");
    // drift made by hand at the CMS
    await withMysql(env.mysql.url, async (c) => {
      await c.query("UPDATE fe_users SET login = 'hacked' WHERE email = 'u7@x.io'");
      await c.query("UPDATE fe_users SET name = 'forged' WHERE email = 'u9@x.io'");
      await c.query("DELETE FROM fe_users WHERE email = 'u8@x.io'");
      await c.query("UPDATE fe_users SET deleted = TRUE WHERE email = 'u11@x.io'");
      await c.query("UPDATE fe_users SET deleted = FALSE WHERE email = 'u13@x.io'");
      await c.query("INSERT INTO fe_users (email, login, name) VALUES ('cms-new@cms.local', 'new', 'New')");
    });

    // the consumer comes back only once the pass has begun: its backlog is lag, not drift
    const run = await reconcileWhileReturning(app, deps, 'peer', { chunkSize: 25 });
    consumer = run.consumer;
    stops.push(() => consumer.stop());
    const injected = {
      missing: ['11', '8'],
      differing: [
        { key: '7', columns: ['login'] },
        { key: '9', columns: ['name'] },
      ],
      extra: [
        { key: '13', owned: true }, // revived by hand behind its deleted link
        { key: '3', owned: true },
        { key: '5', owned: true },
      ],
      unsettled: 0,
    };
    expect(run.report.drift).toBe(true);
    expect(driftSamples(run.report.tables[0]!)).toEqual(injected);
    // the operator's verb: the same report as JSON, exit code 4 (drift)
    const cli = await runCli(
      ['reconcile', '-c', env.configFile, '-t', 'peer', '--chunk-size', '25', '--json'],
      240_000,
    );
    expect(cli.code, cli.stderr).toBe(4);
    expect(driftSamples((JSON.parse(cli.stdout) as ReconcileReport).tables[0]!)).toEqual(injected);

    const repaired = await reconcile(deps, 'peer', { chunkSize: 25, repair: true });
    expect(repaired.tables[0]!.repaired).toMatchObject({ fed: 4, removed: 3 });
    await writer.stop();
    await waitUntil(() => equal(env), {
      what: 'the CMS to equal the mapped, filtered source',
      timeoutMs: 120_000,
    });
    // removal by the delete policy (soft), owned rows only: the CMS's own rows untouched
    for (const email of ['u3@x.io', 'u5@x.io', 'u13@x.io'])
      expect(await softDeleted(env, email), email).toBe(true);
    expect(await mysqlRows(env.mysql.url, FOREIGN)).toEqual([
      { email: 'cms-new@cms.local', login: 'new', name: 'New', deleted: '0' },
      { email: 'cms-only@cms.local', login: 'cms-only', name: 'Keep', deleted: '0' },
    ]);
    const after = await reconcile(deps, 'peer', { chunkSize: 25 });
    expect(after.drift).toBe(false);
    expect(after.undecided).toBe(false);
    // the text report, exit code 0, progress lines on stderr off a terminal
    const text = await runCli(
      ['reconcile', '-c', env.configFile, '-t', 'peer', '--chunk-size', '25', '--interval', '0'],
      240_000,
    );
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/reconcile of target peer: no drift: the target holds what the source holds/);
    expect(text.stdout).toMatch(/public\.users -> \w+\.fe_users: \d+ rows compared/);
    expect(text.stderr).toMatch(/^reconcile public\.users: /m);

    // the schedule (reconcile.every, mode repair) finds and repairs drift at this target too
    await mysqlRows(env.mysql.url, "UPDATE fe_users SET login = 'again' WHERE email = 'u20@x.io'");
    const target = env.config.targets[0] as MysqlTargetConfig;
    const schedule = startReconcileSchedule(
      { ...deps, metrics: app.metrics },
      {
        ...target,
        reconcile: { every: 1, mode: 'repair', includeForeign: false, chunkSize: 25, settleTimeout: 60 },
      },
    )!;
    stops.push(() => schedule.stop());
    let found: TableReport | undefined;
    await waitUntil(
      () => {
        const r = schedule.last();
        const t = r?.tables[0];
        if (t?.samples.differing.some((d) => d.key === '20')) found = t;
        return found !== undefined && r !== undefined && !r.drift && !r.undecided;
      },
      { what: 'a scheduled run to repair row 20 and a later one to find no drift', timeoutMs: 180_000 },
    );
    expect(found).toMatchObject({ differing: 1, missing: 0, repaired: { fed: 1, removed: 0 } });
    const metrics = await app.metrics.registry.metrics();
    expect(metrics).toContain('pgcdc_reconcile_drift{target="peer"} 0');
    await schedule.stop();
    expect(await equal(env)).toBeTruthy();
  }, 600_000);
});
