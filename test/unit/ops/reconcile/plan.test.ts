// What reconcile compares, decided from the configuration (ops/reconcile/plan.ts): a webhook target
// is refused with the re-feed to use instead, an unknown target names the configured ones, a
// matched target at MariaDB is planned like one at PostgreSQL (read through its links table, row
// by row: no range hashes), and extra rows are not drift under deletePolicy ignore.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { planTarget, readableTarget } from '../../../../ops/reconcile/plan.ts';

const MATCH = {
  include: ['email', 'username'],
  rename: { username: 'login' },
  match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
  deletePolicy: 'soft',
  softDelete: { column: 'deleted', type: 'boolean' },
};

const config = parseConfig({
  source: { url: 'postgres://u@h/db' },
  kafka: { brokers: ['k:9092'] },
  registry: { url: 'http://r' },
  targets: [
    { name: 'hook', type: 'webhook', url: 'https://h/hook', secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' },
    { name: 'cms', type: 'mysql', url: 'mysql://u:p@h:3306/cms', table: 'fe_users', mapping: MATCH },
    { name: 'pgcms', type: 'postgres', url: 'postgres://u@h/peer', table: 'fe_users', mapping: MATCH },
    { name: 'keep', type: 'postgres', url: 'postgres://u@h/peer', mapping: { deletePolicy: 'ignore' } },
  ],
});

describe('reconcile plan', () => {
  it('refuses a webhook target with the re-feed, and names the targets for an unknown one', () => {
    expect(() => readableTarget(config, 'hook')).toThrow(/webhook: its receiver cannot be read back/);
    try {
      readableTarget(config, 'hook');
    } catch (err) {
      expect((err as { hint?: string }).hint).toMatch(/pgcdc snapshot/);
    }
    expect(() => readableTarget(config, 'nope')).toThrow(/no target named "nope"/);
  });

  it('plans a matched MariaDB target as a matched PostgreSQL one: by source key, row by row', () => {
    for (const name of ['cms', 'pgcms']) {
      const [plan] = planTarget(config, readableTarget(config, name));
      expect(plan!.shape.match, name).toEqual({ column: 'email', caseInsensitive: true, targetKey: 'uid' });
      expect(
        plan!.key.map((k) => k.target),
        name,
      ).toEqual(['id']);
      expect(plan!.sqlHashes, name).toBe(false);
      expect(
        plan!.columns.map((c) => c.name),
        name,
      ).toEqual(['email', 'login']);
      expect(plan!.softDelete, name).toEqual({ column: 'deleted', type: 'boolean' });
      expect(plan!.at.table, name).toBe('fe_users');
    }
    expect(planTarget(config, readableTarget(config, 'cms'))[0]!.kind).toBe('mysql');
  });

  it('extra rows are not drift under deletePolicy ignore', () => {
    expect(planTarget(config, readableTarget(config, 'keep'))[0]!.extrasAreDrift).toBe(false);
    expect(planTarget(config, readableTarget(config, 'pgcms'))[0]!.extrasAreDrift).toBe(true);
  });
});
