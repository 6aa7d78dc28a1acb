// Peers, no echo and basic convergence (docs/peers.md): three databases as three nodes, each with
// its producer and two links. Writes at every node reach every other node, and each node's topic
// holds exactly the writes made at that node: what a link applied (marked with its replication
// origin) is never published again.
import { describe, it } from 'vitest';
import { expectLocalWritesOnly, useMesh } from '../support/peers.ts';

describe('peers: no echo', () => {
  const ctx = useMesh(3);

  it('publishes only local writes and converges', async () => {
    if (!ctx.mesh) throw new Error('the mesh did not start');
    await expectLocalWritesOnly(ctx.env, ctx.mesh);
  }, 240_000);
});
