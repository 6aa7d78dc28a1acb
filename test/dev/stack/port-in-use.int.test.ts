// A port already taken by another process makes a component's start fail up front, with a message
// naming the port and the variable that moves it, and nothing is left running or half-created.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kafkaPaths, startKafka } from '../../../dev/stack/kafka.ts';
import { pgPaths } from '../../../dev/stack/postgres.ts';
import { isPortFree, readPid } from '../../../dev/stack/process.ts';
import { stackSettingsFromEnv, type StackSettings } from '../../../dev/stack/settings.ts';
import { stackDown, stackStatus, stackUp } from '../../../dev/stack/stack.ts';
import { describeError } from '../../../pipeline/errors.ts';

const HOST = '127.0.0.1';

/** Listens on a free loopback port; the caller closes it. */
async function listen(): Promise<net.Server> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: HOST, port: 0, exclusive: true }, resolve);
  });
  return srv;
}

function portOf(srv: net.Server): number {
  const addr = srv.address();
  if (addr === null || typeof addr === 'string') throw new Error('server has no TCP address');
  return addr.port;
}

const close = (srv: net.Server) => new Promise<void>((resolve) => srv.close(() => resolve()));

/** Distinct free ports: the first stays occupied (returned server), the others are released. */
async function ports(n: number): Promise<{ occupied: net.Server; busy: number; free: number[] }> {
  const servers = await Promise.all(Array.from({ length: n + 1 }, listen));
  const [occupied, ...rest] = servers as [net.Server, ...net.Server[]];
  const free = rest.map(portOf);
  await Promise.all(rest.map(close));
  return { occupied, busy: portOf(occupied), free };
}

describe('a component whose port is taken', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  /** Settings on private ports and a private state dir; the cache (Kafka jars) is shared. */
  function isolatedSettings(p: {
    pg: number;
    kafka: number;
    controller: number;
    registry: number;
    mariadb?: number;
  }): StackSettings {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'pgcdc-port-test-'));
    const s: StackSettings = {
      ...stackSettingsFromEnv(process.env),
      stateDir,
      pgPort: p.pg,
      kafkaPort: p.kafka,
      kafkaControllerPort: p.controller,
      registryPort: p.registry,
      mariadbPort: p.mariadb ?? 0,
    };
    cleanups.push(async () => {
      // Safety net: if a start wrongly succeeded, stop it before removing its files.
      await stackDown(s);
      const pgDir = (await pgPaths(s)).dir;
      rmSync(stateDir, { recursive: true, force: true });
      if (!pgDir.startsWith(stateDir)) rmSync(path.dirname(pgDir), { recursive: true, force: true });
    });
    return s;
  }

  it('kafka: start fails naming the port and PGCDC_STACK_KAFKA_PORT, and starts nothing', async () => {
    const { occupied, busy, free } = await ports(3);
    cleanups.push(() => close(occupied));
    const [pgPort = 0, controller = 0, registry = 0] = free;
    const s = isolatedSettings({ pg: pgPort, kafka: busy, controller, registry });

    const err: unknown = await startKafka(s, () => undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const text = describeError(err);
    expect(text).toContain(`${HOST}:${busy}`);
    expect(text).toContain('PGCDC_STACK_KAFKA_PORT');

    expect(readPid(kafkaPaths(s).pidFile)).toBeUndefined();
    expect(existsSync(kafkaPaths(s).dataDir)).toBe(false);
    expect(await isPortFree(HOST, controller)).toBe(true);
  });

  it('stack up: postgres start fails naming the port and PGCDC_STACK_PG_PORT, and nothing is left running', async () => {
    const { occupied, busy, free } = await ports(4);
    cleanups.push(() => close(occupied));
    const [kafka = 0, controller = 0, registry = 0, mariadb = 0] = free;
    const s = isolatedSettings({ pg: busy, kafka, controller, registry, mariadb });
    const log: string[] = [];

    const err: unknown = await stackUp(s, (m) => log.push(m)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const text = describeError(err);
    expect(text).toContain(`${HOST}:${busy}`);
    expect(text).toContain('PGCDC_STACK_PG_PORT');

    const status = await stackStatus(s);
    expect(Object.values(status).map((c) => c.running)).toEqual([false, false, false, false]);
    for (const port of free) expect(await isPortFree(HOST, port)).toBe(true);
    expect(existsSync((await pgPaths(s)).dataDir)).toBe(false);
  });
});
