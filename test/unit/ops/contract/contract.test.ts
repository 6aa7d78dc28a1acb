// ops/contract: generation from a table shape (the shipped envelope, the type table, the key
// rules) and the diff's verdicts (column states, BACKWARD compatibility by Avro resolution).
import { describe, expect, it } from 'vitest';
import { diffContract, diffIsClean, formatDiff } from '../../../../ops/contract/diff.ts';
import { generateContract, type TableShape } from '../../../../ops/contract/generate.ts';
import { avroType } from '../../../../schemas/avro.ts';
import { columnsOf, loadContract, rowRecordOf } from '../../../../schemas/contract.ts';

const template = loadContract().valueSchema;

const shape = (over: Partial<TableShape> = {}): TableShape => ({
  schema: 'public',
  table: 'accounts',
  columns: [
    { name: 'user_id', type: 'uuid', notNull: true },
    { name: 's_email', type: 'character varying(100)', notNull: true },
    { name: 'b_active', type: 'boolean', notNull: false },
    { name: 'dt_reg_date', type: 'timestamp without time zone', notNull: false },
    { name: 'status', type: 'account_status', notNull: true, enumLabels: ['new', 'in progress'] },
    { name: 'balance', type: 'numeric(12,2)', notNull: false },
    { name: 'search', type: 'tsvector', notNull: false, generated: true },
  ],
  primaryKey: ['user_id'],
  replicaIdentity: 'd',
  identityIndex: [],
  ...over,
});

describe('generateContract', () => {
  const g = generateContract(shape(), template);

  it('keeps the shipped envelope; only names, key and row differ', () => {
    const strip = (s: object) => JSON.stringify(s, (k, v: unknown) => (k === 'before' ? undefined : v));
    const envelope = (s: typeof template) => s.fields.filter((f) => f.name !== 'before').map((f) => strip(f));
    expect(envelope(g.valueSchema)).toEqual(envelope(template));
    expect(g.valueSchema.namespace).toBe('pgcdc.public.accounts');
    expect(() => avroType(g.valueSchema)).not.toThrow();
    expect(() => avroType(g.keySchema)).not.toThrow();
  });

  it('maps columns through the type table; generated columns are left out, with a note', () => {
    const cols = columnsOf(rowRecordOf(g.valueSchema));
    expect(cols.map((c) => [c.name, c.pgType, c.nullable])).toEqual([
      ['user_id', 'uuid', false],
      ['s_email', 'varchar', false],
      ['b_active', 'boolean', true],
      ['dt_reg_date', 'timestamp', true],
      ['status', 'enum', false],
      ['balance', 'numeric', true],
    ]);
    expect(cols.find((c) => c.name === 'status')?.enumSymbols).toEqual(['new', 'in progress']);
    expect(cols.find((c) => c.name === 'balance')?.decimal).toEqual({ precision: 12, scale: 2 });
    expect(rowRecordOf(g.valueSchema).fields[0]?.type).toEqual({ type: 'string', logicalType: 'uuid' });
    expect(g.keySchema.fields.map((f) => f.name)).toEqual(['user_id']);
    expect(g.notes.join('\n')).toMatch(/search: a generated column/);
  });

  it('a composite primary key keeps its order; a replica identity index is a key too', () => {
    expect(
      generateContract(shape({ primaryKey: ['s_email', 'user_id'] }), template).keySchema.fields.map(
        (f) => f.name,
      ),
    ).toEqual(['s_email', 'user_id']);
    const byIndex = generateContract(
      shape({ primaryKey: [], replicaIdentity: 'i', identityIndex: ['s_email'] }),
      template,
    );
    expect(byIndex.keySchema.fields.map((f) => f.name)).toEqual(['s_email']);
  });

  it('refuses a table without a key (also REPLICA IDENTITY FULL), an unsupported type, an Avro-illegal name', () => {
    expect(() => generateContract(shape({ primaryKey: [] }), template)).toThrow(/no primary key/);
    expect(() => generateContract(shape({ primaryKey: [], replicaIdentity: 'f' }), template)).toThrow(
      /REPLICA IDENTITY FULL is not a key/,
    );
    const bad = shape();
    bad.columns.push({ name: 'cash', type: 'money', notNull: false });
    expect(() => generateContract(bad, template)).toThrow(/unsupported column type "money"/);
    const badName = shape();
    badName.columns.push({ name: 'First Name', type: 'text', notNull: false });
    expect(() => generateContract(badName, template)).toThrow(/cannot be an Avro field name/);
  });
});

describe('diffContract', () => {
  const contract = generateContract(shape(), template);

  it('the same table: clean', () => {
    const d = diffContract({ fromTable: contract, contract });
    expect(diffIsClean(d)).toBe(true);
    expect(formatDiff(d, { table: 't', contract: 'c' })).toMatch(/table and contract match/);
  });

  it('a nullable column added at the table: a BACKWARD-compatible regeneration', () => {
    const more = shape();
    more.columns.push({ name: 'nickname', type: 'text', notNull: false });
    const d = diffContract({ fromTable: generateContract(more, template), contract });
    expect(d.columns.find((c) => c.name === 'nickname')?.state).toBe('added');
    expect(d.tableToContract.backward).toBe(true);
    expect(diffIsClean(d)).toBe(false);
    expect(formatDiff(d, { table: 't', contract: 'c' })).toMatch(/^\+ +nickname +text -> string +-/m);
  });

  it('a NOT NULL column added, or a type changed: NOT BACKWARD compatible', () => {
    const more = shape();
    more.columns.push({ name: 'tenant', type: 'bigint', notNull: true });
    expect(
      diffContract({ fromTable: generateContract(more, template), contract }).tableToContract.backward,
    ).toBe(false);
    const changed = shape();
    changed.columns[1] = { name: 's_email', type: 'integer', notNull: true };
    const d = diffContract({ fromTable: generateContract(changed, template), contract });
    expect(d.columns.find((c) => c.name === 's_email')?.state).toBe('changed');
    expect(d.tableToContract.backward).toBe(false);
  });

  it('an enum label added at the source: changed, and BACKWARD compatible (the field stays a string)', () => {
    const more = shape();
    more.columns[4] = { ...more.columns[4]!, enumLabels: ['new', 'in progress', 'closed'] };
    const d = diffContract({ fromTable: generateContract(more, template), contract });
    expect(d.columns.find((c) => c.name === 'status')).toMatchObject({
      state: 'changed',
      table: { labels: ['new', 'in progress', 'closed'] },
    });
    expect(d.tableToContract.backward).toBe(true);
  });

  it('the registry: equal, or a BACKWARD verdict for registering the contract', () => {
    const d = diffContract({
      fromTable: contract,
      contract,
      registry: { version: 3, schema: contract.valueSchema },
    });
    expect(d.registry).toMatchObject({ version: 3, equal: true });
    const older = shape();
    older.columns.pop();
    older.columns.pop();
    const d2 = diffContract({
      fromTable: contract,
      contract,
      registry: { version: 1, schema: generateContract(older, template).valueSchema },
    });
    expect(d2.registry).toMatchObject({ version: 1, equal: false, contractToRegistry: { backward: true } });
    expect(diffIsClean(d2)).toBe(false);
  });
});
