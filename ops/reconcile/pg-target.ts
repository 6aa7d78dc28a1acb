// The TargetReader of a PostgreSQL target (scan.ts): range hashes computed by the server, so a
// chunk that agrees is never transferred; rows by range and by key as postgres.ts reads them.
import type pg from 'pg';
import { targetRangeHash, targetRows, targetRowsByKeys } from './postgres.ts';
import type { TargetReader } from './scan.ts';

export function postgresTargetReader(c: pg.Client): TargetReader {
  return {
    rangeHash: (plan, range) => targetRangeHash(c, plan, range),
    rows: (plan, range, limit) => targetRows(c, plan, range, limit),
    rowsByKeys: (plan, keys) => targetRowsByKeys(c, plan, keys),
  };
}
