// `replay --dry-run` says how many events are applied again, not how many offsets: tombstones
// (after deletes) and offsets compacted away apply nothing and are named as such.
import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../../ops/format.ts';
import type { ReplayPlan } from '../../../ops/replay.ts';

const plan = (over: Partial<ReplayPlan>): ReplayPlan => ({
  target: 'peer',
  group: 'pgcdc.peer',
  topic: 'pgcdc.public.users',
  to: 'earliest',
  groupState: 'Empty',
  members: [],
  compacted: true,
  partitions: [],
  totalReplays: 1300n,
  totalSkips: 0n,
  ...over,
});

describe('formatPlan totals', () => {
  it('counts the events and names the tombstones when they were read', () => {
    const text = formatPlan(
      plan({ counted: { events: 1000n, tombstones: 300n, compactedAway: 0n } }),
      'dry-run',
    );
    expect(text).toContain(
      'total: 1000 events would be applied again (of 1300 offsets: 300 tombstone(s), which follow deletes so compaction can drop the key and apply nothing)',
    );
  });

  it('names offsets compacted away too', () => {
    const text = formatPlan(
      plan({ counted: { events: 1000n, tombstones: 200n, compactedAway: 100n } }),
      'dry-run',
    );
    expect(text).toContain('(of 1300 offsets: 200 tombstone(s),');
    expect(text).toContain('; 100 compacted away)');
  });

  it('says "up to" the offsets when nothing was read (the replay itself)', () => {
    expect(formatPlan(plan({}), 'done')).toContain('total: up to 1300 events will be applied again');
  });

  it('a move forward only: nothing applied again, the skipped events named (the --yes preview)', () => {
    const text = formatPlan(plan({ totalReplays: 0n, totalSkips: 60n }), 'dry-run');
    expect(text).toContain('total: nothing applied again, up to 60 events would be SKIPPED (never applied)');
  });
});
