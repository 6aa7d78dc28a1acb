// `pgcdc demo` also syncs a MariaDB peer (the stack's, target "maria", unless --no-mysql): this
// module adds that target to the demo's configuration, resets its tables, consumer group and
// dead-letter topic, runs its consumer beside the Postgres peer's, and at the end compares it
// with the source column by column (dev/verify/mysql-compare.ts).
import mysql from 'mysql2/promise';
import { startConsumer, type App } from '../../../pipeline/compose.ts';
import { MysqlTargetSchema } from '../../../pipeline/config/mysql.ts';
import type { Config, MysqlTargetConfig } from '../../../pipeline/config/schema.ts';
import type { TableContract } from '../../../schemas/contract.ts';
import type { StackUrls } from '../../stack/settings.ts';
import { compareWithMysql } from '../../verify/mysql-compare.ts';
import { compareUntilEqual, resetDemoTarget } from './demo-support.ts';

export interface DemoMysqlPeer {
  target: MysqlTargetConfig;
  /** waits until the MariaDB peer equals the source (or the deadline), says how it went */
  check(say: (m: string) => void): Promise<boolean>;
  stop(): Promise<void>;
}

/** The demo's MariaDB target, added to `config.targets`. */
export function addMysqlDemoTarget(config: Config, urls: StackUrls): MysqlTargetConfig {
  const target = MysqlTargetSchema.parse({
    name: 'maria',
    type: 'mysql',
    url: urls.mysqlPeerUrl,
    batchSize: 500,
    tables: ['public.users'], // the demo compares the users table at MariaDB
  });
  config.targets.push(target);
  return target;
}

/** Drops what an earlier demo left at the MariaDB peer: its tables, consumer group and DLQ topic. */
export async function resetMysqlDemo(app: App, target: MysqlTargetConfig): Promise<void> {
  const c = await mysql.createConnection({ uri: target.url });
  try {
    await resetDemoTarget(app, target, (t) => c.query(`DROP TABLE IF EXISTS \`${t}\``));
  } finally {
    await c.end();
  }
}

export async function startMysqlDemo(
  app: App,
  target: MysqlTargetConfig,
  contract: TableContract,
): Promise<DemoMysqlPeer> {
  const consumer = await startConsumer(app, target.name);
  const source = {
    url: app.config.source.url,
    schema: app.config.source.schema,
    table: app.config.source.table,
  };
  const compare = () =>
    compareWithMysql(
      source,
      { url: target.url, table: target.table },
      contract.columns,
      contract.keyColumns[0]!,
    );
  return {
    target,
    async check(say) {
      const r = await compareUntilEqual(compare);
      const st = consumer.status();
      say(
        `target "${target.name}" (MariaDB): ${st.applied} events applied, ${st.deadLettered} dead-lettered; ` +
          (r.equal
            ? `${r.targetRows} rows equal to the source, every column compared (types converted as docs/mysql.md says)`
            : `NOT equal: ${r.sourceRows} source rows, ${r.targetRows} at MariaDB; ${r.differences.slice(0, 5).join('; ')}`),
      );
      return r.equal && st.deadLettered === 0;
    },
    stop: () => consumer.stop(),
  };
}
