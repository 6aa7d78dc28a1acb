// `pgcdc peers run [--node NAME]`: the processes of a peers mesh (docs/peers.md). With --node, the
// one node's producer and the links applying every other node's topic at it (the realistic
// deployment: one such process per node, next to its database); without, every node in this
// process (the demo). The configuration is the same file for every node.
import type { Command } from 'commander';
import { peersOf, startPeerNode, type RunningNode } from '../../pipeline/peers.ts';
import { combineReadiness } from '../../pipeline/supervision/readiness.ts';
import { buildApp, serve, untilSignal, withCommon, type CommonOpts } from './pipeline.ts';

export function registerPeersCommands(program: Command): void {
  const peers = program.command('peers').description('multi-master mesh of PostgreSQL nodes (docs/peers.md)');
  withCommon(peers.command('run'))
    .description("run a node's producer and its links (every node without --node)")
    .option('-n, --node <name>', 'the node this process serves (peers.nodes[].name)')
    .action(async (opts: CommonOpts & { node?: string }) => {
      const { app, metricsAt } = buildApp(opts, 'run');
      const names = opts.node ? [opts.node] : peersOf(app.config).nodes.map((n) => n.name);
      const running: RunningNode[] = await Promise.all(names.map((n) => startPeerNode(app, n)));
      const server = await serve(app, metricsAt, () => {
        const parts = running.flatMap((r) => [r.producer.readiness(), ...r.links.map((l) => l.readiness())]);
        const r = combineReadiness(parts);
        return {
          ok: r.ok,
          detail: {
            ...r,
            nodes: running.map((n) => ({
              node: n.node,
              producer: n.producer.state(),
              links: n.links.map((l) => l.status()),
            })),
          },
        };
      });
      app.logger.info({ nodes: names }, 'peers running');
      await untilSignal(
        app,
        async () => {
          await Promise.all(running.map((r) => r.stop()));
          server.close();
        },
        () => ({
          nodes: running.map((r) => ({ node: r.node, confirmedLsn: r.producer.state().confirmedLsn })),
        }),
      );
    });
}
