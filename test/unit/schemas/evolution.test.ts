// Automatic schema changes, the pure parts (docs/contracts.md, Schema changes): a new nullable
// column appended to a contract is a BACKWARD-compatible evolution (an event written before reads
// it as null), what a writer schema adds is found, and what it changes otherwise is refused; the
// producer's Relation handling evolves, leaves out, or stops; a database target's sink adds the
// columns once, before the first batch of the new version, and fills older rows' gaps with null.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { evolvingSink, newColumns, withNulls } from '../../../consumers/evolving-sink.ts';
import type { DecodedEvent, Sink } from '../../../consumers/sink.ts';
import { createLogger } from '../../../pipeline/observability/logger.ts';
import { SchemaMismatchError } from '../../../producers/postgres/assembler.ts';
import { evolveOnRelation } from '../../../producers/postgres/schema-changes.ts';
import { avroType } from '../../../schemas/avro.ts';
import type { EventCodec } from '../../../schemas/codec.ts';
import { loadContract, rowRecordOf, type ColumnSpec, type TableContract } from '../../../schemas/contract.ts';
import {
  additionsOf,
  assertAddable,
  fingerprintOf,
  nullableFieldOf,
  withColumns,
} from '../../../schemas/evolution.ts';
import { addColumnsSql } from '../../../consumers/postgres/add-columns.ts';
import { addColumnSql } from '../../../consumers/mysql/add-columns.ts';
import { positionedChanges } from '../support/events.ts';
import { usersRelation } from '../support/pgoutput.ts';

const users = loadContract();
const logger = createLogger({ level: 'silent' });
const nickname = nullableFieldOf({ name: 'nickname', type: 'text' });

describe('contract evolution', () => {
  it('appends a nullable column to before and after; an older event reads it as null', () => {
    const evolved = withColumns(users, [nickname]);
    expect(evolved.columns.map((c) => c.name)).toEqual([...users.columns.map((c) => c.name), 'nickname']);
    expect(evolved.columns.at(-1)).toMatchObject({ name: 'nickname', pgType: 'text', nullable: true });
    expect(rowRecordOf(users.valueSchema).fields.map((f) => f.name)).not.toContain('nickname'); // not mutated
    expect(fingerprintOf(evolved.valueSchema)).not.toBe(fingerprintOf(users.valueSchema));
    const event = positionedChanges()('c', 7n, 10n, {});
    const old = avroType(users.valueSchema);
    const now = avroType(evolved.valueSchema);
    const read = now.fromBuffer(old.toBuffer(event.event), now.createResolver(old)) as {
      after: Record<string, unknown>;
    };
    expect(read.after.nickname).toBeNull();
    expect(read.after.id).toBe(7n);
  });

  it('finds what a writer adds, and refuses what is no additive evolution', () => {
    const evolved = withColumns(users, [nickname, nullableFieldOf({ name: 'tags2', type: 'integer[]' })]);
    expect(additionsOf(users, evolved).added.map((c) => c.name)).toEqual(['nickname', 'tags2']);
    expect(additionsOf(evolved, users).incompatible).toBe('column nickname is missing'); // an older writer
    expect(additionsOf(users, users)).toEqual({ added: [] });
    const retyped = withColumns({ ...users, valueSchema: structuredClone(users.valueSchema) }, []);
    rowRecordOf(retyped.valueSchema).fields.find((f) => f.name === 'city')!.pgType = 'integer';
    const again = withColumns(retyped, []);
    expect(additionsOf(users, again).incompatible).toMatch(/column city is integer/);
  });

  it('refuses a column name or type spelling that is not safe in DDL', () => {
    const spec = (name: string, sqlType: string, enumSymbols?: string[]): ColumnSpec => ({
      name,
      sqlType,
      pgType: enumSymbols ? 'enum' : 'text',
      nullable: true,
      ...(enumSymbols ? { enumSymbols } : {}),
    });
    expect(() => assertAddable(spec('ok', 'character varying(100)[]'))).not.toThrow();
    expect(() => assertAddable(spec('mood', '"My Mood"', ['a']))).not.toThrow();
    expect(() => assertAddable(spec('mood', 'app.mood[]', ['a']))).not.toThrow();
    expect(() => assertAddable(spec('x', 'text; DROP TABLE users'))).toThrow(/cannot be added/);
    expect(() => assertAddable(spec('x', 'mood; DROP TABLE users', ['a']))).toThrow(/cannot be added/);
    expect(() => assertAddable(spec('bad name', 'text'))).toThrow(/cannot be added/);
    expect(addColumnsSql({ schema: 'public', table: 'we"ird' }, [spec('nick', 'text')])).toEqual([
      'ALTER TABLE "public"."we""ird" ADD COLUMN IF NOT EXISTS "nick" text',
    ]);
    expect(addColumnSql('users', spec('nick', 'text'))).toBe(
      'ALTER TABLE `users` ADD COLUMN `nick` LONGTEXT NULL',
    );
  });
});

/** A source client answering the Relation types query with `rows`. */
function fakeClient(
  rows: { name: string; type: string; notNull: string | null; enumLabels: string | null }[],
) {
  return { query: vi.fn(() => Promise.resolve({ rows })) } as unknown as pg.ClientBase;
}

/** The Relation-types rows of the users contract, plus `extra` ones. */
function typeRows(
  extra: { name: string; type: string; notNull?: boolean }[],
  retype: Record<string, string> = {},
) {
  return [
    ...users.columns.map((c) => ({
      name: c.name,
      type: retype[c.name] ?? c.sqlType,
      notNull: String(!c.nullable),
      enumLabels: null,
    })),
    ...extra.map((e) => ({
      name: e.name,
      type: e.type,
      notNull: String(e.notNull ?? false),
      enumLabels: null,
    })),
  ];
}

describe('the producer at a Relation message (automatic mode)', () => {
  const codec = { valueSchemaId: 42, keySchemaId: 41 } as EventCodec;

  it('adds a new nullable column: registered, written beside the pinned contract', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-evolve-'));
    const register = vi.fn((_topic: string, _c: TableContract) => Promise.resolve(codec));
    const evolved = await evolveOnRelation(
      {
        client: fakeClient(typeRows([{ name: 'nickname', type: 'character varying(40)' }])),
        register,
        contractsDir: dir,
        logger,
      },
      usersRelation({ extra: ['nickname'] }),
      users,
      'cdc.public.users',
    );
    expect(evolved?.codec).toBe(codec);
    expect(evolved?.contract.columns.at(-1)).toMatchObject({
      name: 'nickname',
      sqlType: 'character varying(40)',
      nullable: true,
    });
    expect(register).toHaveBeenCalledWith('cdc.public.users', evolved!.contract);
    const file = JSON.parse(readFileSync(path.join(dir, 'users-value.evolved.avsc'), 'utf8')) as object;
    expect(file).toEqual(evolved!.contract.valueSchema);
  });

  it('leaves a NOT NULL new column out, and stops at a changed type', async () => {
    const register = vi.fn(() => Promise.resolve(codec));
    const deps = (rows: ReturnType<typeof typeRows>) => ({
      client: fakeClient(rows),
      register,
      contractsDir: undefined,
      logger,
    });
    expect(
      await evolveOnRelation(
        deps(typeRows([{ name: 'n', type: 'integer', notNull: true }])),
        usersRelation({ extra: ['n'] }),
        users,
        't',
      ),
    ).toBeUndefined();
    expect(await evolveOnRelation(deps(typeRows([])), usersRelation(), users, 't')).toBeUndefined();
    await expect(
      evolveOnRelation(deps(typeRows([], { city: 'integer' })), usersRelation(), users, 't'),
    ).rejects.toThrow(SchemaMismatchError);
    expect(register).not.toHaveBeenCalled();
  });
});

describe('a database target following the contract', () => {
  function fakeSink(contract: TableContract, log: string[]): Sink {
    return {
      kind: 'postgres',
      open: () => Promise.resolve(void log.push(`open ${contract.columns.length}`)),
      close: () => Promise.resolve(void log.push(`close ${contract.columns.length}`)),
      apply: (events: DecodedEvent[]) => {
        log.push(
          `apply ${contract.columns.length} ${events.map((e) => String(e.event.after?.nickname)).join(',')}`,
        );
        return Promise.resolve({ applied: events, deadLetters: [] });
      },
    };
  }

  it('adds the columns once, before the first batch of the new version; older rows get null', async () => {
    const evolved = withColumns(users, [nickname]);
    let current = users;
    const log: string[] = [];
    const addColumns = vi.fn((cols: ColumnSpec[]) =>
      Promise.resolve(void log.push(`add ${cols.map((c) => c.name).join()}`)),
    );
    const sink = evolvingSink({
      contract: users,
      current: () => current,
      build: (c) => fakeSink(c, log),
      addColumns,
      logger,
    });
    await sink.open();
    const n = users.columns.length;
    const change = positionedChanges();
    const a = change('c', 1n, 10n, {});
    const b = change('c', 2n, 11n, {});
    await sink.apply([a]);
    current = evolved;
    const withNick = { ...b, event: { ...b.event, after: { ...b.event.after!, nickname: 'nick' } } };
    await sink.apply([a, withNick]);
    await sink.apply([withNick]);
    expect(log).toEqual([
      `open ${n}`,
      `apply ${n} undefined`,
      'add nickname',
      `open ${n + 1}`,
      `close ${n}`,
      `apply ${n + 1} null,nick`,
      `apply ${n + 1} nick`,
    ]);
    expect(addColumns).toHaveBeenCalledTimes(1);
    expect(newColumns(users, evolved).map((c) => c.name)).toEqual(['nickname']);
    expect(withNulls([a], [])[0]).toBe(a);
  });

  it('keeps the old sink when the DDL fails (the apply is retried)', async () => {
    const log: string[] = [];
    const sink = evolvingSink({
      contract: users,
      current: () => withColumns(users, [nickname]),
      build: (c) => fakeSink(c, log),
      addColumns: () => Promise.reject(new Error('permission denied')),
      logger,
    });
    await sink.open();
    await expect(sink.apply([positionedChanges()('c', 1n, 10n, {})])).rejects.toThrow('permission denied');
    expect(log).toEqual([`open ${users.columns.length}`]);
  });
});
