// The peer-specific verdicts of `pgcdc check` (ops/check/peers-node.ts) on one node's facts: each
// problem is an ERROR (or WARN) with its fix; a sound node is all OK.
import { describe, expect, it } from 'vitest';
import { judgeNode, type NodeFacts } from '../../../ops/check/peers-node.ts';
import { SourceSchema } from '../../../pipeline/config/source.ts';

const src = SourceSchema.parse({ url: 'postgres://x@h/db', table: 'users' });
const sound: NodeFacts = {
  version: 160004,
  track_commit_timestamp: 'on',
  origin_capacity: 10,
  role: 'app',
  rolsuper: false,
  origin_missing: [],
  table: true,
  write_missing: [],
  owns: true,
  can_create: true,
  beside: true,
  trigger: true,
  db: 'db',
  server: 'h:5432',
};
const levels = (f: Partial<NodeFacts>, nodes = 3) =>
  Object.fromEntries(judgeNode({ ...sound, ...f }, nodes, src).map((r) => [r.id, r.level]));

describe('judgeNode', () => {
  it('a sound node is OK throughout', () => {
    expect(levels({})).toEqual({
      track_commit_timestamp: 'OK',
      origins: 'OK',
      write: 'OK',
      beside: 'OK',
    });
  });

  it.each<[string, Partial<NodeFacts>, string, string]>([
    ['too old', { version: 130010 }, 'version', 'ERROR'],
    ['untested 14', { version: 140010 }, 'version', 'WARN'],
    ['no commit timestamps', { track_commit_timestamp: 'off' }, 'track_commit_timestamp', 'ERROR'],
    ['no origin functions', { origin_missing: ['pg_replication_origin_oid(text)'] }, 'origins', 'ERROR'],
    ['too few origins', { origin_capacity: 1 }, 'origin_capacity', 'ERROR'],
    [
      'places held by other origins',
      { origin_capacity: 10, origins_held_elsewhere: Array.from({ length: 9 }, (_, i) => `other_${i}`) },
      'origin_capacity',
      'ERROR',
    ],
    ['no DELETE', { write_missing: ['DELETE'] }, 'write', 'ERROR'],
    ['tables beside to create', { beside: false }, 'beside', 'WARN'],
    ['cannot create them', { beside: false, can_create: false }, 'beside', 'ERROR'],
    ['cannot create the trigger', { trigger: false, owns: false }, 'beside', 'ERROR'],
  ])('%s', (_what, facts, id, level) => {
    const r = judgeNode({ ...sound, ...facts }, 3, src).find((x) => x.id === id);
    expect(r?.level).toBe(level);
    if (level === 'ERROR') expect(r?.fix).toBeTruthy();
  });

  it('places held by other origins count only when too few are left', () => {
    expect(
      levels({ origin_capacity: 10, origins_held_elsewhere: ['x', 'y'] }).origin_capacity,
    ).toBeUndefined();
    expect(
      levels({ origin_capacity: 10, origins_held_elsewhere: undefined }).origin_capacity,
    ).toBeUndefined();
    const r = judgeNode(
      { ...sound, origins_held_elsewhere: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] },
      3,
      src,
    );
    expect(r.find((x) => x.id === 'origin_capacity')?.message).toMatch(
      /9 other origins hold a place \(a, b, c, d, e, \.\.\.\)/,
    );
  });

  it('the grant names the missing functions and the role', () => {
    const r = judgeNode({ ...sound, origin_missing: ['pg_replication_origin_create(text)'] }, 2, src);
    expect(r.find((x) => x.id === 'origins')?.fix).toBe(
      'GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text) TO "app";',
    );
  });
});
