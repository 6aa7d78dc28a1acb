// Unique names for per-test resources (databases, topics, consumer groups, slots, subjects), so
// tests never share state and can run against a stack that other runs also use.
import { randomBytes } from 'node:crypto';

/**
 * `randomName('orders')` -> `orders_m3k9x2a1_5f0c2e`: lower-case letters, digits and `_` only,
 * at most 63 characters, so one name is valid as a Postgres database or replication slot name,
 * a Kafka topic or group id, and a registry subject.
 */
export function randomName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 40) || 't';
  return `${clean}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}
