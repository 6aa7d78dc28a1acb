// The mapping layer, pure: compiling a target's shape (problems named), mapping rows (renames,
// constants, computed fields, unchanged columns) and filter membership per operation, transitions
// only where the previous row is known, and the event types a target asked for.
import { describe, expect, it } from 'vitest';
import { MappingSchema } from '../../../../pipeline/config/mapping.ts';
import { loadContract, type TableContract } from '../../../../schemas/contract.ts';
import { mapEvent } from '../../../../consumers/mapping/map.ts';
import { compileShape, isIdentity } from '../../../../consumers/mapping/shape.ts';
import { shapeOf } from './support.ts';
import { changeEvent } from '../../support/events.ts';
import type { DecodedEvent } from '../../../../consumers/sink.ts';
import type { Row } from '../../../../schemas/contract.ts';

const contract = loadContract();

const problemsOf = (mapping: unknown, c: TableContract = contract) =>
  compileShape(MappingSchema.parse(mapping), c).problems.map((p) => `${p.path}: ${p.message}`);

const user = (over: Row = {}): Row => ({
  id: 7n,
  email: 'ada@x.io',
  username: 'ada',
  first_name: 'Ada',
  middle_name: null,
  last_name: 'Lovelace',
  password_hash: 'secret',
  is_active: true,
  is_blocked: false,
  bio: 'long',
  created_at: 1n,
  updated_at: 1n,
  ...over,
});

const decoded = (
  op: 'c' | 'u' | 'd' | 'r',
  after: Row | null,
  extra: { before?: Row | null; unchanged?: string[] } = {},
): DecodedEvent => ({
  offset: 1n,
  key: { id: 7n },
  event: changeEvent({
    op,
    after,
    before: extra.before ?? null,
    unchanged: extra.unchanged ?? [],
    event_id: '0/1:0',
  }),
});

const CMS = {
  include: [
    'id',
    'email',
    'username',
    'first_name',
    'middle_name',
    'last_name',
    'is_active',
    'is_blocked',
    'bio',
  ],
  rename: { id: 'shop_id', username: 'login' },
  constants: { pid: { value: 42 } },
  computed: {
    name: '[first_name, middle_name, last_name].filter(x, x.hasValue()).map(x, x.value()).join(" ")',
    disable: '!is_active',
    bio_size: { expression: 'size(bio.orValue(""))', type: 'bigint' },
  },
  filter: 'is_active && !is_blocked',
  deletePolicy: 'soft',
  softDelete: { column: 'deleted', type: 'boolean' },
};

describe('compileShape', () => {
  it('builds the columns: renamed, constants, computed (types inferred), soft-delete column', () => {
    const s = shapeOf(CMS);
    expect(s.columns.map((c) => `${c.name}:${c.pgType}`)).toEqual([
      'shop_id:bigint',
      'email:text',
      'login:text',
      'first_name:text',
      'middle_name:text',
      'last_name:text',
      'is_active:boolean',
      'is_blocked:boolean',
      'bio:text',
      'pid:bigint',
      'name:text',
      'disable:boolean',
      'bio_size:bigint',
      'deleted:boolean',
    ]);
    expect(s.keyColumns).toEqual(['shop_id']);
  });

  it('no mapping is the exact copy', () => {
    expect(isIdentity(compileShape(undefined, contract).shape!)).toBe(true);
    expect(isIdentity(shapeOf({ exclude: ['bio'] }))).toBe(false);
  });

  it.each([
    [{ include: ['id', 'nope'] }, 'mapping.include: unknown column "nope"'],
    [{ exclude: ['id'] }, 'mapping.exclude: the key column "id" must be sent'],
    [{ computed: { x: 'is_active +' } }, 'mapping.computed.x: does not compile'],
    [
      { computed: { x: 'is_active + 1' } },
      'mapping.computed.x: does not compile: no such overload: bool + int',
    ],
    [
      { computed: { x: { expression: 'email', type: 'bigint' } } },
      'mapping.computed.x: type mismatch: the expression is string, the column bigint',
    ],
    [
      { computed: { x: 'no_such_column' } },
      'mapping.computed.x: does not compile: Unknown variable: no_such_column',
    ],
    [{ filter: 'email' }, 'mapping.filter: must be bool, is string'],
    [{ rename: { email: 'username' } }, 'mapping.rename: two columns of the target are named "username"'],
    [
      { transitions: { 'user.x': 'before.nope != after.nope' } },
      'mapping.transitions.user.x: unknown column(s) nope',
    ],
    [{ events: ['user.nope'] }, 'mapping.events: unknown event type "user.nope"'],
  ])('names the problem of %j', (mapping, message) => {
    expect(problemsOf(mapping).join('\n')).toContain(message);
  });

  it('a sensitive column (marked in the contract) goes only to a target that names it', () => {
    const rec = JSON.parse(JSON.stringify(contract.valueSchema)) as TableContract['valueSchema'];
    const row = (rec.fields.find((f) => f.name === 'before')!.type as unknown[])[1] as {
      fields: { name: string; sensitive?: boolean }[];
    };
    row.fields.find((f) => f.name === 'password_hash')!.sensitive = true;
    const marked: TableContract = { ...contract, valueSchema: rec };
    expect(compileShape(undefined, marked).shape!.columns.map((c) => c.name)).not.toContain('password_hash');
    expect(isIdentity(compileShape(undefined, marked).shape!)).toBe(false);
    expect(shapeOf({ include: ['id', 'password_hash'] }, marked).columns.map((c) => c.name)).toContain(
      'password_hash',
    );
    expect(problemsOf({ computed: { h: 'password_hash.orValue("")' } }, marked).join()).toContain(
      'reads sensitive column(s) password_hash',
    );
  });
});

describe('mapEvent', () => {
  const s = shapeOf(CMS);
  const one = (e: DecodedEvent) => {
    const m = mapEvent(s, e);
    if ('dead' in m) throw new Error(m.dead.error);
    return m.events;
  };

  it('maps a matching row: renames, constant, computed fields, soft-delete column live', () => {
    const [e] = one(decoded('c', user()));
    expect(e!.key).toEqual({ shop_id: 7n });
    expect(e!.event.after).toMatchObject({
      shop_id: 7n,
      login: 'ada',
      pid: 42n,
      name: 'Ada Lovelace',
      disable: false,
      bio_size: 4n,
      deleted: false,
    });
    expect(e!.event.after).not.toHaveProperty('password_hash');
    expect(e!.event.after).not.toHaveProperty('username');
  });

  it('a column the source did not send stays unchanged, and so does a computed field reading it', () => {
    const [e] = one(decoded('u', user({ bio: null }), { unchanged: ['bio'] }));
    expect(e!.event.unchanged.sort()).toEqual(['bio', 'bio_size']);
  });

  it.each([
    ['insert outside the filter: dropped', decoded('c', user({ is_active: false })), []],
    ['update outside, previous unknown: removed', decoded('u', user({ is_blocked: true })), ['d']],
    [
      'update outside, previous outside too: dropped',
      decoded('u', user({ is_blocked: true }), { before: user({ is_active: false }) }),
      [],
    ],
    [
      'update outside, previous inside: removed',
      decoded('u', user({ is_blocked: true }), { before: user() }),
      ['d'],
    ],
    ['snapshot read outside: removed', decoded('r', user({ is_active: false })), ['d']],
    ['update inside: written', decoded('u', user()), ['u']],
    ['delete, previous unknown: removed', decoded('d', null), ['d']],
    ['delete, previous outside: dropped', decoded('d', null, { before: user({ is_active: false }) }), []],
  ])('%s', (_what, e, ops) => {
    expect(one(e).map((x) => x.event.op)).toEqual(ops);
  });

  it('ignore drops removals', () => {
    const ignore = shapeOf({ filter: 'is_active', deletePolicy: 'ignore' });
    const m = mapEvent(ignore, decoded('u', user({ is_active: false })));
    expect('events' in m && m.events).toEqual([]);
  });

  it('a filter that reads a column the source did not send is dead-lettered, not guessed', () => {
    const f = shapeOf({ filter: 'bio.orValue("") != ""' });
    const m = mapEvent(f, decoded('u', user({ bio: null }), { unchanged: ['bio'] }));
    expect('dead' in m && m.dead.reason).toBe('filter-undecidable');
  });

  const hooks = shapeOf({
    transitions: {
      'user.activated': '!before.is_active && after.is_active',
      'user.email_changed': 'before.email != after.email',
    },
    events: ['created', 'user.activated', 'user.email_changed'],
  });

  it('transitions need the previous row; only the types asked for are delivered', () => {
    // decoded rows are instances of the Avro record's class, not plain objects
    class Value {}
    const before: Row = Object.assign(new Value(), user({ is_active: false }));
    const withBefore = mapEvent(hooks, decoded('u', user({ email: 'new@x.io' }), { before }));
    expect('events' in withBefore && withBefore.events.map((e) => [e.type, e.event.event_id])).toEqual([
      ['user.activated', '0/1:0/user.activated'],
      ['user.email_changed', '0/1:0/user.email_changed'],
    ]);
    const without = mapEvent(hooks, decoded('u', user({ email: 'new@x.io' })));
    expect('events' in without && without.events).toEqual([]);
    const created = mapEvent(hooks, decoded('c', user()));
    expect('events' in created && created.events.map((e) => e.type ?? e.event.op)).toEqual(['c']);
  });
});
