// The local stack does what the pipeline needs from it: logical replication out of Postgres
// (pgoutput), produce/consume on Kafka, and Avro through the Confluent-compatible registry API.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CLIENT_TIMEOUTS } from '../../support/database.ts';
import {
  freshDatabase,
  randomName,
  stackUrls,
  waitUntil,
  withClient,
  type FreshDatabase,
} from '../../support/index.ts';

const urls = stackUrls();

describe('postgres', () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase(urls.adminUrl, 'stack_pg', { usersTable: true });
  });
  afterAll(() => db?.drop());

  it('runs with wal_level=logical', async () => {
    const r = await withClient(db.url, (c) => c.query<{ wal_level: string }>('SHOW wal_level'));
    expect(r.rows[0]?.wal_level).toBe('logical');
  });

  it('streams an insert to a pgoutput replication connection', async () => {
    const slot = randomName('stack_slot');
    const publication = randomName('stack_pub');
    const c = new pg.Client({ connectionString: db.url, ...TEST_CLIENT_TIMEOUTS });
    await c.connect();
    const service = new LogicalReplicationService(
      { connectionString: db.url },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    try {
      await c.query(`CREATE PUBLICATION ${pg.escapeIdentifier(publication)} FOR TABLE users`);
      await c.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);

      const received: Pgoutput.Message[] = [];
      service.on('data', (_lsn: string, msg: Pgoutput.Message) => {
        received.push(msg);
      });
      const errors: Error[] = [];
      service.on('error', (err: Error) => errors.push(err));
      let started = false;
      service.on('start', () => {
        started = true;
      });
      const streaming = service
        .subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }), slot)
        .catch((err: unknown) => {
          errors.push(err instanceof Error ? err : new Error(String(err)));
        });
      await waitUntil(() => started || errors[0], { what: 'START_REPLICATION to begin' });
      expect(errors).toEqual([]);

      await c.query(`INSERT INTO users (email, username) VALUES ('ada@example.com', 'ada')`);
      const insert = await waitUntil(
        () => received.find((m): m is Pgoutput.MessageInsert => m.tag === 'insert'),
        { what: 'the insert on the replication stream' },
      );
      expect(insert.relation).toMatchObject({ schema: 'public', name: 'users' });
      expect(insert.new).toMatchObject({ email: 'ada@example.com', username: 'ada' });
      expect(received.map((m) => m.tag)).toEqual(expect.arrayContaining(['begin', 'relation', 'insert']));

      await service.stop();
      await streaming;
      // The walsender exits shortly after the connection closes; then the slot can go.
      await waitUntil(() => c.query('SELECT pg_drop_replication_slot($1)', [slot]).then(() => true), {
        what: `replication slot ${slot} to be dropped`,
      });
    } finally {
      await service.destroy();
      await c.end();
    }
  });
});

// kafkajs logs retriable errors (e.g. 'group coordinator not available' while a new group forms)
// at ERROR level; the assertions below report real failures.
describe('kafka', () => {
  it('creates a topic, produces a message and consumes it', async () => {
    const kafka = new Kafka({
      brokers: urls.kafkaBrokers,
      clientId: 'stack-test',
      logLevel: logLevel.NOTHING,
    });
    const topic = randomName('stack_topic');
    const admin = kafka.admin();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    // A short fetch wait: disconnect() waits for the fetch in flight (default 5 s).
    const consumer = kafka.consumer({ groupId: randomName('stack_group'), maxWaitTimeInMs: 200 });
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(
        true,
      );
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value: 'hello' }] });

      const seen: { key: string; value: string; offset: string }[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          seen.push({
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
            offset: message.offset,
          });
          return Promise.resolve();
        },
      });
      const first = await waitUntil(() => seen[0], { what: `the message on topic ${topic}` });
      expect(first).toEqual({ key: 'k1', value: 'hello', offset: '0' });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

describe('schema registry', () => {
  it('registers an Avro schema and round-trips a message in the Confluent wire format', async () => {
    const registry = new SchemaRegistry({ host: urls.registryUrl });
    const subject = randomName('stack_subject');
    const schema = {
      type: 'record',
      name: 'Probe',
      namespace: 'pgcdc.test',
      fields: [
        { name: 'id', type: 'long' },
        { name: 'email', type: ['null', 'string'], default: null },
      ],
    };
    try {
      const { id } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
        { subject },
      );
      expect(id).toBeGreaterThan(0);
      expect(await registry.getLatestSchemaId(subject)).toBe(id);

      const payload = { id: 42, email: 'ada@example.com' };
      const encoded = await registry.encode(id, payload);
      expect(encoded[0]).toBe(0); // magic byte
      expect(encoded.readInt32BE(1)).toBe(id); // big-endian schema id
      const decoded: unknown = await registry.decode(encoded);
      expect(decoded).toEqual(payload);
    } finally {
      // Soft then hard delete, so test subjects do not pile up in the registry's storage.
      for (const q of ['', '?permanent=true']) {
        await fetch(`${urls.registryUrl}/subjects/${subject}${q}`, { method: 'DELETE' });
      }
    }
  });
});
