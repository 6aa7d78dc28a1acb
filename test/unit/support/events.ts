// Change events for unit tests: every field set (an insert into public.users of database `src`,
// at LSN 0, transaction 1), with the fields a test cares about given; `source` fields one by one.
import type { ChangeEvent, Row } from '../../../schemas/contract.ts';

export type ChangeEventFields = Partial<Omit<ChangeEvent, 'source'>> & {
  source?: Partial<ChangeEvent['source']>;
};

export function changeEvent({ source, ...fields }: ChangeEventFields = {}): ChangeEvent {
  return {
    before: null,
    after: null,
    unchanged: [],
    source: {
      version: '0.1.0',
      connector: 'pgcdc',
      name: 'pgcdc',
      db: 'src',
      schema: 'public',
      table: 'users',
      lsn: 0n,
      commit_lsn: 0n,
      seq: 0n,
      tx_id: 1n,
      ts_us: 0n,
      snapshot: false,
      ...source,
    },
    op: 'c',
    ts_ms: 0n,
    event_id: '',
    ...fields,
  };
}

/**
 * A builder of decoded changes of users at given source positions (commit_lsn = lsn, seq 0), with
 * Kafka offsets counting from 1: for tests that feed a sink directly. A truncate has no row key.
 */
export function positionedChanges() {
  let offset = 0n;
  return (
    op: ChangeEvent['op'],
    id: bigint,
    lsn: bigint,
    after: Row | null = null,
    unchanged: string[] = [],
  ) => ({
    offset: ++offset,
    key: (op === 't' ? {} : { id }) as Row,
    event: changeEvent({
      op,
      after: after && {
        id,
        email: `u${id}@x.io`,
        username: `u${id}`,
        is_active: true,
        is_blocked: false,
        created_at: 1_700_000_000_000_000n,
        updated_at: 1_700_000_000_000_000n,
        ...after,
      },
      unchanged,
      source: { lsn, commit_lsn: lsn },
      event_id: `${op}-${id}-${lsn}`,
    }),
  });
}
