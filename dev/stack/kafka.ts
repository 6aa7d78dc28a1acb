// Local Apache Kafka: broker jars resolved from Maven Central, one KRaft node (broker+controller)
// on loopback, storage formatted once, readiness = a metadata request succeeds.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { StackError } from '../../pipeline/errors.ts';
import { mavenOnce } from './maven.ts';
import {
  assertPortFree,
  execFileP,
  isAlive,
  readPid,
  startDaemon,
  stopPid,
  tailFile,
  waitFor,
} from './process.ts';
import { PROJECT_ROOT, type StackSettings } from './settings.ts';

const HERE = path.join(PROJECT_ROOT, 'dev/stack/kafka');

export function kafkaPaths(s: StackSettings) {
  const dir = path.join(s.stateDir, 'kafka');
  return {
    dir,
    dataDir: path.join(dir, 'data'),
    logFile: path.join(dir, 'kafka.log'),
    pidFile: path.join(dir, 'kafka.pid'),
    propsFile: path.join(dir, 'server.properties'),
    libs: path.join(s.cacheDir, `kafka-${s.kafkaVersion}`, 'libs'),
  };
}

export async function installKafka(s: StackSettings, log: (m: string) => void): Promise<void> {
  const p = kafkaPaths(s);
  await mavenOnce(
    `Apache Kafka ${s.kafkaVersion}`,
    p.libs,
    [
      '-f',
      path.join(HERE, 'pom.xml'),
      `-Dkafka.version=${s.kafkaVersion}`,
      `-Dlog4j.version=${s.log4jVersion}`,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${p.libs}`,
    ],
    log,
  );
}

function serverProperties(s: StackSettings, dataDir: string): string {
  const ctrl = `${s.host}:${s.kafkaControllerPort}`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${ctrl}`,
    `listeners=PLAINTEXT://${s.host}:${s.kafkaPort},CONTROLLER://${ctrl}`,
    `advertised.listeners=PLAINTEXT://${s.host}:${s.kafkaPort},CONTROLLER://${ctrl}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=3',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.cleaner.dedupe.buffer.size=16777216',
    '',
  ].join('\n');
}

function javaArgs(s: StackSettings, mainClass: string, extra: string[]): string[] {
  const p = kafkaPaths(s);
  return [
    `-Xmx${s.kafkaHeapMb}m`,
    `-Xms${Math.min(256, s.kafkaHeapMb)}m`,
    '-XX:+UseG1GC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(HERE, 'log4j2.xml')}`,
    '-cp',
    `${p.libs}/*`,
    mainClass,
    ...extra,
  ];
}

export async function startKafka(s: StackSettings, log: (m: string) => void): Promise<number> {
  const p = kafkaPaths(s);
  const existing = readPid(p.pidFile);
  if (isAlive(existing) && existing !== undefined) return existing;
  await installKafka(s, log);
  await assertPortFree('kafka', s.host, s.kafkaPort, 'PGCDC_STACK_KAFKA_PORT');
  await assertPortFree(
    'kafka controller',
    s.host,
    s.kafkaControllerPort,
    'PGCDC_STACK_KAFKA_CONTROLLER_PORT',
  );
  mkdirSync(p.dataDir, { recursive: true });
  writeFileSync(p.propsFile, serverProperties(s, p.dataDir));
  if (!existsSync(path.join(p.dataDir, 'meta.properties'))) {
    const clusterId = newClusterId();
    log(`formatting Kafka storage ${p.dataDir}`);
    try {
      await execFileP(
        'java',
        javaArgs(s, 'kafka.tools.StorageTool', [
          'format',
          '-t',
          clusterId,
          '-c',
          p.propsFile,
          '--standalone',
        ]),
        {
          maxBuffer: 16 << 20,
        },
      );
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new StackError(`kafka storage format failed: ${(e.stderr ?? e.stdout ?? '').slice(-2000)}`, {
        cause: err,
      });
    }
  }
  const pid = startDaemon({
    name: 'kafka',
    command: 'java',
    args: javaArgs(s, 'kafka.Kafka', [p.propsFile]),
    logFile: p.logFile,
    pidFile: p.pidFile,
  });
  try {
    await waitFor(() => kafkaReady(s), {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: `kafka on ${s.host}:${s.kafkaPort}`,
      abortIf: () => (isAlive(pid) ? undefined : 'kafka exited during start-up'),
    });
  } catch (err) {
    await stopPid(pid, 5000);
    throw new StackError(
      `kafka failed to start: ${(err as Error).message}\n--- ${p.logFile} ---\n${tailFile(p.logFile)}`,
    );
  }
  return pid;
}

export async function kafkaReady(s: StackSettings): Promise<boolean> {
  const kafka = new Kafka({
    brokers: [`${s.host}:${s.kafkaPort}`],
    clientId: 'pgcdc-stack',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function stopKafka(s: StackSettings): Promise<void> {
  await stopPid(readPid(kafkaPaths(s).pidFile), 45_000);
}

/**
 * A KRaft cluster id: 16 random bytes, base64url, as `kafka-storage random-uuid` makes them. Like
 * Kafka's own Uuid.randomUuid, never one that starts with '-': the storage tool's argument parser
 * takes `-t -abc…` for an option and fails the format (1 start in 64 did).
 */
export function newClusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
