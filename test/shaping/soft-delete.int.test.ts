// Soft delete at an id-keyed PostgreSQL target with a row filter (mapping.deletePolicy: soft),
// through the mapping decorator and the real sink: a row leaving the filter and a source delete
// mark the row (the commit time in deleted_at) and keep it; a row entering again, or inserted again,
// is revived in place; an older event replayed after the delete changes nothing.
import { expect, it } from 'vitest';
import { mappedSink } from '../../consumers/group/mapped-sink.ts';
import { PostgresSink } from '../../consumers/postgres/sink.ts';
import { PostgresTargetSchema } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshDatabase, stackUrls } from '../support/index.ts';
import { query } from '../support/pipeline.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { shapeOf } from '../unit/consumers/mapping/support.ts';

it('leaving the filter or a delete soft-deletes; entering again or a re-insert revives; replays change nothing', async () => {
  const peer = await freshDatabase(stackUrls().adminUrl, 'soft');
  const mapping = {
    include: ['id', 'email', 'is_active'],
    filter: 'is_active',
    deletePolicy: 'soft',
    softDelete: { column: 'deleted_at' },
  };
  const target = PostgresTargetSchema.parse({ name: 'peer', type: 'postgres', url: peer.url, mapping });
  const shape = shapeOf(mapping);
  const contract = loadContract();
  const inner = new PostgresSink(
    target,
    { ...contract, columns: shape.columns, keyColumns: shape.keyColumns },
    createLogger({ level: 'warn' }),
  );
  const sink = mappedSink(inner, shape);
  const ev = positionedChanges();
  const state = () =>
    query<{ id: string; email: string; deleted: boolean }>(
      peer.url,
      'SELECT id::text AS id, email, deleted_at IS NOT NULL AS deleted FROM users ORDER BY id',
    );
  const at = (lsn: bigint, e: ReturnType<typeof ev>) => ({
    ...e,
    event: { ...e.event, source: { ...e.event.source, ts_us: lsn * 1_000_000n } },
  });
  try {
    await sink.open();
    const apply = async (...events: ReturnType<typeof ev>[]) => {
      const r = await sink.apply(events);
      expect([r.deadLetters, r.retryFrom]).toEqual([[], undefined]);
      expect(r.applied.length).toBe(events.length);
    };
    await apply(ev('c', 1n, 10n, {}), ev('c', 2n, 11n, { is_active: false }));
    expect(await state()).toEqual([{ id: '1', email: 'u1@x.io', deleted: false }]); // 2 never written
    await apply(ev('u', 1n, 20n, { is_active: false }));
    expect(await state()).toEqual([{ id: '1', email: 'u1@x.io', deleted: true }]);
    const [mark] = await query<{ t: string }>(
      peer.url,
      "SELECT to_char(deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS t FROM users",
    );
    expect(mark?.t).toBe('1970-01-01 00:00:00'); // the commit time of the event (ts_us 0 in these events)
    await apply(ev('u', 1n, 30n, { is_active: true, email: 'back@x.io' }));
    expect(await state()).toEqual([{ id: '1', email: 'back@x.io', deleted: false }]);
    await apply(ev('d', 1n, 40n));
    await apply(ev('u', 1n, 35n, { email: 'older@x.io' }), at(0n, ev('c', 1n, 39n, {}))); // older than the delete
    expect(await state()).toEqual([{ id: '1', email: 'back@x.io', deleted: true }]);
    await apply(ev('c', 1n, 50n, { email: 'again@x.io' }));
    expect(await state()).toEqual([{ id: '1', email: 'again@x.io', deleted: false }]);
  } finally {
    await sink.close();
    await peer.drop();
  }
});
