// producers/snapshot/reader.ts: a chunk read asks the catalog for the table's columns once, not
// on every chunk; a column dropped since makes the SELECT fail with 42703, and then the catalog
// is read again and the chunk read once more (the dropped nullable column as NULL). While a
// column is missing every chunk asks again; the warning names the columns, once per set.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../../pipeline/observability/logger.ts';
import { ChunkReader } from '../../../../producers/snapshot/reader.ts';
import type { Queryable } from '../../../../producers/snapshot/source.ts';
import { SnapshotWindow } from '../../../../producers/snapshot/window.ts';
import { loadContract } from '../../../../schemas/contract.ts';

const contract = loadContract();

/** A source whose table has `columns`; counts catalog reads and chunk SELECTs. */
function fakeSource(columns: Set<string>) {
  const calls = { catalog: 0, selects: 0, failed: 0 };
  const query = (q: string | { text: string }) => {
    const text = typeof q === 'string' ? q : q.text;
    if (text.includes('pg_attribute')) {
      calls.catalog++;
      return Promise.resolve({ rows: [...columns].map((attname) => ({ attname })), rowCount: columns.size });
    }
    if (text.includes('pg_current_snapshot')) {
      calls.selects++;
      const read = [...text.matchAll(/s\."([a-z_]+)"/g)].map((m) => m[1]!);
      const missing = read.filter((c) => !columns.has(c));
      if (missing.length > 0 || text.includes('no_such_column')) {
        calls.failed++;
        return Promise.reject(
          Object.assign(new Error(`column s.${missing[0] ?? 'no_such_column'} does not exist`), {
            code: '42703',
          }),
        );
      }
      return Promise.resolve({ rows: [], rowCount: 0 });
    }
    return Promise.resolve({ rows: [], rowCount: 0 });
  };
  return { client: { query } as unknown as Queryable, calls };
}

function setup(columns: Set<string>) {
  const source = fakeSource(columns);
  const warnings: unknown[] = [];
  const log = { warn: (obj: unknown) => warnings.push(obj) } as unknown as Logger;
  const window = new SnapshotWindow({
    keyText: () => '',
    makeEvent: () => {
      throw new Error('no rows in these tests');
    },
    onClosed: () => undefined,
  });
  const reader = new ChunkReader({ client: source.client, contract, window, log, now: () => 0 });
  let n = 0;
  const read = (filter?: string) =>
    reader.read('s1', `0.${++n}`, {
      contract,
      afterKey: null,
      maxKey: '100',
      limit: 10,
      pendingKeys: [],
      filter,
    });
  return { ...source, warnings, reader, read };
}

const allColumns = () => new Set(contract.columns.map((c) => c.name));

describe('ChunkReader', () => {
  it('reads the catalog once for many chunks while the table has every contract column', async () => {
    const { calls, read } = setup(allColumns());
    for (let i = 0; i < 5; i++) await read();
    expect(calls).toEqual({ catalog: 1, selects: 5, failed: 0 });
  });

  it('a column dropped since the last look: 42703, the catalog again, the chunk again; warned once by name', async () => {
    const columns = allColumns();
    const { calls, read, warnings } = setup(columns);
    await read();
    await read();
    columns.delete('middle_name');
    await read();
    expect(calls).toEqual({ catalog: 2, selects: 4, failed: 1 });
    expect(warnings).toEqual([{ droppedNullable: ['middle_name'] }]);
    // While a column is missing every chunk asks (a column added back is read at once).
    await read();
    await read();
    expect(calls.catalog).toBe(4);
    expect(warnings).toHaveLength(1);
    columns.add('middle_name');
    await read();
    expect(calls.catalog).toBe(5);
    await read();
    expect(calls.catalog).toBe(5); // trusted again
  });

  it('a 42703 the columns do not explain is read again once, then thrown', async () => {
    const { calls, read } = setup(allColumns());
    await read();
    await expect(read('no_such_column > 0')).rejects.toMatchObject({ code: '42703' });
    expect(calls).toMatchObject({ catalog: 2, failed: 2 });
  });

  it('a dropped NOT NULL column cannot be read as null: the catalog read says so', async () => {
    const columns = allColumns();
    const { read } = setup(columns);
    await read();
    columns.delete('email');
    await expect(read()).rejects.toThrow(/lacks NOT NULL columns of the event schema: email/);
  });
});
