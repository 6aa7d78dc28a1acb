// producers/snapshot/source.ts: the chunk SELECT. One statement (one snapshot for the rows and
// pg_current_snapshot()), key order, the feed limit, the end key, re-read keys and the filter.
import { describe, expect, it } from 'vitest';
import { chunkSql } from '../../../../producers/snapshot/source.ts';
import { checkpointDdl } from '../../../../producers/snapshot/checkpoint.ts';
import { loadContract } from '../../../../schemas/contract.ts';

const contract = loadContract();

describe('chunkSql', () => {
  it('first chunk: keys up to the end key, in key order, at most the feed limit', () => {
    const { text, values } = chunkSql({
      contract,
      afterKey: null,
      maxKey: '20000',
      limit: 500,
      pendingKeys: [],
      filter: undefined,
    });
    expect(values).toEqual(['20000', 500]);
    expect(text).toContain(
      'SELECT pg_current_snapshot()::text AS pgcdc_snapshot, s.pgcdc_scan, s."id", s."email"',
    );
    expect(text).toContain(
      '(SELECT true AS pgcdc_scan, * FROM "public"."users" WHERE "id" <= $1 ORDER BY "id" LIMIT $2)',
    );
    expect(text).not.toContain('UNION');
    expect(text.match(/s\."[a-z_]+"/g)?.length).toBe(contract.columns.length + 1); // + ORDER BY s."id"
    expect(text).toMatch(/ORDER BY s\.pgcdc_scan DESC, s\."id"$/);
  });

  it('next chunks continue after the last key, re-read pending keys, and apply the filter to both', () => {
    const { text, values } = chunkSql({
      contract,
      afterKey: '500',
      maxKey: '20000',
      limit: 500,
      pendingKeys: ['17', '230'],
      filter: 'is_active AND NOT is_blocked',
    });
    expect(values).toEqual(['20000', 500, '500', ['17', '230']]);
    expect(text).toContain(
      'WHERE "id" <= $1 AND "id" > $3 AND (is_active AND NOT is_blocked) ORDER BY "id" LIMIT $2) UNION ALL ' +
        '(SELECT false AS pgcdc_scan, * FROM "public"."users" WHERE "id" = ANY($4) AND (is_active AND NOT is_blocked))',
    );
  });

  it('a nullable contract column the table no longer has is read as NULL', () => {
    const { text } = chunkSql({
      contract,
      afterKey: null,
      maxKey: '10',
      limit: 5,
      pendingKeys: [],
      filter: undefined,
      absent: new Set(['middle_name']),
    });
    expect(text).toContain('NULL AS "middle_name"');
    expect(text).not.toContain('s."middle_name"');
    expect(text.match(/s\."[a-z_]+"/g)?.length).toBe(contract.columns.length); // one column fewer
  });

  it('the checkpoint table is keyed by slot and table', () => {
    const ddl = checkpointDdl({ schema: 'public', table: 'pgcdc_snapshot' });
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS "public"."pgcdc_snapshot"');
    expect(ddl).toContain('PRIMARY KEY (slot, table_name)');
  });
});

describe('chunkSql with a composite primary key (docs/tables.md)', () => {
  const memberships = { ...contract, table: 'memberships', keyColumns: ['id', 'email'] };
  it('compares the key as a row, in key order, and re-reads pending keys by their JSON text', () => {
    const { text, values } = chunkSql({
      contract: memberships,
      afterKey: '["5","a@x"]',
      maxKey: '["9","z@x"]',
      limit: 100,
      pendingKeys: ['["7","b@x"]'],
      filter: undefined,
    });
    expect(values).toEqual(['9', 'z@x', 100, '5', 'a@x', '[["7","b@x"]]']);
    expect(text).toContain(
      'WHERE ("id", "email") <= ($1, $2) AND ("id", "email") > ($4, $5) ORDER BY "id", "email" LIMIT $3',
    );
    expect(text).toContain(
      'WHERE jsonb_build_array("id"::text, "email"::text) IN (SELECT jsonb_array_elements($6::jsonb))',
    );
    expect(text).toMatch(/ORDER BY s\.pgcdc_scan DESC, s\."id", s\."email"$/);
  });
});
