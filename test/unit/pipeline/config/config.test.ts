// pipeline/config/{schema,load}.ts: defaults, errors that name the exact key, ${ENV} substitution,
// PGCDC_<PATH> overrides, YAML/JSON files, and secrets kept out of error messages.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../../../pipeline/config/load.ts';
import { contractOf, dlqTopicFor, groupFor, topicFor } from '../../../../pipeline/config/schema.ts';
import { ConfigError } from '../../../../pipeline/errors.ts';
import { DEFAULT_CONTRACT_DIR } from '../../../../schemas/contract.ts';

const SECRET = 's3cr3t-P4ss';
const SOURCE_URL = `postgres://pgcdc:${SECRET}@db.internal:5432/app`;

const minimal = () => ({
  source: { url: SOURCE_URL },
  kafka: { brokers: ['localhost:19092'] },
  registry: { url: 'http://localhost:18081/apis/ccompat/v7' },
});

/** The ConfigError thrown by fn (fails the test if it does not throw one). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills every default around a minimal config', () => {
    expect(parseConfig(minimal())).toEqual({
      source: {
        url: SOURCE_URL,
        schema: 'public',
        table: 'users',
        schemaChanges: 'pinned',
        publication: 'pgcdc_pub',
        slot: 'pgcdc_slot',
        origins: 'all',
        heartbeatIntervalMs: 10_000,
        stallTimeoutMs: 60_000,
        ackIntervalMs: 200,
        statusIntervalMs: 5000,
        snapshot: {
          mode: 'initial',
          batchSize: 1000,
          checkpointSchema: 'public',
          checkpointTable: 'pgcdc_snapshot',
          progressIntervalMs: 10_000,
          countTimeoutMs: 10_000,
        },
        position: { schema: 'public', table: 'pgcdc_position' },
      },
      kafka: {
        brokers: ['localhost:19092'],
        clientId: 'pgcdc',
        topicPrefix: 'pgcdc',
        partitions: 3,
        replicationFactor: 1,
        sessionTimeoutMs: 30_000,
        topicConfig: {},
      },
      registry: { url: 'http://localhost:18081/apis/ccompat/v7' },
      producer: { batchMaxMessages: 2000, batchMaxBytes: 524_288, maxMessageBytes: 1_000_000, lingerMs: 0 },
      targets: [],
      metrics: { host: '127.0.0.1', port: 9464, consumePort: 9465 },
      log: { level: 'info' },
      operations: {
        statusIntervalMs: 2000,
        slotPollIntervalMs: 5000,
        slotStallMs: 60_000,
        slotWalWarnRatio: 0.5,
        targetStuckMs: 60_000,
        auditSummaryIntervalMs: 10_000,
        stopTimeoutMs: 30_000,
      },
      connections: {
        connectTimeoutMs: 10_000,
        keepAliveIdleMs: 30_000,
        replication: { statementTimeoutMs: 0, lockTimeoutMs: 0 },
        source: { statementTimeoutMs: 300_000, lockTimeoutMs: 10_000 },
        position: { statementTimeoutMs: 10_000, lockTimeoutMs: 5_000 },
        target: { statementTimeoutMs: 20_000, lockTimeoutMs: 5_000 },
        ops: { statementTimeoutMs: 30_000, lockTimeoutMs: 5_000 },
      },
    });
  });

  it('fills target defaults and derives topic, group and DLQ names', () => {
    const cfg = parseConfig({
      ...minimal(),
      targets: [{ name: 'peer', type: 'postgres', url: 'postgres://peer/db' }],
    });
    const [t] = cfg.targets;
    expect(t).toEqual({
      name: 'peer',
      type: 'postgres',
      url: 'postgres://peer/db',
      schema: 'public',
      table: 'users',
      createTable: true,
      deleteMarkerRetentionHours: 168,
      batchSize: 500,
      applyConnections: 3,
      onTruncate: 'truncate',
    });
    expect(topicFor(cfg.kafka, cfg.source)).toBe('pgcdc.public.users');
    expect(groupFor(cfg.kafka, t!)).toBe('pgcdc.peer');
    expect(dlqTopicFor(cfg.kafka, t!)).toBe('pgcdc.dlq.peer');
    expect(dlqTopicFor(cfg.kafka, { name: 'peer', dlqTopic: 'custom.dlq' })).toBe('custom.dlq');
  });

  it('names the exact path of a bad value', () => {
    const err = configError(() =>
      parseConfig(
        { ...minimal(), targets: [{ name: 'peer', type: 'postgres', url: '' }] },
        {},
        'config file x.yaml',
      ),
    );
    expect(err.message).toMatch(/^config file x\.yaml is invalid:\n {2}targets\.0\.url: /);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['empty broker list', { kafka: { brokers: [] } }, /kafka\.brokers: /],
    ['negative linger', { producer: { lingerMs: -1 } }, /producer\.lingerMs: /],
    ['fractional batch size', { producer: { batchMaxMessages: 1.5 } }, /producer\.batchMaxMessages: /],
    [
      'batch bytes over the message limit',
      { producer: { batchMaxBytes: 2_000_000 } },
      /producer\.batchMaxBytes: /,
    ],
    ['port out of range', { metrics: { port: 70000 } }, /metrics\.port: /],
    ['unknown log level', { log: { level: 'loud' } }, /log\.level: /],
    ['unknown target type', { targets: [{ name: 'p', type: 'mssql', url: 'x' }] }, /targets\.0\.type: /],
    [
      'bad target name',
      { targets: [{ name: 'Peer One', type: 'postgres', url: 'x' }] },
      /targets\.0\.name: /,
    ],
  ])('%s', (_what, patch, expected) => {
    expect(() => parseConfig({ ...minimal(), ...patch })).toThrow(expected);
  });

  it('a missing section is named', () => {
    expect(() => parseConfig({ source: { url: 'x' }, kafka: { brokers: ['k:1'] } })).toThrow(
      /\n {2}registry: /,
    );
  });

  it('rejects unknown keys at every level (strict)', () => {
    const err = configError(() =>
      parseConfig({
        ...minimal(),
        sorce: {},
        source: { url: 'x', slotName: 'typo' },
        targets: [{ name: 'p', type: 'postgres', url: 'x', batchsize: 10 }],
      }),
    );
    expect(err.message).toContain('(root): Unrecognized key: "sorce"');
    expect(err.message).toContain('source: Unrecognized key: "slotName"');
    expect(err.message).toContain('targets.0: Unrecognized key: "batchsize"');
  });

  it.each(['bad-pub', '1pub', 'pub name', 'a'.repeat(64), 'x"y', ''])(
    'rejects the identifier %j',
    (publication) => {
      expect(() => parseConfig({ ...minimal(), source: { url: 'x', publication } })).toThrow(
        /source\.publication: must be a plain SQL identifier/,
      );
    },
  );

  it('accepts a 63-character identifier', () => {
    expect(
      parseConfig({ ...minimal(), source: { url: 'x', publication: `s${'_'.repeat(62)}` } }).source
        .publication,
    ).toHaveLength(63);
  });

  it('names source.table and the tables with a contract when the table has none', () => {
    const err = configError(() => parseConfig({ ...minimal(), source: { url: 'x', table: 'userz' } }));
    expect(err.message).toContain('source.table: no event contract for table "userz"');
    expect(err.message).toContain('schemas/avro/userz-key.avsc and -value.avsc are missing');
    expect(err.hint).toContain('tables with a contract: users');
  });

  it('reads contracts from source.contracts, relative to the configuration file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-contracts-'));
    mkdirSync(path.join(dir, 'mine'));
    const shipped = DEFAULT_CONTRACT_DIR;
    for (const f of ['users-key.avsc', 'users-value.avsc'])
      copyFileSync(path.join(shipped, f), path.join(dir, 'mine', f.replace('users', 'members')));
    const source = { url: 'x', table: 'members', contracts: 'mine' };
    const cfg = parseConfig({ ...minimal(), source }, {}, 'config', dir);
    expect(cfg.source.contracts).toBe(path.join(dir, 'mine'));
    expect(contractOf(cfg.source).columns.map((c) => c.name)).toContain('email');
    const err = configError(() =>
      parseConfig({ ...minimal(), source: { ...source, table: 'x' } }, {}, 'c', dir),
    );
    expect(err.message).toContain(`${path.join(dir, 'mine', 'x')}-key.avsc and -value.avsc are missing`);
    expect(err.hint).toContain('tables with a contract: members');
  });

  it.each(['dlq peer', 'dlq/peer', '.', 'x'.repeat(250)])(
    'rejects the dead-letter topic name %j',
    (dlqTopic) => {
      expect(() =>
        parseConfig({
          ...minimal(),
          targets: [{ name: 'peer', type: 'postgres', url: 'postgres://peer/db', dlqTopic }],
        }),
      ).toThrow(/targets\.0\.dlqTopic: must be a Kafka topic name/);
    },
  );

  // Postgres accepts only lower-case letters, digits and _ in a slot name: anything else passed
  // validation and `check`, then `produce` retried the server's refusal forever.
  it.each(['Pgcdc', 'pg$slot', 'bad-slot', 'slot name', 'a'.repeat(64), 'x"y', ''])(
    'rejects the slot name %j at load time, naming the key',
    (slot) => {
      expect(() => parseConfig({ ...minimal(), source: { url: 'x', slot } })).toThrow(
        /source\.slot: must be a replication slot name: lower-case letters, digits and _ only/,
      );
    },
  );

  it.each(['1slot', `s${'_'.repeat(62)}`, 'pgcdc_slot'])('accepts the slot name %j', (slot) => {
    expect(parseConfig({ ...minimal(), source: { url: 'x', slot } }).source.slot).toBe(slot);
  });

  it("keeps a Postgres target's statement and lock timeouts below the Kafka session timeout", () => {
    const withTarget = (connections: object, sessionTimeoutMs = 30_000) =>
      parseConfig({
        ...minimal(),
        kafka: { brokers: ['k:9092'], sessionTimeoutMs },
        targets: [{ name: 'peer', type: 'postgres', url: 'postgres://peer/db' }],
        connections,
      });
    expect(withTarget({}).connections.target).toEqual({ statementTimeoutMs: 20_000, lockTimeoutMs: 5_000 });
    expect(() => withTarget({ target: { lockTimeoutMs: 30_000 } })).toThrow(
      /connections\.target\.lockTimeoutMs: must be between 1 and kafka\.sessionTimeoutMs \(30000\)/,
    );
    // unset, they follow a short session timeout: 2/3 and 1/3 of it at most
    expect(withTarget({}, 6000).connections.target).toEqual({
      statementTimeoutMs: 4000,
      lockTimeoutMs: 2000,
    });
    expect(() => withTarget({ target: { statementTimeoutMs: 20_000 } }, 10_000)).toThrow(
      /connections\.target\.statementTimeoutMs/,
    );
    expect(() => withTarget({ target: { statementTimeoutMs: 0 } })).toThrow(
      /connections\.target\.statementTimeoutMs/,
    );
  });

  it('rejects duplicate target names, naming the second one', () => {
    const target = (url: string) => ({ name: 'peer', type: 'postgres', url });
    expect(() => parseConfig({ ...minimal(), targets: [target('a'), target('b')] })).toThrow(
      /targets\.1\.name: duplicate target name "peer"/,
    );
  });

  it('substitutes ${VAR} and ${VAR:-default} in any string, arrays included', () => {
    const cfg = parseConfig(
      {
        source: { url: 'postgres://pgcdc:${PGPASSWORD}@${PGHOST:-localhost}:5432/app' },
        kafka: { brokers: ['${BROKER}', '${BROKER2:-b2:9092}'] },
        registry: { url: '${REGISTRY_URL:-http://r}' },
      },
      { PGPASSWORD: SECRET, BROKER: 'b1:9092' },
    );
    expect(cfg.source.url).toBe(`postgres://pgcdc:${SECRET}@localhost:5432/app`);
    expect(cfg.kafka.brokers).toEqual(['b1:9092', 'b2:9092']);
    expect(cfg.registry.url).toBe('http://r');
  });

  it('a set variable wins over the default', () => {
    const cfg = parseConfig({ ...minimal(), registry: { url: '${R:-http://default}' } }, { R: 'http://set' });
    expect(cfg.registry.url).toBe('http://set');
  });

  it('a missing variable is an error naming the variable and the key', () => {
    const err = configError(() => parseConfig({ ...minimal(), kafka: { brokers: ['${KAFKA_BROKER}'] } }, {}));
    expect(err.message).toBe('config kafka.brokers.0: environment variable KAFKA_BROKER is not set');
    expect(err.hint).toBe('export KAFKA_BROKER=...');
    expect(err.retriable).toBe(false);
  });

  it('PGCDC_SOURCE__URL overrides the file, also when the section is missing', () => {
    const env = { PGCDC_SOURCE__URL: 'postgres://override/db' };
    expect(parseConfig(minimal(), env).source.url).toBe('postgres://override/db');
    const { kafka, registry } = minimal();
    expect(parseConfig({ kafka, registry }, env).source.url).toBe('postgres://override/db');
  });

  it('overrides map SNAKE_CASE to camelCase keys and numbers to numbers; other PGCDC_ variables are ignored', () => {
    const cfg = parseConfig(minimal(), {
      PGCDC_SOURCE__HEARTBEAT_INTERVAL_MS: '2500',
      PGCDC_PRODUCER__BATCH_MAX_MESSAGES: '10',
      PGCDC_LOG__LEVEL: 'debug',
      PGCDC_STACK_PG_PORT: '6543', // the local stack's own setting: no "__", not a config path
    });
    expect(cfg.source.heartbeatIntervalMs).toBe(2500);
    expect(cfg.producer).toEqual({
      batchMaxMessages: 10,
      batchMaxBytes: 524_288,
      maxMessageBytes: 1_000_000,
      lingerMs: 0,
    });
    expect(cfg.log.level).toBe('debug');
  });

  it('an override of a bad value is reported at its path', () => {
    expect(() => parseConfig(minimal(), { PGCDC_SOURCE__SLOT: 'bad-slot' })).toThrow(/source\.slot: /);
  });
});

describe('secrets stay out of error messages', () => {
  it.each<[string, Record<string, unknown>]>([
    ['another key is invalid', { ...minimal(), producer: { lingerMs: -1 } }],
    ['the section holding the URL has the wrong type', { ...minimal(), source: SOURCE_URL }],
    ['an unknown key next to the URL', { ...minimal(), source: { url: SOURCE_URL, password: SECRET } }],
    ['the secret in an enum', { ...minimal(), log: { level: SECRET } }],
    ['the secret in an identifier', { ...minimal(), source: { url: SOURCE_URL, slot: SECRET } }],
    [
      'the secret in a target name',
      { ...minimal(), targets: [{ name: SECRET, type: 'postgres', url: SOURCE_URL }] },
    ],
    ['the URL where a list is expected', { ...minimal(), kafka: { brokers: SOURCE_URL } }],
  ])('%s', (_what, raw) => {
    const err = configError(() => parseConfig(raw));
    expect(err.message).not.toContain(SECRET.slice(0, 6));
    expect(String(err.hint)).not.toContain(SECRET);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('reads YAML, with substitution and overrides', () => {
    const p = file(
      'ok.yaml',
      [
        'source:',
        '  url: postgres://pgcdc:${PGPASSWORD}@localhost:54329/pgcdc',
        '  slot: my_slot',
        'kafka:',
        '  brokers: [localhost:19092]',
        'registry:',
        '  url: http://localhost:18081/apis/ccompat/v7',
        'targets:',
        '  - name: peer',
        '    type: postgres',
        '    url: postgres://localhost:54329/pgcdc_peer',
        '',
      ].join('\n'),
    );
    const cfg = loadConfigFile(p, { PGPASSWORD: SECRET, PGCDC_TARGETS__0__BATCH_SIZE: '50' });
    expect(cfg.source.url).toBe(`postgres://pgcdc:${SECRET}@localhost:54329/pgcdc`);
    expect(cfg.source.slot).toBe('my_slot');
    expect(cfg.kafka.brokers).toEqual(['localhost:19092']);
    expect(cfg.targets[0]).toMatchObject({ name: 'peer', batchSize: 50 });
  });

  it('reads JSON', () => {
    const p = file('ok.json', JSON.stringify(minimal()));
    expect(loadConfigFile(p, {}).source.url).toBe(SOURCE_URL);
  });

  it('names the file and the key of an invalid value', () => {
    const p = file(
      'bad.yaml',
      'source:\n  url: x\n  slot: bad-slot\nkafka:\n  brokers: [k:1]\nregistry:\n  url: r\n',
    );
    expect(() => loadConfigFile(p, {})).toThrow(`config file ${p} is invalid:\n  source.slot: `);
  });

  it('a missing file says which and how to pass one', () => {
    const err = configError(() => loadConfigFile(path.join(dir, 'nope.yaml'), {}));
    expect(err.message).toContain(`cannot read config file ${path.join(dir, 'nope.yaml')}`);
    expect(err.hint).toBe('pass --config <file>');
  });

  it.each<[string, string]>([
    ['unterminated quote', `source:\n  url: "${SOURCE_URL}\nkafka:\n  brokers: [k:1]\n`],
    ['nested mapping on the URL line', `source:\n  url: ${SOURCE_URL}: x\n`],
    ['unclosed flow map', `source: {url: ${SOURCE_URL}\nkafka: {}\n`],
  ])('YAML syntax error (%s): says where, without quoting the secret', (_what, text) => {
    const p = file('syntax.yaml', text);
    const err = configError(() => loadConfigFile(p, {}));
    expect(err.message).toMatch(new RegExp(`^config file ${p} is not valid YAML: .*line \\d+, column \\d+`));
    expect(err.message).not.toContain(SECRET.slice(0, 6));
  });

  it.each<[string, string]>([
    ['unquoted URL', `{"source": {"url": ${SECRET}@db/app}}`],
    ['trailing comma', `{"source": {"url": "${SOURCE_URL}",}}`],
    ['missing comma', `{"source": {"url": "${SOURCE_URL}" "slot": "s"}}`],
  ])('JSON syntax error (%s): says so, without quoting the secret', (_what, text) => {
    const p = file('syntax.json', text);
    const err = configError(() => loadConfigFile(p, {}));
    expect(err.message).toContain(`config file ${p} is not valid JSON: `);
    expect(err.message).not.toContain(SECRET.slice(0, 6));
  });
});
