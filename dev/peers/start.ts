// The one way the demo (`pgcdc-dev demo --peers N`) and the peers bench (`pgcdc-dev bench-peers`)
// set up a mesh on the local stack: fresh node databases and the mesh configuration
// (prepareMesh), the mesh's topics and groups reset, every node started in this process (its
// producer and its links), each node's slot consistent (a write from then on is captured), and
// the users seeded at the first node fed to every node, verified by equal SQL digests. stop()
// stops every node; a node that fails to start stops the ones that did.
import { createApp, type App } from '../../pipeline/compose.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import { startPeerNode, type RunningNode } from '../../pipeline/peers.ts';
import { sleep } from '../../pipeline/retry.ts';
import type { StackUrls } from '../stack/settings.ts';
import { insertUsers, makeUser, rng } from '../verify/seed.ts';
import { digests, prepareMesh, resetMeshKafka, slotsReady, withClient, type DevMesh } from './mesh.ts';

export interface RunningDevMesh {
  mesh: DevMesh;
  app: App;
  running: RunningNode[];
  stop: () => Promise<void>;
}

/** Polls `check` every 250 ms until true; the time it took, or an error after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 180_000,
): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
  return Date.now() - t0;
}

/**
 * A fresh mesh `name` of `nodes` nodes, every node running in this process, every slot
 * consistent. `extra` is merged into the configuration's peers section.
 */
export async function startDevMesh(
  urls: StackUrls,
  opts: { name: string; nodes: number; logger: Logger; extra?: Record<string, unknown> },
): Promise<RunningDevMesh> {
  const mesh = await prepareMesh(urls, opts.name, opts.nodes, opts.extra);
  const app = createApp(mesh.config, opts.logger);
  await resetMeshKafka(app, mesh.config);
  // together: a node's links wait for the other nodes' topics, which their producers create
  const started = await Promise.allSettled(mesh.nodes.map((x) => startPeerNode(app, x.name)));
  const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => {
    for (const r of running.splice(0)) await r.stop();
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  try {
    if (failed) throw failed.reason;
    await waitFor('every node to capture changes (its replication slot)', () => slotsReady(mesh));
  } catch (err) {
    await stop();
    throw err;
  }
  return { mesh, app, running, stop };
}

/**
 * `count` users (seeded generator `seed`) registered at the first node, then waits until every
 * node holds them (equal digests). The time the feed took, in ms.
 */
export async function seedUsers(
  mesh: DevMesh,
  count: number,
  seed: number,
  timeoutMs = 300_000,
): Promise<number> {
  const r = rng(seed);
  await withClient(mesh.nodes[0]!.url, (c) =>
    insertUsers(
      c,
      Array.from({ length: count }, (_, i) => makeUser(r, i)),
    ),
  );
  return waitFor('the seeded users at every node', async () => (await digests(mesh)).equal, timeoutMs);
}
