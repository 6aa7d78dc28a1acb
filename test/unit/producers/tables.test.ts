// Several tables in one producer (docs/tables.md): the assembler decodes each captured table with
// its own contract and shares one transaction's commit LSN and seq numbering across tables; the
// publisher sends each table's events to its own topic and acknowledges a position only after
// every topic of the batch is acknowledged.
import { describe, expect, it } from 'vitest';
import type { Pgoutput } from 'pg-logical-replication';
import { TransactionAssembler } from '../../../producers/postgres/assembler.ts';
import { AckingPublisher } from '../../../producers/publisher.ts';
import type { KafkaProducerPort, OutMessage } from '../../../pipeline/kafka/port.ts';
import { loadContract } from '../../../schemas/contract.ts';
import type { Lsn } from '../../../schemas/lsn.ts';
import { fixtureContractDir } from '../../../dev/tables/index.ts';
import { changeEvent } from '../support/events.ts';
import {
  begin,
  commit,
  insert,
  otherRelation,
  truncate,
  usersRelation,
  usersRow,
} from '../support/pgoutput.ts';
import { eventIdCodec } from '../support/publisher.ts';

const dir = fixtureContractDir();
const users = loadContract('users', 'public', dir);
const memberships = loadContract('memberships', 'public', dir);

function membershipsRelation(): Pgoutput.MessageRelation {
  const col = (name: string, key: boolean, typeOid: number) => ({
    name,
    flags: key ? 1 : 0,
    typeOid,
    typeMod: -1,
    typeSchema: null,
    typeName: null,
    parser: (raw: string) => raw,
  });
  const columns = [
    col('user_id', true, 20),
    col('group_id', true, 20),
    col('role', false, 25),
    col('note', false, 25),
    col('joined_at', false, 1184),
  ];
  return {
    tag: 'relation',
    relationOid: 17000,
    schema: 'public',
    name: 'memberships',
    replicaIdentity: 'default',
    columns,
    keyColumns: ['user_id', 'group_id'],
  };
}

describe('assembler with several contracts', () => {
  it("decodes each table with its contract (composite keys too), one transaction's seq across tables", () => {
    const asm = new TransactionAssembler({
      contracts: [users, memberships],
      db: 'd',
      name: 'p',
      version: '0',
    });
    const m = membershipsRelation();
    const u = usersRelation();
    asm.push(u, '0/10');
    asm.push(m, '0/10');
    asm.push(otherRelation(), '0/10');
    asm.push(begin(7, '0/100', 1n), '0/10');
    const out = [
      ...asm.push(insert(u, usersRow(5)), '0/20'),
      ...asm.push(
        insert(m, {
          user_id: '5',
          group_id: '9',
          role: 'admin',
          note: null,
          joined_at: '2024-03-01 00:00:00+00',
        }),
        '0/30',
      ),
      ...asm.push(insert(otherRelation(), { id: '1', total: '2' }), '0/40'),
      ...asm.push(truncate(u, m, otherRelation()), '0/50'),
      ...asm.push(commit('0/100', '0/110'), '0/110'),
    ];
    const events = out.flatMap((i) => (i.kind === 'event' || i.kind === 'truncate' ? [i] : []));
    expect(events.map((i) => [i.kind, i.event.source.table, i.event.source.seq])).toEqual([
      ['event', 'users', 0n],
      ['event', 'memberships', 1n],
      ['truncate', 'users', 2n],
      ['truncate', 'memberships', 3n],
    ]);
    const member = events[1]!;
    expect(member.kind === 'event' && member.key).toEqual({ user_id: 5n, group_id: 9n });
    expect(member.event.after).toMatchObject({ role: 'admin', note: null });
  });
});

describe('publisher with several topics', () => {
  it("sends each table's events to its topic and acknowledges only after every topic of the batch", async () => {
    const sends: { topic: string; ids: string[] }[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let groupsSent: () => void = () => undefined;
    const groupsStarted = new Promise<void>((r) => (groupsSent = r));
    const producer: KafkaProducerPort = {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      async send(topic: string, messages: OutMessage[]) {
        sends.push({ topic, ids: messages.map((x) => x.value?.toString() ?? 'tombstone') });
        if (topic !== 'p.groups') return;
        groupsSent();
        await held; // the second topic's send is not acknowledged yet
      },
    };
    const acks: Lsn[] = [];
    const publisher = new AckingPublisher({
      producer,
      routes: new Map([
        ['public.users', { topic: 'p.users', codec: eventIdCodec }],
        ['public.groups', { topic: 'p.groups', codec: eventIdCodec }],
      ]),
      batchMaxMessages: 100,
      lingerMs: 0,
      ackAfterPublish: (lsn) => acks.push(lsn),
    });
    const ev = (table: string, id: string) => ({
      kind: 'event' as const,
      key: { id: 1n },
      event: changeEvent({ event_id: id, source: { table } }),
    });
    await publisher.push(ev('users', 'u1'));
    await publisher.push(ev('groups', 'g1'));
    await publisher.push(ev('users', 'u2'));
    await publisher.push({ kind: 'commit', endLsn: 0x200n, commitLsn: 0x100n, events: 3 });
    const flushed = publisher.flush();
    await groupsStarted;
    expect(acks).toEqual([]); // users acknowledged, groups not yet
    release();
    await flushed;
    expect(sends).toEqual([
      { topic: 'p.users', ids: ['u1', 'u2'] },
      { topic: 'p.groups', ids: ['g1'] },
    ]);
    expect(acks).toEqual([0x200n]);
    await expect(publisher.push(ev('orders', 'o1'))).rejects.toThrow(
      /public\.orders, which is not a captured table/,
    );
  });
});
