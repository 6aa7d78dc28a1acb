// What the benchmark needs besides the local stack, fetched once from Maven Central into the cache
// (~/.cache/pgcdc/bench/): Kafka's ProducerPerformance tool, and for `--vs debezium` a Kafka
// Connect worker plus the Debezium PostgreSQL source and JDBC sink plugins. Benchmark peers only:
// nothing of this is used by the product.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { mavenOnce } from '../stack/maven.ts';
import { PROJECT_ROOT, type StackSettings } from '../stack/settings.ts';

const POMS = path.join(PROJECT_ROOT, 'dev/bench/maven');

/** Tried in this order: 3.4.x is built against Kafka 4.1.1; 3.6.1 is the fallback. */
export const DEBEZIUM_VERSIONS = ['3.4.3.Final', '3.6.1.Final'];

const benchCache = (s: StackSettings) => path.join(s.cacheDir, 'bench');

function copyDeps(pom: string, out: string, s: StackSettings): string[] {
  return [
    '-f',
    path.join(POMS, pom),
    `-Dkafka.version=${s.kafkaVersion}`,
    `-Dlog4j.version=${s.log4jVersion}`,
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${out}`,
  ];
}

/** Classpath folder with org.apache.kafka.tools.ProducerPerformance. */
export async function installKafkaTools(s: StackSettings, log: (m: string) => void): Promise<string> {
  const libs = path.join(benchCache(s), `kafka-tools-${s.kafkaVersion}`, 'libs');
  await mavenOnce(`Kafka tools ${s.kafkaVersion}`, libs, copyDeps('kafka-tools.pom.xml', libs, s), log);
  return libs;
}

/** Classpath folder of a Kafka Connect standalone worker. */
export async function installConnect(s: StackSettings, log: (m: string) => void): Promise<string> {
  const libs = path.join(benchCache(s), `connect-${s.kafkaVersion}`, 'libs');
  await mavenOnce(`Kafka Connect ${s.kafkaVersion}`, libs, copyDeps('connect.pom.xml', libs, s), log);
  return libs;
}

/** Plugin folder (Connect plugin.path) with the Debezium postgres and jdbc connectors. */
export async function installDebezium(
  s: StackSettings,
  log: (m: string) => void,
): Promise<{ pluginPath: string; version: string }> {
  let lastError: unknown;
  for (const version of DEBEZIUM_VERSIONS) {
    const dir = path.join(benchCache(s), `debezium-${version}`, 'plugins');
    try {
      await mavenOnce(
        `Debezium ${version} connector plugins`,
        dir,
        [
          '-f',
          path.join(POMS, 'debezium.pom.xml'),
          `-Ddebezium.version=${version}`,
          `-Dplugins.dir=${dir}`,
          'dependency:unpack',
        ],
        log,
      );
      const have = existsSync(dir) ? readdirSync(dir) : [];
      if (!have.includes('debezium-connector-postgres') || !have.includes('debezium-connector-jdbc'))
        throw new Error(`unpacked plugins incomplete in ${dir}: ${have.join(', ')}`);
      return { pluginPath: dir, version };
    } catch (err) {
      lastError = err;
      log(`Debezium ${version} could not be installed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
