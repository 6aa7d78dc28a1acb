// The reconcile phase of the benchmark: `pgcdc reconcile`'s pass (ops/reconcile/scan.ts, range
// hashes on both servers, chunk by chunk) over a source table and an equal target table of `rows`
// users, no drift, beside the raw baseline of the same two hash scans run directly in SQL (one
// md5 over each whole table in key order). Reports rows/s of each and their ratio, and the
// process's peak RSS growth during the pass (flat in the table size: one chunk at a time).
// Runs on the local stack's PostgreSQL: `npm run bench -- --only reconcile --reconcile <rows>` (or
// `--reconcile <rows>` after the other phases; renderReconcile prints it), or directly:
// `node --import tsx dev/bench/reconcile-phase.ts [rows]`.
import { PostgresTargetSchema } from '../../pipeline/config/schema.ts';
import { createPgConnections } from '../../pipeline/postgres.ts';
import { planTable } from '../../ops/reconcile/plan.ts';
import { postgresTargetReader } from '../../ops/reconcile/pg-target.ts';
import { withReconcileClient } from '../../ops/reconcile/postgres.ts';
import { scanTable } from '../../ops/reconcile/scan.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackSettingsFromEnv, stackUrls } from '../stack/settings.ts';
import { createDatabase, dropDatabase, withPg } from './env.ts';
import type { ReconcileBenchResult } from './result.ts';

const FILL = `INSERT INTO users (id, email, username, first_name, last_name, city, country, is_active, bio,
  preferences, tags, balance, created_at, updated_at)
  SELECT g, 'u' || g || '@example.org', 'user' || g, 'First' || g, 'Last' || g, 'City' || (g % 100), 'DE',
    g % 7 <> 0, repeat('x', 200), jsonb_build_object('n', g), ARRAY['a', 'b'], (g % 1000) + 0.25,
    '2026-01-01'::timestamptz + g * interval '1 second', '2026-01-01'::timestamptz
  FROM generate_series(1, $1::int) g`;

export async function reconcilePhase(adminUrl: string, rows: number): Promise<ReconcileBenchResult> {
  const tag = `rec_${Date.now().toString(36)}`;
  const src = await createDatabase(adminUrl, `${tag}_src`, true);
  const dst = await createDatabase(adminUrl, `${tag}_dst`, true);
  try {
    for (const url of [src, dst]) {
      await withPg(url, async (c) => {
        await c.query(FILL, [rows]);
        await c.query('ALTER TABLE users ADD COLUMN _pgcdc_lsn bigint');
        await c.query('VACUUM ANALYZE users');
      });
    }
    const contract = loadContract();
    const target = PostgresTargetSchema.parse({ name: 'bench', type: 'postgres', url: dst });
    const plan = planTable(contract, target, { schema: 'public', table: 'users' });
    const pgc = createPgConnections();
    const cols = contract.columns.map((c) => `"${c.name}"::text`).join(', ');
    const raw = `SELECT md5(string_agg(md5(ROW(${cols})::text), '' ORDER BY id)) FROM users`;
    const t0 = performance.now();
    await Promise.all([src, dst].map((u) => withReconcileClient(pgc, u, (c) => c.query(raw))));
    const baselineS = (performance.now() - t0) / 1000;
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const t1 = performance.now();
    const result = await withReconcileClient(pgc, src, (s) =>
      withReconcileClient(pgc, dst, (t) =>
        scanTable(plan, s, postgresTargetReader(t), {
          chunkSize: 5000,
          maxKeys: 100_000,
          progress: () => (peak = Math.max(peak, process.memoryUsage().rss)),
        }),
      ),
    );
    const reconcileS = (performance.now() - t1) / 1000;
    const drift = result.missing.length + result.extra.length + result.differing.length;
    return {
      rows,
      compared: result.compared,
      drift,
      baselineRowsPerS: Math.round(rows / baselineS),
      reconcileRowsPerS: Math.round(rows / reconcileS),
      ratio: Number((baselineS / reconcileS).toFixed(2)),
      rssGrowthMb: Number(((peak - rss0) / 1e6).toFixed(1)),
    };
  } finally {
    await dropDatabase(adminUrl, `${tag}_src`);
    await dropDatabase(adminUrl, `${tag}_dst`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = Number(process.argv[2] ?? 100_000);
  const { adminUrl } = stackUrls(stackSettingsFromEnv(process.env));
  console.log(JSON.stringify(await reconcilePhase(adminUrl, rows)));
}

/** The report's section: reconcile beside the raw baseline measured in the same run. */
export function renderReconcile(r: ReconcileBenchResult | undefined): string[] {
  if (!r) return [];
  return [
    '## Reconcile',
    '',
    `${r.rows} rows, no drift (${r.compared} compared, ${r.drift} reported): reconcile ${r.reconcileRowsPerS} rows/s, ` +
      `raw SQL hash scans of both tables ${r.baselineRowsPerS} rows/s: ${r.ratio}x; RSS growth ${r.rssGrowthMb} MB`,
    '',
  ];
}
