// Change events for unit tests: every field set (an insert into public.users of database `src`,
// at LSN 0, transaction 1), with the fields a test cares about given; `source` fields one by one.
import type { ChangeEvent } from '../../../schemas/contract.ts';

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
