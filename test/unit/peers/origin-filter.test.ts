// The producer's no-echo filter (producers/postgres/origin.ts): the changes of a transaction that
// carries a replication origin are dropped, its Begin and Commit pass (the position advances).
import type { Pgoutput } from 'pg-logical-replication';
import { describe, expect, it } from 'vitest';
import { OriginFilter, originOption } from '../../../producers/postgres/origin.ts';

const rel = { tag: 'relation' } as Pgoutput.MessageRelation;
const begin = { tag: 'begin', commitLsn: '0/10', commitTime: 0n, xid: 1 } as Pgoutput.Message;
const commit = { tag: 'commit' } as Pgoutput.Message;
const insert = { tag: 'insert', relation: rel, new: {} } as Pgoutput.Message;
const origin = { tag: 'origin', originLsn: null, originName: 'pgcdc_m_a_b' } as Pgoutput.Message;
const heartbeat = { tag: 'message', transactional: false } as Pgoutput.Message;

describe('OriginFilter', () => {
  it('drops the changes of origin-marked transactions, keeps begin/commit and later local ones', () => {
    const f = new OriginFilter();
    const seen = [begin, origin, rel, insert, insert, commit, heartbeat, begin, insert, commit].map((m) =>
      f.pass(m) ? m.tag : '-',
    );
    expect(seen).toEqual([
      'begin',
      '-',
      'relation',
      '-',
      '-',
      'commit',
      'message',
      'begin',
      'insert',
      'commit',
    ]);
    expect(f.skipped).toBe(1);
  });

  it('asks the server to filter from PostgreSQL 16 on', () => {
    expect(originOption(150004)).toBeUndefined();
    expect(originOption(160000)).toBe(`origin 'none'`);
  });
});
