// Synthetic pgoutput messages, shaped as pg-logical-replication hands them to the producer with our
// raw-text column parsers: tuple values are PostgreSQL text, null for SQL NULL, undefined for an
// unchanged TOAST value; a key tuple ('K') holds only the key columns.
import type { Pgoutput } from 'pg-logical-replication';
import { loadContract, type PgType } from '../../../schemas/contract.ts';

export type RawTuple = Record<string, string | null | undefined>;

const TYPE_OIDS: Partial<Record<PgType, [number, string]>> = {
  bigint: [20, 'int8'],
  text: [25, 'text'],
  boolean: [16, 'bool'],
  jsonb: [3802, 'jsonb'],
  'text[]': [1009, '_text'],
  numeric: [1700, 'numeric'],
  timestamptz: [1184, 'timestamptz'],
};

export const USERS_OID = 16384;

/** The Relation message of public.users as the contract describes it (optionally altered). */
export function usersRelation(
  opts: {
    oid?: number;
    schema?: string;
    name?: string;
    drop?: string[];
    extra?: string[];
    full?: boolean;
  } = {},
): Pgoutput.MessageRelation {
  const contract = loadContract();
  const columns: Pgoutput.RelationColumn[] = contract.columns
    .filter((c) => !opts.drop?.includes(c.name))
    .map((c) => {
      const [typeOid] = TYPE_OIDS[c.pgType] ?? [25, 'text'];
      return column(c.name, typeOid, contract.keyColumns.includes(c.name) || opts.full === true);
    });
  for (const name of opts.extra ?? []) columns.push(column(name, 25, opts.full === true));
  return {
    tag: 'relation',
    relationOid: opts.oid ?? USERS_OID,
    schema: opts.schema ?? 'public',
    name: opts.name ?? 'users',
    replicaIdentity: opts.full ? 'full' : 'default',
    columns,
    keyColumns: columns.filter((c) => c.flags === 1).map((c) => c.name),
  };
}

/** Some other captured-by-the-publication table, which the users assembler must ignore. */
export function otherRelation(schema = 'public', name = 'orders', oid = 16500): Pgoutput.MessageRelation {
  const columns = [column('id', 20, true), column('total', 1700, false)];
  return {
    tag: 'relation',
    relationOid: oid,
    schema,
    name,
    replicaIdentity: 'default',
    columns,
    keyColumns: ['id'],
  };
}

function column(name: string, typeOid: number, key: boolean): Pgoutput.RelationColumn {
  return {
    name,
    flags: key ? 1 : 0,
    typeOid,
    typeMod: -1,
    typeSchema: null,
    typeName: null,
    parser: (raw: string) => raw,
  };
}

/** A complete users row in PostgreSQL text form (DateStyle ISO, TimeZone UTC). */
export function usersRow(id: number | string, overrides: RawTuple = {}): RawTuple {
  return {
    id: String(id),
    email: `user${id}@example.com`,
    username: `user${id}`,
    first_name: 'Ada',
    middle_name: null,
    last_name: 'Lovelace',
    password_hash: '$2b$12$abcdefghijklmnopqrstuv',
    phone: '+44 20 7946 0958',
    company: 'Analytical Engines "Ltd"',
    address: '12 St James’s Square',
    zip: 'SW1Y 4JH',
    city: 'London',
    country: 'GB',
    is_active: 't',
    is_blocked: 'f',
    bio: 'Wrote the first program. 😀',
    preferences: '{"theme": "dark", "langs": ["en", "fr"], "n": 1.50}',
    tags: '{admin,"with space",NULL,"",héllo}',
    balance: '1234567890.12',
    created_at: '2024-02-29 07:04:56.789012+00',
    updated_at: '2024-03-01 00:00:00+00',
    last_login_at: null,
    ...overrides,
  };
}

export const begin = (
  xid: number,
  commitLsn: string | null,
  commitTimeUs: bigint,
): Pgoutput.MessageBegin => ({
  tag: 'begin',
  commitLsn,
  commitTime: commitTimeUs,
  xid,
});

export const commit = (commitLsn: string, commitEndLsn: string | null): Pgoutput.MessageCommit => ({
  tag: 'commit',
  flags: 0,
  commitLsn,
  commitEndLsn,
  commitTime: 0n,
});

export const insert = (relation: Pgoutput.MessageRelation, row: RawTuple): Pgoutput.MessageInsert => ({
  tag: 'insert',
  relation,
  new: row,
});

export const update = (
  relation: Pgoutput.MessageRelation,
  row: RawTuple,
  old: { key?: RawTuple; old?: RawTuple } = {},
): Pgoutput.MessageUpdate => ({
  tag: 'update',
  relation,
  key: old.key ?? null,
  old: old.old ?? null,
  new: row,
});

export const del = (
  relation: Pgoutput.MessageRelation,
  old: { key?: RawTuple; old?: RawTuple },
): Pgoutput.MessageDelete => ({
  tag: 'delete',
  relation,
  key: old.key ?? null,
  old: old.old ?? null,
});

export const logicalMessage = (
  prefix: string,
  messageLsn: string | null,
  transactional = false,
  content = '',
): Pgoutput.MessageMessage => ({
  tag: 'message',
  flags: transactional ? 1 : 0,
  transactional,
  messageLsn,
  prefix,
  content: new TextEncoder().encode(content),
});

export const truncate = (...relations: Pgoutput.MessageRelation[]): Pgoutput.MessageTruncate => ({
  tag: 'truncate',
  cascade: false,
  restartIdentity: false,
  relations,
});
