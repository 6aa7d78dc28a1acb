// The webhook sink's HTTP transport (consumers/webhook/http.ts, undici's dispatch API) against a
// local receiver: what a request carries, what an answer becomes (status, Retry-After, the first
// KiB of a failure's body, a success's body read past on a kept connection), and which failures
// are timeouts (no answer, an answer dripping past the cap) or network errors (refused).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createUndiciTransport, TransportError } from '../../consumers/webhook/http.ts';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function receiver(handle: Handler) {
  const sockets = new Set<unknown>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?k=v`, sockets };
}

function transport(responseTimeoutMs = 2_000) {
  const t = createUndiciTransport({ connectTimeoutMs: 1_000, responseTimeoutMs, connections: 2 });
  closers.push(() => t.close());
  return t;
}

describe('the webhook transport', () => {
  it('sends the headers and body to the URL (path and query); a success is its status alone, connections kept', async () => {
    const seen: {
      url: string | undefined;
      method: string | undefined;
      headers: http.IncomingHttpHeaders;
      body: string;
    }[] = [];
    const r = await receiver((req, body, res) => {
      seen.push({ url: req.url, method: req.method, headers: req.headers, body });
      res.writeHead(200, { 'retry-after': '9' }).end('x'.repeat(100_000));
    });
    const t = transport();
    for (let i = 0; i < 10; i++) {
      const answer = await t.post(
        r.url,
        { 'content-type': 'application/json', 'webhook-id': `id${i}` },
        `{"n":${i}}`,
      );
      expect(answer).toEqual({ status: 200, retryAfter: undefined, bodyExcerpt: '' });
    }
    expect(
      seen.map((s) => [s.url, s.method, s.headers['webhook-id'], s.headers['content-type'], s.body]),
    ).toEqual(
      Array.from({ length: 10 }, (_, i) => ['/hook?k=v', 'POST', `id${i}`, 'application/json', `{"n":${i}}`]),
    );
    expect(r.sockets.size).toBeLessThanOrEqual(2); // kept and reused, not one per request
  });

  it('a failure: its status, Retry-After and the first KiB of its body', async () => {
    const r = await receiver((req, _body, res) => {
      if (req.headers['webhook-id'] === 'busy') res.writeHead(429, { 'Retry-After': '7' }).end('slow down');
      else res.writeHead(500).end(`${'é'.repeat(300)}${'z'.repeat(2_000)}`);
    });
    const t = transport();
    expect(await t.post(r.url, { 'webhook-id': 'busy' }, '{}')).toEqual({
      status: 429,
      retryAfter: '7',
      bodyExcerpt: 'slow down',
    });
    const failed = await t.post(r.url, { 'webhook-id': 'broken' }, '{}');
    expect(failed.status).toBe(500);
    expect(failed.retryAfter).toBeUndefined();
    expect(Buffer.byteLength(failed.bodyExcerpt)).toBeLessThanOrEqual(1024);
    expect(failed.bodyExcerpt.startsWith('é'.repeat(300))).toBe(true);
  });

  it('no answer within the response timeout, or a failure dripping past the cap: a timeout; a success dripping: a success', async () => {
    const r = await receiver((req, _body, res) => {
      const id = req.headers['webhook-id'];
      if (id === 'silent') return; // never answers
      res.writeHead(id === 'drip-ok' ? 200 : 503);
      const drip = setInterval(() => res.write('.'), 100); // never idle, never done
      res.on('close', () => clearInterval(drip));
    });
    const t = transport(500);
    const silent = await t.post(r.url, { 'webhook-id': 'silent' }, '{}').catch((e: unknown) => e);
    expect(silent).toBeInstanceOf(TransportError);
    expect((silent as TransportError).kind).toBe('timeout');
    const started = performance.now();
    const dripping = await t.post(r.url, { 'webhook-id': 'drip' }, '{}').catch((e: unknown) => e);
    expect((dripping as TransportError).kind).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(5_000); // the cap: connect + response timeout
    // accepted: the body's end does not matter (read past until the cap)
    expect(await t.post(r.url, { 'webhook-id': 'drip-ok' }, '{}')).toEqual({
      status: 200,
      retryAfter: undefined,
      bodyExcerpt: '',
    });
  });

  it('a success with a long body: read past up to 128 KiB, then its connection goes', async () => {
    const r = await receiver((_req, _body, res) => {
      res.writeHead(200);
      res.end(Buffer.alloc(1024 * 1024, 'a'));
    });
    const t = transport();
    expect((await t.post(r.url, {}, '{}')).status).toBe(200);
    expect((await t.post(r.url, {}, '{}')).status).toBe(200);
  });

  it('a refused connection is a network error', async () => {
    const r = await receiver((_req, _body, res) => res.end());
    const url = r.url;
    await closers.pop()!(); // the receiver is gone
    const err = await transport()
      .post(url, {}, '{}')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe('network');
    expect((err as Error).message).toContain('ECONNREFUSED');
  });
});
