// The webhook's raw ceiling, measured in the same run: the same number of POSTs, of the same
// average body size, at the same concurrency, to the same kind of receiver in the bench process,
// from a separate Node process (as our webhook sink is) through a bare undici keep-alive pool (the
// HTTP client the sink uses), with no Kafka, decoding, signing or retry logic. Our webhook
// deliveries/s are reported as a fraction of it. Run as a script, this file is that client.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import type { RateResult } from './baselines.ts';
import { spawnChild } from './proc.ts';
import { startBenchReceiver } from './receiver.ts';

const SELF = fileURLToPath(import.meta.url);

export async function rawHttpRate(
  requests: number,
  bodyBytes: number,
  concurrency: number,
): Promise<RateResult> {
  const receiver = await startBenchReceiver();
  try {
    const child = spawnChild('raw HTTP client', process.execPath, [
      '--import',
      'tsx',
      path.relative(process.cwd(), SELF),
      receiver.url,
      String(requests),
      String(bodyBytes),
      String(concurrency),
    ]);
    const timer = setTimeout(() => void child.stop('SIGKILL'), 300_000);
    const code = await child.exited;
    clearTimeout(timer);
    const out = /raw-http seconds=([\d.]+)/.exec(child.tail(20));
    if (code !== 0 || !out) throw new Error(`raw HTTP client exited with ${code}: ${child.tail(5)}`);
    if (receiver.events() !== requests)
      throw new Error(`raw HTTP client: the receiver counted ${receiver.events()} of ${requests} requests`);
    const seconds = Number(out[1]);
    return { seconds, rate: requests / seconds, note: `${bodyBytes} B bodies, concurrency ${concurrency}` };
  } finally {
    await receiver.close();
  }
}

/** The client: `requests` POSTs from `concurrency` loops; prints the seconds they took. */
async function client(url: string, requests: number, bodyBytes: number, concurrency: number) {
  const agent = new Agent({ connections: concurrency });
  // one event-like JSON object of the measured size (the receiver counts one event per request)
  const body = JSON.stringify({ version: 1, data: 'x'.repeat(Math.max(0, bodyBytes - 26)) });
  const headers = { 'content-type': 'application/json' };
  let next = 0;
  const loop = async () => {
    while (next < requests) {
      next++;
      const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`the receiver answered ${res.statusCode}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  console.log(`raw-http seconds=${((performance.now() - t0) / 1000).toFixed(4)}`);
  await agent.close();
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const [url, n, bytes, conc] = process.argv.slice(2);
  await client(url!, Number(n), Number(bytes), Number(conc));
}
