// Free ports for servers that another process will bind (a test's own Kafka, a pgcdc child's
// /metrics in the bench). Guarantee: the port is free on 127.0.0.1 when returned AND lies outside
// the kernel's ephemeral range, so no outgoing connection (a Kafka client, a Postgres pool) can
// take it in the gap between this check and the other process's bind. `listen(0)` picks from the
// ephemeral range itself, which is why a port found that way could be lost to any `connect()`.
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Where ports are drawn from when the ephemeral range cannot be read (Linux's default range). */
const DEFAULT_EPHEMERAL: readonly [number, number] = [32768, 60999];
/** The lowest port handed out: above the stack's fixed ports (18xxx, 19xxx) and common services. */
const LOWEST = 20_000;
const ATTEMPTS = 50;

/** The kernel's ephemeral port range (net.ipv4.ip_local_port_range). */
export function ephemeralRange(): readonly [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi) && lo <= hi)
      return [lo, hi];
  } catch {
    // not Linux: the default range
  }
  return DEFAULT_EPHEMERAL;
}

/**
 * The ranges of ports no outgoing connection is given: below the ephemeral range (from LOWEST)
 * and above it. Pure, for the test.
 */
export function reservedRanges([lo, hi]: readonly [number, number]): [number, number][] {
  const ranges: [number, number][] = [];
  if (lo - 1 >= LOWEST) ranges.push([LOWEST, lo - 1]);
  if (hi + 1 <= 65_535) ranges.push([Math.max(hi + 1, LOWEST), 65_535]);
  return ranges;
}

function pick(ranges: [number, number][]): number {
  const total = ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
  let i = Math.floor(Math.random() * total);
  for (const [a, b] of ranges) {
    if (i <= b - a) return a + i;
    i -= b - a + 1;
  }
  throw new Error('unreachable: an index within the ranges');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function anyPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A port nothing listens on (yet) on 127.0.0.1, outside the ephemeral range where there is room. */
export async function freePort(): Promise<number> {
  const ranges = reservedRanges(ephemeralRange());
  if (ranges.length === 0) return anyPort();
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = pick(ranges);
    if (await bindable(port)) return port;
  }
  throw new Error(
    `no free port on 127.0.0.1 in ${ranges.map(([a, b]) => `${a}-${b}`).join(', ')} after ${ATTEMPTS} tries`,
  );
}
