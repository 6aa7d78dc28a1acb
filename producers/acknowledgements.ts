// The acknowledgement side of a producer session (session.ts), the chain that makes "acknowledge
// only what is durable" hold: Kafka acknowledged every event up to a WAL position (the publisher's
// ackAfterPublish) -> the position is stored in the source database (the position table) -> only
// then is it acknowledged to the server (the slot's confirmed_flush_lsn), so the slot can never be
// ahead of what pgcdc stored (checked at the next start). And the one acknowledgement that has no
// event behind it: an idle stream confirms the server's keepalive position.
import type pg from 'pg';
import type { SourceConfig } from '../pipeline/config/schema.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import { formatLsn, type Lsn } from '../schemas/lsn.ts';
import { PositionKeeper, storePosition } from './postgres/position.ts';
import type { ReplicationStream } from './postgres/replication.ts';
import type { SlotInfo } from './postgres/setup.ts';

/** How far past the acknowledged position an idle stream's keepalive must be to be confirmed. */
const IDLE_KEEPALIVE_BYTES = 1n << 20n;

/** Stores an acknowledged position in the source, then acknowledges it to the server. */
export function createPositionKeeper(opts: {
  slot: SlotInfo;
  stream: ReplicationStream;
  /** the session's source client (the position table's writes) */
  client: pg.Client;
  source: SourceConfig;
  metrics: Metrics;
  /** told the acknowledged position (the session report's confirmedLsn) */
  onConfirmed: (lsn: string) => void;
}): PositionKeeper {
  const { slot, stream, client, source, metrics } = opts;
  return new PositionKeeper(
    slot.confirmedFlushLsn,
    (lsn) => storePosition(client, source.position, source.slot, lsn),
    (lsn) => {
      stream.acknowledge(lsn);
      opts.onConfirmed(formatLsn(stream.acknowledgedLsn));
      metrics.confirmedLsn.set(Number(stream.acknowledgedLsn));
    },
    // Spaced writes: one source commit per interval, not one per acknowledged transaction.
    // PostgreSQL < 15 streams empty transactions, this write's included, so there the
    // interval is also at least the status interval (PositionKeeper).
    slot.serverVersion >= 150_000
      ? source.ackIntervalMs
      : Math.max(source.ackIntervalMs, source.statusIntervalMs),
  );
}

/**
 * An idle stream confirms the server's keepalive position (as pgjdbc does) once it is 1 MiB past
 * the acknowledged one: WAL of other tables is released without waiting for a heartbeat, and the
 * position's own store (a few bytes of WAL) never triggers the next one. Idle: nothing waits for
 * Kafka and no transaction is open (every received message handled).
 */
export function acknowledgeIdleKeepalives(
  stream: ReplicationStream,
  idle: { publisher: () => boolean; inTransaction: () => boolean },
  keeper: PositionKeeper,
): void {
  stream.acknowledgeKeepalivesWhen(
    (lsn: Lsn) =>
      lsn - stream.acknowledgedLsn >= IDLE_KEEPALIVE_BYTES &&
      idle.publisher() &&
      !idle.inTransaction() &&
      keeper.advance(lsn),
  );
}
