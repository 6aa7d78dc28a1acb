// The independent model of a peers mesh's outcome: every event of every node's topic, decoded,
// and per key the version that wins under the mesh's policy (consumers/peer/version.ts's order,
// recomputed here from the events alone). What the nodes hold must be exactly that.
import { compareVersions, versionOrder, type Version } from '../../consumers/peer/version.ts';
import type { App } from '../../pipeline/compose.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { topicFor } from '../../pipeline/config/schema.ts';
import { nodeConfig } from '../../pipeline/peers.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract, type ChangeEvent } from '../../schemas/contract.ts';
import { readTopic } from '../support/pipeline.ts';

export interface NodeEvent {
  node: string;
  /** the key's id (from the message key: a delete's event carries no row) */
  id: string;
  event: ChangeEvent;
  version: Version;
}

/** The distinct events (by event id) of node `name`'s topic. */
export async function nodeEvents(app: App, config: Config, name: string): Promise<NodeEvent[]> {
  const nc = nodeConfig(config, name);
  const topic = topicFor(nc.kafka, nc.source);
  const codec = await createEventCodec({ registryUrl: config.registry.url, topic, contract: loadContract() });
  const seen = new Map<string, NodeEvent>();
  for (const m of await readTopic(app.kafka, topic)) {
    if (!m.value || m.value.length === 0) continue;
    const event = await codec.decodeValue(m.value);
    const key = await codec.decodeKey(m.key!);
    const s = event.source;
    seen.set(event.event_id, {
      node: name,
      id: String(key.id),
      event,
      version: { tsUs: s.ts_us, node: name, lsn: s.commit_lsn, seq: s.seq },
    });
  }
  return [...seen.values()];
}

/** Per key (id), the winning event under the mesh's policy. */
export function winners(config: Config, events: NodeEvent[]): Map<string, NodeEvent> {
  const order = versionOrder(config.peers!);
  const best = new Map<string, NodeEvent>();
  for (const e of events) {
    const id = e.id;
    const cur = best.get(id);
    if (!cur || compareVersions(e.version, cur.version, order) > 0) best.set(id, e);
  }
  return best;
}
