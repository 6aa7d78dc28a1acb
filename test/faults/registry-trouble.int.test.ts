// Fault: the schema registry answers badly while the consumer needs a writer schema it has not
// seen (events written with a newer registered version). A small HTTP server stands in front of
// the registry and answers the schema-by-id requests with 503, 401, 429, a proxy's HTML page, or
// nothing for longer than the client's timeout. None of that is the registry's verdict "no such
// id": the consumer must retry (the target's status shows the trouble and readiness turns it
// unready once it lasts), dead-letter nothing, and apply the event once the registry answers.
// The registry's definite 404 + 40403 for an id it does not know is still a dead letter.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { avroType, toWire } from '../../schemas/avro.ts';
import { loadContract } from '../../schemas/contract.ts';
import { REGISTRY_TIMEOUT_MS } from '../../schemas/registry.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { startConsumer } from '../../pipeline/compose.ts';
import {
  pipelineEnv,
  query,
  runInProcess,
  runProducer,
  testApp,
  waitForPeerEqual,
} from '../support/pipeline.ts';
import { deadLetters, reconfigure, topicEvents } from '../support/faults.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

type Mode = 'pass' | '503' | '401' | '429' | 'html' | 'slow';

/** Forwards everything to the registry, except GET /schemas/ids/<troubled id>, answered by `mode`. */
async function registryFrontend(registryUrl: string) {
  const upstream = new URL(registryUrl);
  const state = {
    mode: 'pass' as Mode,
    ids: new Set<number>(),
    troubled: 0,
    /** which requests get the trouble: by default the schema-by-id ones of `ids` */
    troubles: (url: string): boolean => {
      const id = /\/schemas\/ids\/(\d+)/.exec(url)?.[1];
      return id !== undefined && state.ids.has(Number(id));
    },
  };
  const held = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    void (async () => {
      if (state.mode !== 'pass' && state.troubles(req.url ?? '')) {
        state.troubled++;
        switch (state.mode) {
          case '503':
            return res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded');
          case '401':
            return res
              .writeHead(401, { 'content-type': 'application/json' })
              .end('{"error_code":401,"message":"Unauthorized"}');
          case '429':
            return res.writeHead(429, { 'retry-after': '1' }).end();
          case 'html':
            return res
              .writeHead(200, { 'content-type': 'text/html' })
              .end('<html><body>Please sign in</body></html>');
          case 'slow':
            held.add(res); // answered never; the client gives up after its timeout
            return res;
          default:
            return state.mode satisfies 'pass';
        }
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const up = await fetch(`${upstream.origin}${req.url}`, {
        method: req.method!,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      });
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      return res.end(Buffer.from(await up.arrayBuffer()));
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    state,
    stop: () =>
      new Promise<void>((r) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('registry trouble while decoding', () => {
  it('is retried and shown in status, never dead-lettered; the event is applied once the registry answers', async () => {
    const e = await pipelineEnv(urls, 'regtrbl', { operations: { targetStuckMs: 1000 } });
    cleanups.push(() => e.drop());
    const realRegistry = e.config.registry.url;
    const front = await registryFrontend(realRegistry);
    cleanups.push(() => front.stop());
    reconfigure(e, (c) => (c.registry.url = front.url));
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const consumer = pipeline.consumers[0]!;
    await query(e.source.url, "INSERT INTO users (email, username) VALUES ('seed@x.io', 'seed')");
    await waitForPeerEqual(e);
    const [seed] = await topicEvents(app, e.topic);
    const contract = loadContract();
    const keyType = avroType(contract.keySchema);
    const keyId = (
      (await (await fetch(`${realRegistry}/subjects/${e.topic}-key/versions/latest`)).json()) as {
        id: number;
      }
    ).id;

    /** A newer (BACKWARD-compatible) version of the value schema, registered at the real registry. */
    const registerVersion = async (field: string) => {
      const schema = {
        ...contract.valueSchema,
        fields: [...contract.valueSchema.fields, { name: field, type: ['null', 'string'], default: null }],
      };
      const res = await fetch(`${realRegistry}/subjects/${e.topic}-value/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      return { id: ((await res.json()) as { id: number }).id, type: avroType(schema) };
    };
    const producer = app.kafka.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    /** one insert of row `id`, framed with `version`, written straight to the topic */
    const produce = (id: bigint, version: { id: number; type: ReturnType<typeof avroType> }, field: string) =>
      producer.send(e.topic, [
        {
          key: toWire(keyId, keyType.toBuffer({ id })),
          value: toWire(
            version.id,
            version.type.toBuffer({
              ...seed!.event,
              after: { ...seed!.event.after!, id, email: `t${id}@x.io`, username: `t${id}` },
              event_id: `trouble-${id}`,
              [field]: 'x',
            }),
          ),
        },
      ]);
    const peerHas = async (id: bigint) =>
      (await query(e.peer.url, 'SELECT 1 FROM users WHERE id = $1', [id.toString()])).length === 1;

    const seen: string[] = [];
    const modes = [
      ['503', /HTTP 503/],
      ['401', /HTTP 401 \(error code 401: Unauthorized\)/],
      ['429', /HTTP 429/],
      ['html', /text\/html page, not the registry/],
      ['slow', /timeout|aborted/i],
    ] as const;
    for (const [i, [mode, shown]] of modes.entries()) {
      const field = `trouble_${i}`;
      const version = await registerVersion(field);
      const id = 1_000_000n + BigInt(i);
      front.state.ids.add(version.id);
      front.state.mode = mode;
      const before = front.state.troubled;
      await produce(id, version, field);
      const status = await waitUntil(
        () => {
          const s = consumer.status();
          return (
            front.state.troubled >= before + 2 &&
            s.failingSince !== undefined &&
            shown.test(s.lastError ?? '') &&
            s
          );
        },
        { what: `the ${mode} trouble in the target's status`, timeoutMs: REGISTRY_TIMEOUT_MS * 3 + 30_000 },
      );
      expect(status.state).toBe('ERR');
      expect(status.deadLettered).toBe(0);
      await waitUntil(() => !consumer.readiness().ok, { what: `readiness to show the ${mode} trouble` });
      expect(consumer.readiness().problems.join('\n')).toMatch(shown);
      expect(await peerHas(id)).toBe(false);
      seen.push(`${mode}: ${status.lastError?.split('\n')[0]}`);
      front.state.mode = 'pass';
      await waitUntil(() => peerHas(id), {
        what: `row ${id} applied once the registry answers`,
        timeoutMs: 30_000,
      });
      await waitUntil(() => consumer.status().state === 'OK' && consumer.readiness().ok, {
        what: 'the target to be OK again',
      });
    }
    expect(consumer.status().deadLettered).toBe(0);
    expect(await deadLetters(app.kafka, e)).toEqual([]);

    // the registry's own "no such id" stays what it was: a dead letter
    await producer.send(e.topic, [
      { key: toWire(keyId, keyType.toBuffer({ id: 7n })), value: toWire(2_147_480_001, Buffer.from([0])) },
    ]);
    await waitUntil(() => consumer.status().deadLettered === 1, { what: 'the unknown id dead-lettered' });
    console.log(`registry trouble shown as: ${seen.join(' | ')}`);
  }, 240_000);
});

describe('registry trouble while registering at start', () => {
  it('the consumer waits for the registry instead of exiting, then consumes', async () => {
    const e = await pipelineEnv(urls, 'regtrblstart');
    cleanups.push(() => e.drop());
    const stops: (() => Promise<unknown>)[] = [];
    cleanups.push(async () => {
      for (const stop of stops.reverse()) await stop();
    });
    runProducer(testApp(e.config), stops);
    const front = await registryFrontend(e.config.registry.url);
    cleanups.push(() => front.stop());
    front.state.troubles = (url) => /\/(subjects|config)\//.test(url);
    front.state.mode = '503';
    const app = testApp({ ...e.config, registry: { url: front.url } });
    let settled: 'started' | Error | undefined;
    const starting = startConsumer(app, 'peer').then(
      (c) => {
        settled = 'started';
        stops.push(() => c.stop());
        return c;
      },
      (err: Error) => (settled = err),
    );
    await waitUntil(() => front.state.troubled >= 6, {
      what: 'registrations answered 503',
      timeoutMs: 60_000,
    });
    front.state.mode = '401';
    const seen = front.state.troubled;
    await waitUntil(() => front.state.troubled > seen, {
      what: 'a registration answered 401',
      timeoutMs: 30_000,
    });
    expect(settled).toBeUndefined();
    front.state.mode = 'pass';
    await starting;
    expect(settled).toBe('started');
    await query(e.source.url, "INSERT INTO users (email, username) VALUES ('late@x.io', 'late')");
    await waitForPeerEqual(e);
  }, 180_000);
});
