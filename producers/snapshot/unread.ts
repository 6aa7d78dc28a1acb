// Which keys the running snapshot may not have fed yet, as seen from the stream. An update that
// leaves a TOASTed column unchanged carries no value for it; for a row the snapshot has not fed
// yet, a target filled from the topic has no row to update (a `missing-row` dead letter for
// healthy data). The producer publishes such updates complete (postgres/row-reader.ts) when this
// says the key may be unread. Pure.
//
// Sound by lagging: the feed moves `lastKey` and `pending` only after a chunk's window closed in
// the stream (its rows are then published before anything that follows), so a key is taken as fed
// only when its row is already ahead in the topic. Wherever it cannot tell (no look at the
// checkpoint yet, a key type without a known order), the answer is "may be unread": an extra read,
// never a missing value.
import type { Row, TableContract } from '../../schemas/contract.ts';
import { keyTextOf } from './events.ts';

const INTEGER_KEYS: ReadonlySet<string> = new Set(['smallint', 'integer', 'bigint']);

export type SnapshotProgress =
  /** the feed has not looked at its checkpoint yet (or is between snapshots) */
  | { phase: 'unknown' }
  /** no snapshot runs */
  | { phase: 'idle' }
  /** rows with keys up to `lastKey` are fed, except the `pending` ones (to be read again) */
  | { phase: 'running'; lastKey: string | null; pending: ReadonlySet<string> };

export function mayBeUnread(progress: SnapshotProgress, contract: TableContract, key: Row): boolean {
  switch (progress.phase) {
    case 'unknown':
      return true;
    case 'idle':
      return false;
    case 'running': {
      const keyText = keyTextOf(contract, key);
      if (progress.lastKey === null || progress.pending.has(keyText)) return true;
      // a composite key's scan order is the database's row order: not known here
      if (contract.keyColumns.length !== 1) return true;
      const column = contract.keyColumns[0]!;
      // the scan's order is the database's; here it is known for integer keys only
      const type = contract.columns.find((c) => c.name === column)?.pgType;
      if (!type || !INTEGER_KEYS.has(type)) return true;
      return BigInt(keyText) > BigInt(progress.lastKey);
    }
    default:
      return progress satisfies never;
  }
}
