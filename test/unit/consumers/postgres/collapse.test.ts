// consumers/postgres/sql.ts: folding a batch into one change per key (collapseBatch), including
// updates that leave TOASTed columns unchanged, and the set-based partial update statement.
import { describe, expect, it } from 'vitest';
import {
  POS_LSN,
  POS_SEQ,
  collapseBatch,
  existingKeysSql,
  multiPartialUpdateSql,
  type TargetTable,
} from '../../../../consumers/postgres/sql.ts';
import { loadContract, type Op, type Row } from '../../../../schemas/contract.ts';
import { pruneDeletedSql } from '../../../../consumers/postgres/deleted.ts';
import { changeEvent } from '../../support/events.ts';

const contract = loadContract();
const table: TargetTable = {
  schema: 'public',
  table: 'users',
  columns: contract.columns,
  keyColumns: contract.keyColumns,
};

let seq = 0n;
function ev(op: Op, id: bigint, after: Row | null, unchanged: string[] = []) {
  seq++;
  const event = changeEvent({
    after: after ? { id, ...after } : null,
    unchanged,
    source: { lsn: 0x100n + seq, commit_lsn: 0x100n + seq },
    op,
    event_id: `e${seq}`,
  });
  return { offset: seq, key: { id } as Row, event };
}

describe('collapseBatch', () => {
  it('keeps the last full event per key, in the order of the last events', () => {
    const a1 = ev('c', 1n, { city: 'a' });
    const b1 = ev('c', 2n, { city: 'b' });
    const a2 = ev('u', 1n, { city: 'a2' });
    const out = collapseBatch([a1, b1, a2], ['id']);
    expect(out.upserts.map((e) => e.event.event_id)).toEqual([b1.event.event_id, a2.event.event_id]);
    expect(out.partials).toEqual([]);
    expect(out.deletes).toEqual([]);
  });

  it('a delete last wins over earlier changes of the key', () => {
    const out = collapseBatch([ev('c', 1n, { city: 'a' }), ev('d', 1n, null)], ['id']);
    expect(out.deletes).toHaveLength(1);
    expect(out.upserts).toHaveLength(0);
  });

  it('fills unchanged columns from an earlier event of the batch: a full row at the last position', () => {
    const c = ev('c', 1n, { city: 'a', bio: 'long bio' });
    const u = ev('u', 1n, { city: 'b', bio: null }, ['bio']);
    const out = collapseBatch([c, u], ['id']);
    expect(out.partials).toEqual([]);
    const [f] = out.upserts;
    expect(f?.event.after).toMatchObject({ city: 'b', bio: 'long bio' });
    expect(f?.event.unchanged).toEqual([]);
    expect(f?.event.source.commit_lsn).toBe(u.event.source.commit_lsn);
    expect(f?.event.event_id).toBe(u.event.event_id);
  });

  it('an update whose unchanged column no earlier event carries stays partial', () => {
    const u1 = ev('u', 1n, { city: 'a', bio: null }, ['bio']);
    const u2 = ev('u', 1n, { city: 'b', bio: null }, ['bio']);
    const out = collapseBatch([u1, u2], ['id']);
    expect(out.upserts).toEqual([]);
    expect(out.partials).toHaveLength(1);
    expect(out.partials[0]?.event.after).toMatchObject({ city: 'b' });
    expect(out.partials[0]?.event.unchanged).toEqual(['bio']);
  });

  it('combines columns carried by different earlier updates, and stops at a delete', () => {
    const u1 = ev('u', 1n, { preferences: '{"a":1}', bio: null }, ['bio']);
    const u2 = ev('u', 1n, { bio: 'x', preferences: null }, ['preferences']);
    expect(collapseBatch([u1, u2], ['id']).upserts[0]?.event.after).toMatchObject({
      bio: 'x',
      preferences: '{"a":1}',
    });
    const c = ev('c', 2n, { bio: 'old' }); // positions in the order of the batch, as the source wrote them
    const d = ev('d', 2n, null);
    const u3 = ev('u', 2n, { city: 'z', bio: null }, ['bio']);
    expect(collapseBatch([c, d, u3], ['id']).partials).toHaveLength(1);
  });

  it('decides by source position, not by arrival: an older event re-sent after a newer one loses', () => {
    // a key's record published again (a producer's re-send of an older change) lands behind the
    // newer one in the same batch; applied one by one the position guard drops it, so must the fold
    const older = ev('u', 1n, { city: 'old' });
    const newer = ev('u', 1n, { city: 'new' });
    const resent = { ...older, offset: newer.offset + 1n };
    const out = collapseBatch([older, newer, resent], ['id']);
    expect(out.upserts.map((e) => e.event.after?.city)).toEqual(['new']);
    // and a partial update folds its unchanged columns from the events before it in source order
    const full = ev('c', 2n, { city: 'x', bio: 'long bio' });
    const partial = ev('u', 2n, { city: 'y', bio: null }, ['bio']);
    const again = { ...full, offset: partial.offset + 1n };
    const folded = collapseBatch([full, partial, again], ['id']);
    expect(folded.upserts.map((e) => e.event.after)).toEqual([
      expect.objectContaining({ city: 'y', bio: 'long bio' }),
    ]);
  });

  it('does not modify the events it was given', () => {
    const c = ev('c', 1n, { bio: 'b' });
    const u = ev('u', 1n, { bio: null }, ['bio']);
    collapseBatch([c, u], ['id']);
    expect(u.event.unchanged).toEqual(['bio']);
    expect(u.event.after?.bio).toBeNull();
  });
});

describe('multiPartialUpdateSql', () => {
  const events = [
    ev('u', 7n, { city: "O'Brien", bio: null }, ['bio']).event,
    ev('u', 8n, { city: 'x', bio: null }, ['bio']).event,
  ];
  const stmt = multiPartialUpdateSql(table, events);

  it('sets every carried non-key column and the position, never the unchanged ones', () => {
    expect(stmt.text).toMatch(/^UPDATE "public"."users" AS t SET "email" = v."email", /);
    expect(stmt.text).toContain('"city" = v."city"');
    expect(stmt.text).not.toContain('"bio" = ');
    expect(stmt.text).not.toContain('"id" = v."id",');
    expect(stmt.text).toContain(`"${POS_LSN}" = v."${POS_LSN}"`);
  });

  it('guards each row by position and returns the updated keys', () => {
    expect(stmt.text).toContain(`(t."${POS_LSN}", t."${POS_SEQ}") < (v."${POS_LSN}", v."${POS_SEQ}")`);
    expect(stmt.text).toMatch(/WHERE t."id" = v."id" AND /);
    expect(stmt.text).toMatch(/RETURNING t."id"::text$/);
  });

  it('passes values only as typed array parameters, one per column', () => {
    const perRow = 1 + contract.columns.length - 2 + 3; // key, carried columns, position
    expect(stmt.values).toHaveLength(perRow);
    for (const column of stmt.values) expect(column).toHaveLength(2);
    expect(stmt.values[0]).toEqual(['7', '8']);
    expect(stmt.text).not.toContain("O'Brien");
    expect(stmt.text).toContain('FROM (SELECT u."id", ');
    expect(stmt.text).toContain('unnest($1::bigint[], ');
    expect(multiPartialUpdateSql(table, events.slice(0, 1)).text).toBe(stmt.text);
    const used = new Set([...stmt.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    expect(used.size).toBe(stmt.values.length);
  });

  it('existingKeysSql asks for the keys (and their positions) as one array parameter each', () => {
    const [a, b] = [ev('u', 7n, { city: 'a' }), ev('u', 8n, { city: 'b' })];
    const q = existingKeysSql(table, [a, b]);
    expect(q.values).toEqual([
      ['7', '8'],
      [String(a.event.source.commit_lsn), String(b.event.source.commit_lsn)],
      ['0', '0'],
    ]);
    expect(q.text).toContain('= ANY ($1::bigint[])');
    // a key deleted at or after the event's position counts as superseded, not missing
    expect(q.text).toContain(
      'FROM "public"."users_pgcdc_deleted" AS d JOIN unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS e (k, lsn, seq) ON d."id" = e.k AND (d."_pgcdc_lsn", d."_pgcdc_seq") >= (e.lsn, e.seq)',
    );
  });
});

describe('pruneDeletedSql', () => {
  it('drops markers made redundant by a later write of the key, and those past the retention', () => {
    const [redundant, old] = pruneDeletedSql(table, 168);
    expect(redundant).toBe(
      'DELETE FROM "public"."users_pgcdc_deleted" AS d USING "public"."users" AS r WHERE r."id" = d."id" AND ' +
        '(r."_pgcdc_lsn", r."_pgcdc_seq") > (d."_pgcdc_lsn", d."_pgcdc_seq")',
    );
    expect(old).toBe(
      `DELETE FROM "public"."users_pgcdc_deleted" WHERE "_pgcdc_deleted_at" < clock_timestamp() - interval '1 hour' * 168`,
    );
    expect(pruneDeletedSql(table, undefined)).toEqual([redundant]);
  });
});
