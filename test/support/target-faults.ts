// What the fault tests of every kind of target check (test/faults/target-outage.int.test.ts and
// test/pipeline/durability.int.test.ts for a Postgres peer, test/mysql/faults.int.test.ts for a
// MariaDB one): during an outage, every error shown names the connection problem and none blames
// the table, and the consumer backed off (a few attempts in 20 s, not a hot loop); after a kill
// between the target commit and the offset commit, how many events the peer holds that Kafka has
// not seen committed (the redelivery the position guard must absorb).
import { expect } from 'vitest';
import type { KafkaAdminPort, KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { readTopic } from './pipeline.ts';

/** A consumer status (the first ERR) or a sample of it taken during the outage. */
export interface OutageSample {
  state: string;
  failed: number;
  lastError?: string | undefined;
  lastErrorAt?: Date | undefined;
}

/**
 * The outage's verdict: the errors shown since the cut all match `cause` and none says the table
 * does not fit; between 3 and 12 failed attempts (backoff 250 ms doubling to 15 s gives about 7 in
 * 20 s). Returns the number of failed attempts during the outage.
 */
export function expectBackedOffWithCause(
  first: OutageSample,
  during: OutageSample[],
  cutAt: number,
  failedBefore: number,
  cause: RegExp,
): number {
  const shown = [first, ...during]
    .filter((s) => s.state === 'ERR' && (s.lastErrorAt?.getTime() ?? 0) >= cutAt)
    .map((s) => s.lastError);
  expect(shown.length).toBeGreaterThan(0);
  for (const m of new Set(shown)) {
    expect(m).toMatch(cause);
    expect(m).not.toMatch(/do not fit the events/);
  }
  const failedDuring = Math.max(...during.map((s) => s.failed)) - failedBefore;
  expect(failedDuring).toBeGreaterThanOrEqual(3);
  expect(failedDuring).toBeLessThanOrEqual(12);
  return failedDuring;
}

/**
 * Events the peer holds (by their event ids, `atPeer`) from messages at or after the group's
 * committed offset: applied at the target, not committed to Kafka, so they will be redelivered.
 */
export async function appliedButUncommitted(
  kafka: KafkaClientFactory,
  admin: KafkaAdminPort,
  group: string,
  topic: string,
  atPeer: Set<string>,
): Promise<number> {
  const committed = new Map((await admin.groupOffsets(group, topic)).map((o) => [o.partition, o.offset]));
  const messages = await readTopic(kafka, topic);
  return messages.filter(
    (m) => m.offset >= (committed.get(m.partition) ?? -1n) && atPeer.has(m.headers['pgcdc-event-id'] ?? ''),
  ).length;
}
