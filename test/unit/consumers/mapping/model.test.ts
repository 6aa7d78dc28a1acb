// Model-based property test of the mapping layer: random inserts, updates (moving rows in and out
// of the filter, changing and swapping emails, leaving a TOASTed value unchanged), snapshot
// re-reads and deletes at a source, published as the producer publishes them (the previous row
// under REPLICA IDENTITY FULL or not; updates completed when a target has a filter), applied
// through the real mapping decorator (consumers/group/mapped-sink.ts) to an in-memory target with
// the Postgres target's semantics (upsert, partial update of a row that must exist, delete or soft
// delete). The target's live rows always end equal to map(filter(source)).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mappedSink } from '../../../../consumers/group/mapped-sink.ts';
import { mapRow, matches } from '../../../../consumers/mapping/map.ts';
import type { TargetShape } from '../../../../consumers/mapping/shape.ts';
import type { DecodedEvent, Sink } from '../../../../consumers/sink.ts';
import { needsCompleteUpdates } from '../../../../pipeline/config/mapping.ts';
import { MappingSchema } from '../../../../pipeline/config/mapping.ts';
import type { Row } from '../../../../schemas/contract.ts';
import { changeEvent } from '../../support/events.ts';
import { shapeOf } from './support.ts';

type Op =
  | { kind: 'insert'; active: boolean; blocked: boolean; email: number }
  | {
      kind: 'update';
      pick: number;
      active?: boolean;
      blocked?: boolean;
      email?: number;
      first?: string;
      bio?: string;
    }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'reread'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    active: fc.boolean(),
    blocked: fc.boolean(),
    email: fc.nat(30),
  }),
  fc.record(
    {
      kind: fc.constant('update' as const),
      pick: fc.nat(),
      active: fc.boolean(),
      blocked: fc.boolean(),
      email: fc.nat(30),
      first: fc.constantFrom('Ada', 'Bo', 'Cy'),
      bio: fc.constantFrom('short', 'x'.repeat(50)),
    },
    { requiredKeys: ['kind', 'pick'] },
  ),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('reread' as const), pick: fc.nat() }),
);

/** An in-memory target with the Postgres sink's semantics for one shape. */
function memoryTarget(shape: TargetShape) {
  const rows = new Map<string, Row>();
  const key = (e: DecodedEvent) => String(e.key[shape.keyColumns[0]!]);
  const sink: Sink = {
    kind: 'memory',
    open: () => Promise.resolve(),
    close: () => Promise.resolve(),
    apply(events) {
      for (const e of events) {
        const ev = e.event;
        const k = key(e);
        if (ev.op === 'd') {
          const held = rows.get(k);
          if (shape.deletePolicy === 'soft') {
            if (held) rows.set(k, { ...held, [shape.softDelete!.column]: true });
          } else rows.delete(k);
        } else if (ev.unchanged.length > 0) {
          const held = rows.get(k);
          if (!held) throw new Error(`partial update of ${k} missing at the target`);
          const next = { ...held };
          for (const [c, v] of Object.entries(ev.after!)) if (!ev.unchanged.includes(c)) next[c] = v;
          rows.set(k, next);
        } else rows.set(k, { ...ev.after! });
      }
      return Promise.resolve({ applied: events, deadLetters: [] });
    },
  };
  return { rows, sink };
}

const SHAPES = {
  cms: {
    include: ['id', 'email', 'first_name', 'last_name', 'is_active', 'is_blocked', 'bio'],
    rename: { id: 'shop_id', first_name: 'firstname' },
    constants: { pid: { value: 3 } },
    computed: {
      name: 'first_name.orValue("") + " " + last_name.orValue("")',
      bio_len: { expression: 'size(bio.orValue(""))', type: 'bigint' },
    },
    filter: 'is_active && !is_blocked',
    deletePolicy: 'soft',
    softDelete: { column: 'deleted', type: 'boolean' },
  },
  byEmail: { filter: 'email.endsWith("1@x.io") || email.endsWith("3@x.io")', exclude: ['bio'] },
  copyWithComputed: { computed: { bio_len: { expression: 'size(bio.orValue(""))', type: 'bigint' } } },
};

describe('mapping: target == map(filter(source)) (model-based)', () => {
  for (const [name, mapping] of Object.entries(SHAPES)) {
    it(`${name}`, async () => {
      const shape = shapeOf(mapping);
      const complete = needsCompleteUpdates([{ mapping: MappingSchema.parse(mapping) }]);
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), fc.boolean(), async (ops, full) => {
          const source = new Map<bigint, Row>();
          const target = memoryTarget(shape);
          const sink = mappedSink(target.sink, shape);
          let nextId = 1n;
          let lsn = 0n;
          const publish = async (
            op: 'c' | 'u' | 'd' | 'r',
            id: bigint,
            before: Row | null,
            after: Row | null,
            unchanged: string[] = [],
          ) => {
            lsn++;
            const e: DecodedEvent = {
              offset: lsn,
              key: { id },
              event: changeEvent({
                op,
                before: full ? before : null,
                after,
                unchanged,
                event_id: `e${lsn}`,
                source: { commit_lsn: lsn, lsn },
              }),
            };
            const r = await sink.apply([e]);
            expect(r.deadLetters).toEqual([]);
            expect(r.applied).toEqual([e]);
          };
          const pick = (n: number) => [...source.keys()][n % source.size];
          const update = async (id: bigint, change: Row) => {
            const old = source.get(id)!;
            const row = { ...old, ...change };
            source.set(id, row);
            // PostgreSQL leaves an unchanged TOASTed bio out unless REPLICA IDENTITY FULL (the
            // producer fills it then) or the producer completes updates (a target has a filter)
            const toasted = !full && !complete && !('bio' in change) && String(row.bio).length > 10;
            await publish('u', id, old, toasted ? { ...row, bio: null } : row, toasted ? ['bio'] : []);
          };
          for (const op of ops) {
            if (op.kind === 'insert') {
              const id = nextId++;
              const row: Row = {
                id,
                email: `u${id}-${op.email}@x.io`,
                username: `u${id}`,
                first_name: 'A',
                last_name: 'B',
                is_active: op.active,
                is_blocked: op.blocked,
                bio: 'x'.repeat(50),
                created_at: 1n,
                updated_at: 1n,
              };
              source.set(id, row);
              await publish('c', id, null, row);
            } else if (source.size === 0) continue;
            else if (op.kind === 'update') {
              const change: Row = {};
              if (op.active !== undefined) change.is_active = op.active;
              if (op.blocked !== undefined) change.is_blocked = op.blocked;
              if (op.email !== undefined) change.email = `v${lsn}-${op.email}@x.io`;
              if (op.first !== undefined) change.first_name = op.first;
              if (op.bio !== undefined) change.bio = op.bio;
              await update(pick(op.pick)!, change);
            } else if (op.kind === 'swap') {
              const [a, b] = [pick(op.a)!, pick(op.b)!];
              if (a === b) continue;
              const [ea, eb] = [source.get(a)!.email, source.get(b)!.email];
              await update(a, { email: `tmp-${lsn}@x.io` });
              await update(b, { email: ea! });
              await update(a, { email: eb! });
            } else if (op.kind === 'delete') {
              const id = pick(op.pick)!;
              const old = source.get(id)!;
              source.delete(id);
              await publish('d', id, old, null);
            } else {
              const id = pick(op.pick)!;
              await publish('r', id, null, source.get(id)!);
            }
          }
          const expected = new Map<string, Row>();
          for (const [id, row] of source)
            if (matches(shape, row)) expected.set(String(id), mapRow(shape, row, []).row);
          const live = new Map(
            [...target.rows].filter(([, r]) => !shape.softDelete || r[shape.softDelete.column] !== true),
          );
          expect(live).toEqual(expected);
        }),
        { numRuns: 150 },
      );
    });
  }
});
