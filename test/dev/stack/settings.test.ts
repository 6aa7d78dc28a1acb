// Stack settings (dev/stack/settings.ts): defaults, PGCDC_STACK_* overrides, and errors that
// name the variable to fix.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, stackSettingsFromEnv, stackUrls } from '../../../dev/stack/settings.ts';
import { newClusterId } from '../../../dev/stack/kafka.ts';
import { ConfigError } from '../../../pipeline/errors.ts';

describe('stackSettingsFromEnv', () => {
  it('uses the documented defaults when no variable is set', () => {
    const s = stackSettingsFromEnv({ HOME: '/home/dev' });
    expect(s).toMatchObject({
      stateDir: path.join(PROJECT_ROOT, '.pgcdc'),
      host: '127.0.0.1',
      pgPort: 54329,
      kafkaPort: 19092,
      kafkaControllerPort: 19093,
      registryPort: 18081,
      mariadbPort: 33069,
      sourceDb: 'pgcdc',
      peerDb: 'pgcdc_peer',
      registryDb: 'pgcdc_registry',
    });
    expect(s.cacheDir.endsWith(path.join('.cache', 'pgcdc'))).toBe(true);
  });

  it('puts the cache under XDG_CACHE_HOME when set', () => {
    expect(stackSettingsFromEnv({ XDG_CACHE_HOME: '/xdg' }).cacheDir).toBe('/xdg/pgcdc');
  });

  it('applies every PGCDC_STACK_* override, converting ports to numbers', () => {
    const s = stackSettingsFromEnv({
      PGCDC_STACK_STATE_DIR: '/tmp/state',
      PGCDC_STACK_CACHE_DIR: '/tmp/cache',
      PGCDC_STACK_PG_PORT: '6432',
      PGCDC_STACK_KAFKA_PORT: '29092',
      PGCDC_STACK_KAFKA_CONTROLLER_PORT: '29093',
      PGCDC_STACK_REGISTRY_PORT: '28081',
      PGCDC_STACK_KAFKA_HEAP_MB: '768',
    });
    expect(s).toMatchObject({
      stateDir: '/tmp/state',
      cacheDir: '/tmp/cache',
      pgPort: 6432,
      kafkaPort: 29092,
      kafkaControllerPort: 29093,
      registryPort: 28081,
      kafkaHeapMb: 768,
    });
  });

  it('ignores variables set to the empty string', () => {
    expect(stackSettingsFromEnv({ PGCDC_STACK_PG_PORT: '' }).pgPort).toBe(54329);
  });

  it.each(['abc', '0', '65536', '12.5', '-1'])(
    'rejects PGCDC_STACK_KAFKA_PORT=%s, naming the variable',
    (bad) => {
      const run = () => stackSettingsFromEnv({ PGCDC_STACK_KAFKA_PORT: bad });
      expect(run).toThrow(ConfigError);
      expect(run).toThrow(`invalid stack setting PGCDC_STACK_KAFKA_PORT="${bad}"`);
    },
  );

  it('names the right variable for each port', () => {
    for (const name of [
      'PGCDC_STACK_PG_PORT',
      'PGCDC_STACK_KAFKA_CONTROLLER_PORT',
      'PGCDC_STACK_REGISTRY_PORT',
      'PGCDC_STACK_MARIADB_PORT',
    ]) {
      expect(() => stackSettingsFromEnv({ [name]: 'x' })).toThrow(name);
    }
  });

  it('rejects two components on the same port, naming both variables', () => {
    const run = () => stackSettingsFromEnv({ PGCDC_STACK_REGISTRY_PORT: '19092' });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/PGCDC_STACK_KAFKA_PORT and PGCDC_STACK_REGISTRY_PORT are both 19092/);
  });
});

describe('stackUrls', () => {
  it('derives every URL from host and ports; the registry URL is the Confluent-compatible API', () => {
    const s = stackSettingsFromEnv({ PGCDC_STACK_PG_PORT: '6432', PGCDC_STACK_REGISTRY_PORT: '28081' });
    expect(stackUrls(s)).toEqual({
      sourceUrl: 'postgres://postgres@127.0.0.1:6432/pgcdc',
      peerUrl: 'postgres://postgres@127.0.0.1:6432/pgcdc_peer',
      adminUrl: 'postgres://postgres@127.0.0.1:6432/postgres',
      kafkaBrokers: ['127.0.0.1:19092'],
      registryUrl: 'http://127.0.0.1:28081/apis/ccompat/v7',
      mysqlPeerUrl: 'mysql://root@127.0.0.1:33069/pgcdc_peer',
      mariadbAdminUrl: 'mysql://root@127.0.0.1:33069/',
    });
  });
});

describe('newClusterId', () => {
  it('never starts with "-" (the storage tool would read it as an option)', () => {
    // the first draw encodes to "-…" (0xf8 -> '-' in base64url), the second does not
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
    const id = newClusterId(() => draws.shift()!);
    expect(id).toBe(Buffer.alloc(16, 0x01).toString('base64url'));
    expect(draws).toEqual([]);
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
  });
});
