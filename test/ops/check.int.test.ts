// `pgcdc check` against real servers, one misconfiguration per test: each is reported as an ERROR
// line naming the problem and its fix, with a non-zero exit; a sound configuration passes (with
// warnings for what pgcdc will create) and never prints a password.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../dev/stack/settings.ts';
import { createUsersTable } from '../../dev/stack/stack.ts';
import { ensurePositionTable } from '../../producers/postgres/position.ts';
import { freshDatabase, randomName, stackUrls, withClient } from '../support/index.ts';
import { pipelineEnv, query, testApp, type PipelineEnv } from '../support/pipeline.ts';
import { configVariant, freePort, json, runCli, startTinyCluster } from '../support/ops.ts';

const urls = stackUrls();
let env: PipelineEnv;

beforeAll(async () => {
  env = await pipelineEnv(urls, 'check');
});
afterAll(() => env.drop());

const check = (file: string) => runCli(['check', '-c', file]);
const withSource = (url: string) =>
  configVariant(env.configFile, (raw) => {
    (raw.source as { url: string }).url = url;
  });

it('passes a sound configuration, warns about what pgcdc will create, never shows a password', async () => {
  const file = configVariant(env.configFile, (raw) => {
    const src = raw.source as { url: string };
    src.url = src.url.replace('postgres@', 'postgres:S3cret-pw@');
  });
  const r = await check(file);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^OK +source\.wal_level +wal_level is logical$/m);
  expect(r.stdout).toMatch(
    /^WARN +source\.publication +publication \S+ does not exist; pgcdc produce will create it/m,
  );
  expect(r.stdout).toMatch(
    /^WARN +source\.slot +replication slot \S+ does not exist; pgcdc produce will create it/m,
  );
  expect(r.stdout).toMatch(
    /^INFO +source\.replica_identity +REPLICA IDENTITY DEFAULT: before images carry only the key/m,
  );
  expect(r.stdout).toMatch(/^OK +registry\.connect/m);
  expect(r.stdout).toMatch(
    /^WARN +target\.peer\.table +table public\.users does not exist; pgcdc consume will create it/m,
  );
  expect(r.stdout).toContain('postgres:***@');
  expect(r.stdout + r.stderr).not.toContain('S3cret-pw');
  const j = json<{ ok: boolean; errors: number; results: { id: string; level: string }[] }>(
    await runCli(['check', '-c', file, '--json']),
  );
  expect(j).toMatchObject({ ok: true, errors: 0 });
  expect(j.results.find((x) => x.id === 'kafka.connect')?.level).toBe('OK');
});

it('wal_level=replica: error with the fix', async () => {
  const cluster = await startTinyCluster({ wal_level: 'replica' });
  try {
    await createUsersTable(cluster.url());
    const r = await check(withSource(cluster.url()));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^ERROR +source\.wal_level +wal_level is "replica"; logical replication needs "logical" +-> fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL/m,
    );
    expect(r.stdout).toMatch(/^1 error\(s\)/m);
  } finally {
    await cluster.stop();
  }
});

it('missing publication that the role cannot create: error with the fix', async () => {
  const role = randomName('chk_role');
  await query(urls.adminUrl, `CREATE ROLE ${role} LOGIN REPLICATION`);
  await query(env.source.url, `GRANT SELECT ON users TO ${role}`);
  try {
    const url = env.source.url.replace('//postgres@', `//${role}@`);
    const r = await check(withSource(url));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^OK +source\.privileges +role \S+ has REPLICATION$/m);
    expect(r.stdout).toMatch(
      new RegExp(
        `^ERROR +source\\.publication +publication ${env.config.source.publication} does not exist, and role ${role} cannot create it .* -> fix: as the owner of public\\.users: CREATE PUBLICATION`,
        'm',
      ),
    );
  } finally {
    await query(env.source.url, `REVOKE ALL ON users FROM ${role}`);
    await query(urls.adminUrl, `DROP ROLE ${role}`);
  }
});

it('a publication without the table: error with the fix', async () => {
  const { publication } = env.config.source;
  await query(env.source.url, `CREATE PUBLICATION ${publication}`);
  try {
    const r = await check(env.configFile);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `^ERROR +source\\.publication +publication ${publication} exists but does not include public\\.users +-> fix: ALTER PUBLICATION "?${publication}"? ADD TABLE public\\.users;`,
        'm',
      ),
    );
  } finally {
    await query(env.source.url, `DROP PUBLICATION ${publication}`);
  }
});

it('unreachable registry: error with the fix', async () => {
  const port = await freePort();
  const file = configVariant(env.configFile, (raw) => {
    raw.registry = { url: `http://127.0.0.1:${port}/apis/ccompat/v7` };
  });
  const r = await check(file);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(
    new RegExp(
      `^ERROR +registry\\.connect +schema registry http://127\\.0\\.0\\.1:${port}/apis/ccompat/v7 unreachable: .*ECONNREFUSED.* -> fix: start the registry, or fix registry\\.url$`,
      'm',
    ),
  );
});

it('table without a primary key: error with the fix', async () => {
  const db = await freshDatabase(urls.adminUrl, 'check_nopk');
  try {
    const ddl = readFileSync(path.join(PROJECT_ROOT, 'schemas/users.sql'), 'utf8').replace(
      ' PRIMARY KEY',
      '',
    );
    await query(db.url, ddl);
    const r = await check(withSource(db.url));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^ERROR +source\.primary_key +table public\.users has no primary key: .* -> fix: ALTER TABLE public\.users ADD PRIMARY KEY \(id\);$/m,
    );
  } finally {
    await db.drop();
  }
});

it('REPLICA IDENTITY NOTHING: error with the fix', async () => {
  await query(env.source.url, 'ALTER TABLE users REPLICA IDENTITY NOTHING');
  try {
    const r = await check(env.configFile);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^ERROR +source\.replica_identity +table public\.users has REPLICA IDENTITY NOTHING: .* -> fix: ALTER TABLE public\.users REPLICA IDENTITY DEFAULT;/m,
    );
  } finally {
    await query(env.source.url, 'ALTER TABLE users REPLICA IDENTITY DEFAULT');
  }
});

it('target table that does not fit the contract: error naming the columns', async () => {
  await createUsersTable(env.peer.url); // the source DDL: no bookkeeping columns, and retyped below
  await query(env.peer.url, 'ALTER TABLE users DROP COLUMN bio, ALTER COLUMN balance TYPE numeric(10,2)');
  try {
    const r = await check(env.configFile);
    expect(r.code).toBe(1);
    const line = r.stdout.split('\n').find((l) => /^ERROR +target\.peer\.columns/.test(l)) ?? r.stdout;
    expect(line).toMatch(/bio missing/);
    expect(line).toMatch(/balance is numeric\(10,2\), the contract says numeric\(12,2\)/);
    expect(line).toMatch(/_pgcdc_lsn missing/);
    expect(line).toMatch(
      /-> fix: ALTER TABLE public\.users ADD COLUMN "bio" text, ALTER COLUMN "balance" TYPE numeric\(12,2\), ADD COLUMN _pgcdc_lsn bigint NOT NULL DEFAULT 0,/,
    );
    // the table exists, its delete-marker table does not (createTable: true creates it at start)
    expect(r.stdout).toMatch(
      /^WARN +target\.peer\.delete_markers +delete-marker table public\.users_pgcdc_deleted does not exist; pgcdc consume will create it/m,
    );
    expect(r.stdout).toMatch(
      /^WARN +target\.peer\.truncate_mark +truncate-mark table public\.users_pgcdc_truncated does not exist; pgcdc consume will create it/m,
    );
    const strict = await check(
      configVariant(env.configFile, (raw) => {
        (raw.targets as { createTable?: boolean }[])[0]!.createTable = false;
      }),
    );
    expect(strict.stdout).toMatch(
      /^ERROR +target\.peer\.delete_markers +delete-marker table public\.users_pgcdc_deleted does not exist and createTable is false: .* -> fix: CREATE TABLE IF NOT EXISTS "public"\."users_pgcdc_deleted"/m,
    );
    expect(strict.stdout).toMatch(
      /^ERROR +target\.peer\.truncate_mark +truncate-mark table public\.users_pgcdc_truncated does not exist and createTable is false: .* -> fix: CREATE TABLE IF NOT EXISTS "public"\."users_pgcdc_truncated"/m,
    );
  } finally {
    await query(env.peer.url, 'DROP TABLE users');
  }
});

it('a slot dropped, or re-created behind pgcdc: error from the stored position, with the recovery', async () => {
  const { slot, position } = env.config.source;
  const table = `${position.schema}.${position.table}`;
  await withClient(env.source.url, (c) => ensurePositionTable(c, position));
  await query(env.source.url, `INSERT INTO ${table} (slot_name, acknowledged_lsn) VALUES ($1, '0/10')`, [
    slot,
  ]);
  try {
    const dropped = await check(env.configFile);
    expect(dropped.code).toBe(1);
    expect(dropped.stdout).toMatch(
      new RegExp(
        `^ERROR +source\\.position +replication slot ${slot} does not exist, but pgcdc had streamed it up to 0/10: .* -> fix: accept the gap: DELETE FROM`,
        'm',
      ),
    );
    await query(env.source.url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const recreated = await check(env.configFile);
    expect(recreated.code).toBe(1);
    expect(recreated.stdout).toMatch(
      new RegExp(
        `^ERROR +source\\.position +replication slot ${slot} starts at \\S+, after the position pgcdc last acknowledged \\(0/10\\).* -> fix: pgcdc slots drop ${slot} --yes`,
        'm',
      ),
    );
    // The stored position catches up (as the producer's own acknowledgements do): they agree.
    await query(
      env.source.url,
      `UPDATE ${table} SET acknowledged_lsn = (SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1)`,
      [slot],
    );
    const agreed = await check(env.configFile);
    expect(agreed.stdout).toMatch(/^OK +source\.position +the slot agrees with the position pgcdc stored/m);
    expect(agreed.stdout).not.toMatch(/^ERROR +source\./m);
  } finally {
    await query(env.source.url, `DELETE FROM ${table} WHERE slot_name = $1`, [slot]);
    await query(
      env.source.url,
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
  }
});

it('a dead-letter topic the broker refuses: error naming targets[].dlqTopic, before any dead letter', async () => {
  // Kafka refuses a topic whose name collides with an existing one once "." and "_" are equated
  const existing = `${env.config.kafka.topicPrefix.replace(/\./g, '_')}_dlq_clash`;
  const admin = testApp(env.config).kafka.admin();
  await admin.connect();
  try {
    await admin.ensureTopic({ topic: existing, partitions: 1, replicationFactor: 1 });
    const refused = existing.replace(/_/g, '.');
    const file = configVariant(env.configFile, (raw) => {
      (raw.targets as { dlqTopic?: string }[])[0]!.dlqTopic = refused;
    });
    const r = await check(file);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `^ERROR +target\\.peer\\.dlq_topic +the broker refuses to create dead-letter topic ${refused.replace(/\./g, '\\.')}: .*invalid topic.* -> fix: fix targets\\[0\\]\\.dlqTopic \\(peer\\)`,
        'm',
      ),
    );
    const sound = await check(env.configFile);
    expect(sound.stdout).toMatch(
      /^INFO +target\.peer\.dlq_topic +dead-letter topic \S+ will be created at the first dead letter$/m,
    );
  } finally {
    await admin.deleteTopic(existing).catch(() => undefined);
    await admin.disconnect();
  }
});
