// The bench's CPU profile summary (dev/bench/profile-summary.ts): stage attribution, Node internals
// charged to their caller, the flowing window, and idle vs busy time.
import { describe, expect, it } from 'vitest';
import { stageOf, summarizeProfile, type CpuProfile } from '../../../dev/bench/profile-summary.ts';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
const root = '/work/x';

/** root -> (idle) | (garbage collector) | main -> publisher.push -> kafkajs send -> Buffer.alloc (node:buffer) | main -> avsc encode */
function profile(samples: number[], deltaUs = 1000): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('(garbage collector)') },
      { id: 4, callFrame: frame('main', `file://${root}/cli/main.ts`), children: [5, 8] },
      { id: 5, callFrame: frame('push', `file://${root}/producers/publisher.ts`, 10), children: [6] },
      {
        id: 6,
        callFrame: frame('send', `${root}/node_modules/kafkajs/src/producer/index.js`),
        children: [7],
      },
      { id: 7, callFrame: frame('alloc', 'node:buffer') },
      { id: 8, callFrame: frame('encode', `${root}/node_modules/avsc/lib/types.js`) },
    ],
    startTime: 0,
    endTime: samples.length * deltaUs,
    samples,
    timeDeltas: samples.map(() => deltaUs),
  };
}

describe('profile summary', () => {
  it('splits busy time by stage, charging Node internals to the calling package', () => {
    const s = summarizeProfile(profile([5, 7, 7, 8, 3, 2, 2, 6]), false);
    expect(s.wallMs).toBe(8);
    expect(s.busyMs).toBe(6);
    expect(s.byStage.publisher).toBe(1);
    expect(s.byStage.kafkajs).toBe(3); // its own sample and the two in node:buffer it called
    expect(s.byStage['Avro encode']).toBe(1);
    expect(s.byStage['garbage collection']).toBe(1);
    expect(s.byOwner[0]).toEqual(['kafkajs', 3]);
  });

  it('cuts the window to where events flow (first to last sample under the publisher)', () => {
    // start-up (main, idle) before, idle tail after
    const s = summarizeProfile(profile([4, 4, 2, 5, 2, 6, 2, 2]), true);
    expect(s.wallMs).toBe(3);
    expect(s.busyMs).toBe(2);
  });

  it('does not start the window at kafkajs work outside the publisher (connecting at start-up)', () => {
    const p = profile([4, 6, 4, 5, 8, 2]);
    // node 6 (kafkajs) under the start-up frame: a connect, not a send
    p.nodes = p.nodes.map((n) => (n.id === 4 ? { ...n, children: [5, 8, 6] } : n));
    p.nodes = p.nodes.map((n) => (n.id === 5 ? { ...n, children: [] } : n));
    const s = summarizeProfile(p, true);
    expect(s.wallMs).toBe(1); // the publisher's one sample
    expect(s.byStage.publisher).toBe(1);
  });

  it('names stages from packages and project files of any checkout', () => {
    expect(stageOf('pg-logical-replication')).toBe('pg wire + pgoutput parse');
    expect(stageOf('producers/postgres/assembler.ts')).toBe('row decode (assembler, values)');
    expect(stageOf('schemas/values.ts')).toBe('row decode (assembler, values)');
    expect(stageOf('schemas/avro.ts')).toBe('Avro encode');
    expect(stageOf('producers/snapshot/window.ts')).toBe('snapshot');
    expect(stageOf('pipeline/observability/metrics.ts')).toBe('other pgcdc');
    expect(stageOf('prom-client')).toBe('other packages');
  });
});
