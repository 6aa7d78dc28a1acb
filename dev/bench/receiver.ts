// A webhook receiver for the benchmark on 127.0.0.1 (random port): answers 204 at once and records
// when each event arrived (a batch request counts its elements). Signatures are not checked here
// (the demo's receiver does that); this one should cost as little CPU as possible.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BenchReceiver {
  url: string;
  secret: string;
  events(): number;
  /** requests received and the bytes of their bodies */
  requests(): { count: number; bytes: number };
  close(): Promise<void>;
}

export async function startBenchReceiver(): Promise<BenchReceiver> {
  let events = 0;
  let requests = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests += 1;
      bytes += body.length;
      // an array body starts with '[': count its top-level objects by their "version" key
      if (body[0] === 0x5b) events += body.toString('utf8').split('{"version":').length - 1;
      else events += 1;
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    secret: `whsec_${randomBytes(24).toString('base64')}`,
    events: () => events,
    requests: () => ({ count: requests, bytes }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
