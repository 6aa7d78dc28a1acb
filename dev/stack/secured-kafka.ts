// A second, small Kafka for the security tests: one KRaft node whose clients' listener is SASL_SSL
// (SCRAM-SHA-512 and SCRAM-SHA-256, users created at storage-format time with --add-scram; the
// broker certificate from the test PKI, in a PKCS12 keystore made with openssl) beside a plaintext
// listener the broker and controller use among themselves. Same jars as the stack's Kafka, a
// modest heap. Started by the security tests, reused while it runs, stopped by them.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { StackError } from '../../pipeline/errors.ts';
import { installKafka, kafkaPaths, newClusterId } from './kafka.ts';
import { execFileP, isAlive, readPid, startDaemon, stopPid, tailFile, waitFor } from './process.ts';
import type { SecuredCredentials, SecuredSettings, TestPki } from './secured.ts';
import { PROJECT_ROOT } from './settings.ts';

const HEAP_MB = 320;

function paths(s: SecuredSettings) {
  const dir = path.join(s.dir, 'kafka');
  return {
    dir,
    dataDir: path.join(dir, 'data'),
    props: path.join(dir, 'server.properties'),
    keystore: path.join(dir, 'broker.p12'),
    logFile: path.join(dir, 'kafka.log'),
    pidFile: path.join(dir, 'kafka.pid'),
  };
}

/** The brokers a SASL_SSL client bootstraps from (the name in the certificate). */
export const securedBrokers = (s: SecuredSettings) => [`${s.certHost}:${s.kafkaSaslPort}`];

function properties(s: SecuredSettings, keystorePassword: string): string {
  const p = paths(s);
  const ctrl = `${s.host}:${s.kafkaControllerPort}`;
  const internal = `${s.host}:${s.kafkaInternalPort}`;
  const jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${ctrl}`,
    `listeners=INTERNAL://${internal},SASL_SSL://${s.host}:${s.kafkaSaslPort},CONTROLLER://${ctrl}`,
    `advertised.listeners=INTERNAL://${internal},SASL_SSL://${s.certHost}:${s.kafkaSaslPort},CONTROLLER://${ctrl}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=INTERNAL',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL',
    'listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${jaas}`,
    `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${jaas}`,
    'listener.name.sasl_ssl.ssl.keystore.type=PKCS12',
    `listener.name.sasl_ssl.ssl.keystore.location=${p.keystore}`,
    `listener.name.sasl_ssl.ssl.keystore.password=${keystorePassword}`,
    `log.dirs=${p.dataDir}`,
    'num.partitions=3',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.cleaner.dedupe.buffer.size=8388608',
    '',
  ].join('\n');
}

function java(s: SecuredSettings, mainClass: string, args: string[]): string[] {
  return [
    `-Xmx${HEAP_MB}m`,
    `-Xms${HEAP_MB}m`,
    '-XX:+UseG1GC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(PROJECT_ROOT, 'dev/stack/kafka/log4j2.xml')}`,
    '-cp',
    `${kafkaPaths(s.base).libs}/*`,
    mainClass,
    ...args,
  ];
}

/** Starts the secured Kafka (or reuses the running one); returns its pid. */
export async function startSecuredKafka(
  s: SecuredSettings,
  pki: TestPki,
  creds: SecuredCredentials,
  log: (m: string) => void,
): Promise<number> {
  const p = paths(s);
  const running = readPid(p.pidFile);
  if (running !== undefined && isAlive(running)) return running;
  await installKafka(s.base, log);
  // a fresh broker per start: the SCRAM users are written at format time
  rmSync(p.dir, { recursive: true, force: true });
  mkdirSync(p.dataDir, { recursive: true });
  const storePassword = 'keystore-test-only';
  await execFileP('openssl', [
    'pkcs12', '-export', '-in', pki.serverCertFile, '-inkey', pki.serverKeyFile,
    '-out', p.keystore, '-passout', `pass:${storePassword}`, '-name', 'broker',
  ]); // prettier-ignore
  writeFileSync(p.props, properties(s, storePassword));
  log(`formatting the secured Kafka's storage with SCRAM users`);
  const scram = (mech: string) => `${mech}=[name=${creds.kafkaUser},password=${creds.kafkaPassword}]`;
  try {
    await execFileP(
      'java',
      java(s, 'kafka.tools.StorageTool', [
        'format', '-t', newClusterId(), '-c', p.props, '--standalone',
        '--add-scram', scram('SCRAM-SHA-512'), '--add-scram', scram('SCRAM-SHA-256'),
      ]), // prettier-ignore
      { maxBuffer: 16 << 20 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new StackError(`secured kafka storage format failed: ${(e.stderr ?? e.stdout ?? '').slice(-2000)}`);
  }
  const pid = startDaemon({
    name: 'secured kafka',
    command: 'java',
    args: java(s, 'kafka.Kafka', [p.props]),
    logFile: p.logFile,
    pidFile: p.pidFile,
  });
  try {
    await waitFor(() => securedKafkaReady(s, pki, creds), {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `secured kafka on ${s.host}:${s.kafkaSaslPort}`,
      abortIf: () => (isAlive(pid) ? undefined : 'secured kafka exited during start-up'),
    });
  } catch (err) {
    await stopPid(pid, 5000);
    throw new StackError(`secured kafka failed: ${(err as Error).message}\n${tailFile(p.logFile)}`);
  }
  return pid;
}

async function securedKafkaReady(s: SecuredSettings, pki: TestPki, c: SecuredCredentials): Promise<boolean> {
  const kafka = new Kafka({
    brokers: securedBrokers(s),
    clientId: 'pgcdc-secured-stack',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 0 },
    ssl: { ca: readFileSync(pki.caFile, 'utf8') },
    sasl: { mechanism: 'scram-sha-512', username: c.kafkaUser, password: c.kafkaPassword },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function stopSecuredKafka(s: SecuredSettings): Promise<void> {
  const p = paths(s);
  await stopPid(readPid(p.pidFile), 45_000);
  if (existsSync(p.dir)) rmSync(p.dir, { recursive: true, force: true });
}
