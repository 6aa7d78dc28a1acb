// `pgcdc-dev demo --peers N` (npm run demo -- --peers 3): N installations of the same application
// converging under conflicting writes (docs/peers.md). On the local stack: N fresh node databases,
// every node in this process (its producer and its links), users seeded at one node and fed to the
// others, then every node writing the same users at once (updates, blocks, email changes, deletes,
// re-inserts) and two people registering the same email at two nodes. Ends when every node holds
// the same rows, shown by an independent check (an SQL digest of each node, and the row-by-row
// comparison of dev/verify/compare.ts), with the conflict counts per node and the mesh's status.
import type { App } from '../../../pipeline/compose.ts';
import { createLogger } from '../../../pipeline/observability/logger.ts';
import { createPgConnections } from '../../../pipeline/postgres.ts';
import { formatPeersStatus } from '../../../ops/peers-format.ts';
import { gatherPeersStatus } from '../../../ops/peers-status.ts';
import { loadContract } from '../../../schemas/contract.ts';
import { useColour } from '../../../cli/colour.ts';
import { stackSettingsFromEnv } from '../../stack/settings.ts';
import { stackDown, stackUp } from '../../stack/stack.ts';
import { compareTables, describeComparison } from '../../verify/compare.ts';
import { redactSecrets } from '../../redact.ts';
import { conflictCounts, digests, withClient, type DevMesh } from '../../peers/mesh.ts';
import { seedUsers, startDevMesh, waitFor } from '../../peers/start.ts';
import { startMeshWriter } from '../../peers/writer.ts';

export interface PeersDemoOpts {
  peers: string;
  keepRunning?: boolean;
  keepStack?: boolean;
  logLevel?: string;
}

const say = (msg: string) => console.log(`demo: ${redactSecrets(msg)}`);
const SEED_USERS = 300;
const HOT_KEYS = 40;
const WRITE_SECONDS = 15;
const RATE_PER_NODE = 40;

export async function runPeersDemo(opts: PeersDemoOpts): Promise<void> {
  const n = Number(opts.peers);
  if (!Number.isInteger(n) || n < 2 || n > 8) throw new Error('--peers takes a number of nodes from 2 to 8');
  const settings = stackSettingsFromEnv(process.env);
  say('starting the local stack (first run downloads Kafka and the registry) ...');
  const up = await stackUp(settings, (m) => say(m));
  let ok = false;
  try {
    const logger = createLogger({
      // at the demo's default (warn) every conflict's audit line would show: hundreds; the counts
      // are printed at the end instead (--log-level info shows the pipeline's own lines too)
      level: !opts.logLevel || opts.logLevel === 'warn' ? 'error' : opts.logLevel,
      pretty: true,
      colour: useColour(process.env, process.stderr.isTTY),
    });
    say(`${n} nodes, each with its own database; starting every node (its producer and its links) ...`);
    const { mesh, app, stop } = await startDevMesh(up.urls, { name: 'demo', nodes: n, logger });
    say(`${n} nodes: ${mesh.nodes.map((x) => `${x.name} = ${x.url}`).join(', ')}`);
    try {
      ok = await scenario(mesh, app);
      if (opts.keepRunning) {
        say(
          `the mesh keeps running (Ctrl-C or SIGTERM stops it); write at any node: psql ${mesh.nodes[1]!.url}`,
        );
        say(`${await untilSignal()}: stopping the mesh`);
      }
    } finally {
      await stop();
    }
  } finally {
    if (!opts.keepStack && up.started.length > 0) {
      say(`stopping the stack parts this demo started: ${up.started.join(', ')}`);
      await stackDown(settings, up.started);
    }
  }
  if (!ok) process.exitCode = 1;
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

async function scenario(mesh: DevMesh, app: App): Promise<boolean> {
  const first = mesh.nodes[0]!;
  const fed = await seedUsers(mesh, SEED_USERS, 7, 180_000);
  say(`${SEED_USERS} users registered at ${first.name} are at every node after ${(fed / 1000).toFixed(1)} s`);

  const keys = Array.from({ length: HOT_KEYS }, (_, i) => i + 1);
  say(
    `conflicting writes: every node changes the same ${HOT_KEYS} users at ${RATE_PER_NODE}/s for ${WRITE_SECONDS} s (updates, blocks, email changes, deletes, re-inserts)`,
  );
  const writers = mesh.nodes.map((x, i) =>
    startMeshWriter(x.url, x.name, { ratePerSec: RATE_PER_NODE, keys, seed: 100 + i }),
  );
  await new Promise((res) => setTimeout(res, (WRITE_SECONDS * 1000) / 2));
  // two people register the same email at two nodes at the same moment
  const [a, b] = mesh.nodes;
  await Promise.all(
    [a!, b!].map((x) =>
      withClient(x.url, (c) =>
        c.query(`INSERT INTO users (email, username) VALUES ('same@example.org', $1)`, [
          `registered-at-${x.name}`,
        ]),
      ),
    ),
  );
  say(`same email registered at ${a!.name} and ${b!.name} under two ids`);
  await new Promise((res) => setTimeout(res, (WRITE_SECONDS * 1000) / 2));
  const stats = await Promise.all(writers.map((w) => w.stop()));
  const last = Math.max(...stats.map((s) => s.lastCommitAt));
  for (const s of stats)
    say(
      `  ${s.node}: ${s.writes} writes (${Object.entries(s.byOp)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})${s.failed ? `, ${s.failed} failed` : ''}`,
    );
  await waitFor('every node to hold the same rows', async () => (await digests(mesh)).equal);
  say(`converged ${((Date.now() - last) / 1000).toFixed(1)} s after the last write`);
  return report(mesh, app);
}

/** The independent check, the conflicts and the status; true when every node is equal. */
async function report(mesh: DevMesh, app: App): Promise<boolean> {
  const d = await digests(mesh);
  for (const [node, x] of Object.entries(d.by)) say(`  node ${node}: ${x.rows} rows, md5 ${x.md5}`);
  const contract = loadContract();
  const ref = (url: string) => ({ url, schema: 'public', table: 'users' });
  let equal = d.equal;
  for (const x of mesh.nodes.slice(1)) {
    const c = await compareTables(ref(mesh.nodes[0]!.url), ref(x.url), contract.columns);
    equal = equal && c.equal;
    say(
      `  ${mesh.nodes[0]!.name} vs ${x.name}: ${describeComparison(c).replace('peer equals source', 'equal')}`,
    );
  }
  const same = await withClient(mesh.nodes[0]!.url, (c) =>
    c.query<{ id: string; username: string }>(
      `SELECT id::text, username FROM users WHERE email = 'same@example.org'`,
    ),
  );
  say(
    `  same@example.org belongs to ${same.rows.map((x) => `id ${x.id} (${x.username})`).join(', ') || 'nobody'} at every node`,
  );
  let total = 0;
  for (const x of mesh.nodes) {
    const counts = await conflictCounts(x.url);
    const sum = counts.reduce((s, c) => s + c.n, 0);
    total += sum;
    say(
      `  conflicts at ${x.name}: ${sum} (${counts.map((c) => `${c.kind} ${c.resolution} ${c.n}`).join(', ') || 'none'})`,
    );
  }
  say(`${total} conflicts decided and logged; every node ${equal ? 'IDENTICAL' : 'DIFFERENT'}`);
  const status = await gatherPeersStatus(mesh.config, app.kafka, createPgConnections());
  console.log(`\n${formatPeersStatus(status, Date.now())}\n`);
  return equal;
}
