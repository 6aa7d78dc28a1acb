// PGCDC_<SECTION>__<KEY> overrides are converted to the type the schema declares for the key:
// integers, decimals, booleans, lists (JSON or comma-separated), maps; list elements by index;
// a value that does not convert is refused naming the variable and the key, never its value.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { ConfigError } from '../../../../pipeline/errors.ts';

const minimal = () => ({
  source: { url: 'postgres://localhost/db' },
  kafka: { brokers: ['localhost:9092'] },
  registry: { url: 'http://localhost:8081' },
  targets: [
    { name: 'peer', type: 'postgres', url: 'postgres://localhost/peer' },
    { name: 'crm', type: 'webhook', url: 'https://crm.example/hook', secret: 'whsec_c2VjcmV0' },
  ],
});

describe('typed environment overrides', () => {
  it('converts decimals, booleans, lists and maps to the key type', () => {
    const cfg = parseConfig(minimal(), {
      PGCDC_OPERATIONS__SLOT_WAL_WARN_RATIO: '0.25',
      PGCDC_KAFKA__BROKERS: 'k1:9092, k2:9092',
      PGCDC_KAFKA__TOPIC_CONFIG: '{"retention.ms":"1000"}',
      PGCDC_TARGETS__0__CREATE_TABLE: 'false',
      PGCDC_TARGETS__0__DELETE_MARKER_RETENTION_HOURS: '1.5',
      PGCDC_TARGETS__1__BACKOFF__JITTER: '0.5',
      PGCDC_TARGETS__1__CONNECT_TIMEOUT: '2.5',
      PGCDC_METRICS__CONSUME_PORT: '9999',
    });
    expect(cfg.operations.slotWalWarnRatio).toBe(0.25);
    expect(cfg.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(cfg.kafka.topicConfig).toEqual({ 'retention.ms': '1000' });
    expect(cfg.targets[0]).toMatchObject({ createTable: false, deleteMarkerRetentionHours: 1.5 });
    expect(cfg.targets[1]).toMatchObject({ backoff: { jitter: 0.5 }, connectTimeout: 2.5 });
    expect(cfg.metrics.consumePort).toBe(9999);
  });

  it('accepts a JSON array for a list and true/false/yes/no/1/0 for booleans', () => {
    expect(parseConfig(minimal(), { PGCDC_KAFKA__BROKERS: '["a:1","b:2"]' }).kafka.brokers).toEqual([
      'a:1',
      'b:2',
    ]);
    for (const [text, value] of [
      ['true', true],
      ['YES', true],
      ['1', true],
      ['no', false],
      ['0', false],
    ] as const)
      expect(parseConfig(minimal(), { PGCDC_TARGETS__0__CREATE_TABLE: text }).targets[0]).toMatchObject({
        createTable: value,
      });
  });

  it('keeps strings as strings, digits included', () => {
    const cfg = parseConfig(minimal(), {
      PGCDC_SOURCE__URL: 'postgres://u:1234@h/db',
      PGCDC_KAFKA__CLIENT_ID: '12345',
    });
    expect(cfg.source.url).toBe('postgres://u:1234@h/db');
    expect(cfg.kafka.clientId).toBe('12345');
  });

  it.each([
    ['PGCDC_SOURCE__HEARTBEAT_INTERVAL_MS', 'soon', /source\.heartbeatIntervalMs\) must be an integer/],
    ['PGCDC_TARGETS__0__CREATE_TABLE', 'perhaps', /targets\.0\.createTable\) must be true or false/],
    ['PGCDC_KAFKA__TOPIC_CONFIG', '[1]', /kafka\.topicConfig\) must be a JSON object/],
    ['PGCDC_KAFKA__BROKERS', '[oops', /kafka\.brokers\) must be a JSON array or a comma-separated list/],
  ])('refuses %s=%s naming the variable and the key, not the value', (name, text, message) => {
    let err: unknown;
    try {
      parseConfig(minimal(), { [name]: text });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(name);
    expect((err as Error).message).not.toContain(text);
  });

  it('an integer key refuses a decimal', () => {
    expect(() => parseConfig(minimal(), { PGCDC_KAFKA__PARTITIONS: '2.5' })).toThrow(
      /PGCDC_KAFKA__PARTITIONS \(kafka\.partitions\) must be an integer/,
    );
  });
});
