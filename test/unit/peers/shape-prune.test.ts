// Pure parts of peers with several tables and differing columns (pipeline/peers-shape.ts: the
// link's renames and the node contract check) and of pruning (consumers/peer/prune.ts: the
// progress a batch records, redelivered changes, the horizon rule in SQL).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchProgress, pruneVersionsSql, redelivered } from '../../../consumers/peer/prune.ts';
import type { DecodedEvent } from '../../../consumers/sink.ts';
import { parseConfig } from '../../../pipeline/config/load.ts';
import { linkName, nodeConfig } from '../../../pipeline/peers.ts';
import { linkRename, nodeContractProblems } from '../../../pipeline/peers-shape.ts';
import { DEFAULT_CONTRACT_DIR } from '../../../schemas/contract.ts';

/** The shipped users contract with columns renamed (a node's own contracts). */
function renamedUsers(rename: Record<string, string>, retype: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-unit-peer-'));
  for (const part of ['key', 'value']) {
    const file = `users-${part}.avsc`;
    const schema = JSON.parse(readFileSync(path.join(DEFAULT_CONTRACT_DIR, file), 'utf8')) as {
      fields: { name: string; type: unknown; pgType?: string }[];
    };
    const fields =
      part === 'key'
        ? schema.fields
        : (schema.fields[0]!.type as [string, { fields: { name: string; pgType?: string }[] }])[1].fields;
    for (const f of fields) {
      const type = retype[f.name];
      if (type) f.pgType = type;
      f.name = rename[f.name] ?? f.name;
    }
    writeFileSync(path.join(dir, file), JSON.stringify(schema));
  }
  return dir;
}

const mesh = (b: Record<string, unknown>) =>
  parseConfig({
    source: { url: 'postgres://x@h/a' },
    kafka: { brokers: ['k:9092'], topicPrefix: 'app' },
    registry: { url: 'http://r' },
    peers: {
      nodes: [
        { name: 'a', url: 'postgres://x@h/a' },
        { name: 'b', url: 'postgres://x@h/b', ...b },
        {
          name: 'c',
          url: 'postgres://x@h/c',
          rename: { users: { city: 'town' } },
          contracts: renamedUsers({ city: 'town' }),
        },
      ],
    },
  });

describe('peers: differing columns', () => {
  const b = { rename: { users: { email: 'mail' } }, contracts: renamedUsers({ email: 'mail' }) };
  const config = mesh(b);
  const node = (n: string) => config.peers!.nodes.find((x) => x.name === n)!;

  it('renames from one node’s names to the other’s, only what differs', () => {
    const users = { schema: 'public', table: 'users' };
    expect(linkRename(config, node('a'), node('b'), users)).toEqual({ email: 'mail' });
    expect(linkRename(config, node('b'), node('a'), users)).toEqual({ mail: 'email' });
    expect(linkRename(config, node('b'), node('c'), users)).toEqual({ mail: 'email', city: 'town' });
    expect(linkRename(config, node('a'), node('a'), users)).toEqual({});
  });

  it('gives a link a mapping (every column, renamed) only where names differ', () => {
    const fromB = nodeConfig(config, 'b');
    const toA = fromB.targets.find((t) => t.name === linkName('a'))!;
    const mapping = Array.isArray(toA.mapping) ? toA.mapping[0] : toA.mapping;
    expect(mapping?.rename).toEqual({ mail: 'email' });
    expect(mapping?.include).toContain('mail');
    expect(mapping?.include).toContain('password_hash');
    expect(fromB.source.contracts).toBe(b.contracts);
    const plain = mesh({});
    expect(nodeConfig(plain, 'a').targets.find((t) => t.name === linkName('b'))!.mapping).toBeUndefined();
  });

  it('finds a node whose contracts are not the mesh’s under its renames', () => {
    expect(nodeContractProblems(config, node('b'))).toEqual([]);
    const missing = mesh({ rename: { users: { email: 'mail' } } });
    expect(nodeContractProblems(missing, missing.peers!.nodes[1]!).join()).toMatch(/no contracts of its own/);
    const unknown = mesh({ rename: { users: { nope: 'x' } }, contracts: renamedUsers({}) });
    expect(nodeContractProblems(unknown, unknown.peers!.nodes[1]!).join()).toMatch(/nope: not a column/);
    const lacking = mesh({ rename: { users: { email: 'mail' } }, contracts: renamedUsers({}) });
    expect(nodeContractProblems(lacking, lacking.peers!.nodes[1]!).join()).toMatch(/lacks column mail/);
    const retyped = mesh({ contracts: renamedUsers({}, { city: 'varchar(10)' }) });
    expect(nodeContractProblems(retyped, retyped.peers!.nodes[1]!).join()).toMatch(/city is varchar/);
    const table = mesh({ rename: { orders: { a: 'b' } }, contracts: renamedUsers({}) });
    expect(nodeContractProblems(table, table.peers!.nodes[1]!).join()).toMatch(/orders: not a table/);
  });
});

const ev = (partition: number | undefined, offset: number, ts: number): DecodedEvent =>
  ({
    offset: BigInt(offset),
    ...(partition !== undefined && { partition }),
    key: { id: 1n },
    event: { source: { ts_us: BigInt(ts) } },
  }) as unknown as DecodedEvent;

describe('peers: progress and pruning', () => {
  it('records per partition the last offset and the latest commit time', () => {
    const p = batchProgress([ev(0, 5, 100), ev(1, 2, 300), ev(0, 6, 90), ev(undefined, 9, 999)]);
    expect([...p.entries()]).toEqual([
      [0, { offset: 6n, tsUs: 100n }],
      [1, { offset: 2n, tsUs: 300n }],
    ]);
  });

  it('skips a change decided before: offset and time not past the progress', () => {
    const decided = new Map([[0, { offset: 10n, tsUs: 500n }]]);
    expect(redelivered(ev(0, 10, 500), decided)).toBe(true);
    expect(redelivered(ev(0, 3, 100), decided)).toBe(true);
    expect(redelivered(ev(0, 11, 400), decided)).toBe(false); // a new change
    expect(redelivered(ev(0, 3, 600), decided)).toBe(false); // a topic made again: new write
    expect(redelivered(ev(1, 3, 100), decided)).toBe(false);
    expect(redelivered(ev(undefined, 3, 100), decided)).toBe(false);
  });

  it('prunes only deletes older than the lowest progress of every link and partition, less the margin', () => {
    const t = {
      schema: 'public',
      table: 'users',
      columns: [{ name: 'id', sqlType: 'bigint', pgType: 'bigint' as const, nullable: false }],
      keyColumns: ['id'],
    };
    const s = pruneVersionsSql(t, {
      links: ['b->a', 'c->a'],
      partitions: 3,
      marginUs: 60_000_000n,
      afterMs: 0,
      batch: 10,
    });
    expect(s.text).toMatch(
      /WHERE deleted AND ts_us < \(SELECT CASE WHEN count\(\*\) >= \$2::int THEN min\(ts_us\) - \$3::bigint END/,
    );
    expect(s.text).toMatch(/LIMIT \$5::int FOR UPDATE SKIP LOCKED/);
    expect(s.values).toEqual([['b->a', 'c->a'], 6, '60000000', 0, 10]);
  });
});
