// The demo's differently shaped peer (dev/cli/commands/demo-shaping.ts): the CMS target it adds
// receives only the users table, placed at fe_users, and its mapping compiles against the users
// contract with no problems (else the consumer would refuse to start mid-demo).
import { describe, expect, it } from 'vitest';
import { addShapedDemoTarget } from '../../../dev/cli/commands/demo-shaping.ts';
import { compileShape } from '../../../consumers/mapping/shape.ts';
import { parseConfig } from '../../../pipeline/config/load.ts';
import type { Config } from '../../../pipeline/config/schema.ts';
import { loadContract } from '../../../schemas/contract.ts';

const base = (): Config =>
  parseConfig({
    source: { url: 'postgres://u@h/db', table: 'users', publication: 'p', slot: 's' },
    kafka: { brokers: ['h:1'] },
    registry: { url: 'http://h:2' },
    targets: [{ name: 'peer', type: 'postgres', url: 'postgres://u@h/peer' }],
  });

describe('demo shaped peer', () => {
  it('adds the CMS target: users only, at fe_users, a mapping without problems', () => {
    const config = base();
    const cms = addShapedDemoTarget(config, 'postgres://u@h/peer');
    expect(config.targets.map((t) => t.name)).toEqual(['peer', 'cms']);
    expect(cms.tables).toEqual([{ name: 'public.users', table: 'fe_users' }]);
    const mapping = cms.mapping;
    expect(mapping && !Array.isArray(mapping)).toBe(true);
    const { shape, problems } = compileShape(Array.isArray(mapping) ? undefined : mapping, loadContract());
    expect(problems).toEqual([]);
    expect(shape).toBeDefined();
    // the whole configuration, CMS included, still parses
    expect(() => parseConfig(JSON.parse(JSON.stringify(config)) as unknown)).not.toThrow();
  });
});
