// `pgcdc bench` (npm run bench): throughput, latency and resources of the pipeline on the local
// stack with a seeded workload, next to raw baselines and, with --vs debezium, Debezium on Kafka
// Connect. Prints a markdown report; saves JSON and markdown under bench-results/.
import path from 'node:path';
import type { Command } from 'commander';
import { PROJECT_ROOT } from '../../stack/settings.ts';
import type { BenchOptions } from '../../bench/result.ts';
import { Bench } from '../../bench/run.ts';
import { parseVariants } from '../../bench/sink-phases.ts';
import { renderReport } from '../../bench/report.ts';
import { DEFAULT_WORKLOAD } from '../../bench/workload.ts';
import { redactSecrets } from '../../redact.ts';

interface BenchCliOpts {
  vs?: string;
  only?: string;
  events: string;
  rounds: string;
  latencySeconds: string;
  everyRound?: boolean;
  rates: string;
  saturation: boolean;
  snapshotRows: string;
  snapshotBatchSize?: string;
  webhook: boolean;
  baselines: boolean;
  mix: string;
  txnSize: string;
  largeBioRatio: string;
  largeBioBytes: string;
  seed: string;
  writers: string;
  batchMaxMessages?: string;
  lingerMs?: string;
  out: string;
  label?: string;
  profile?: boolean;
  keepStack?: boolean;
  sourceOnly?: boolean;
  compareTree?: string;
  compare?: string;
  baseRoot?: string;
  compareReps?: string;
  compareSink?: boolean;
  compareSwaps?: boolean;
  tables: string;
  shaping?: boolean;
  shapingReps?: string;
  reconcile?: string;
  swapReps?: string;
}

const int = (name: string, v: string, min = 0): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
};

/** --tables: 1 (users) or 3 (users, groups, memberships: dev/tables) */
function tablesOption(v: string): number {
  if (v !== '1' && v !== '3') throw new Error(`--tables: 1 or 3, got ${v}`);
  return Number(v);
}

export function parseBenchOptions(o: BenchCliOpts): BenchOptions {
  if (o.vs !== undefined && o.vs !== 'debezium')
    throw new Error(`--vs: only "debezium" is supported, got ${o.vs}`);
  if (o.only !== undefined && o.only !== 'pgcdc' && o.only !== 'debezium' && o.only !== 'reconcile')
    throw new Error(`--only: pgcdc, debezium or reconcile, got ${o.only}`);
  const mix = o.mix.split(/[/:,]/).map((x) => Number(x));
  if (mix.length !== 3 || mix.some((x) => !Number.isFinite(x) || x < 0))
    throw new Error(`--mix must be insert/update/delete weights, e.g. 60/30/10, got ${o.mix}`);
  const ratio = Number(o.largeBioRatio);
  if (!(ratio >= 0 && ratio <= 1))
    throw new Error(`--large-bio-ratio must be in 0..1, got ${o.largeBioRatio}`);
  return {
    vs: o.vs === 'debezium' ? 'debezium' : undefined,
    ...(o.only ? { only: o.only } : {}),
    events: int('events', o.events, 1),
    rounds: int('rounds', o.rounds, 1),
    latencySeconds: int('latency-seconds', o.latencySeconds),
    ...(o.everyRound ? { everyRound: true } : {}),
    rates: o.rates
      .split(',')
      .filter(Boolean)
      .map((x) => int('rates', x.trim(), 1)),
    saturation: o.saturation,
    snapshotRows: int('snapshot-rows', o.snapshotRows),
    ...(o.snapshotBatchSize ? { snapshotBatchSize: int('snapshot-batch-size', o.snapshotBatchSize, 1) } : {}),
    webhook: o.webhook,
    baselines: o.baselines,
    workload: {
      seed: int('seed', o.seed),
      mix: { insert: mix[0]!, update: mix[1]!, delete: mix[2]! },
      txnSize: int('txn-size', o.txnSize, 1),
      largeBioRatio: ratio,
      largeBioBytes: int('large-bio-bytes', o.largeBioBytes, 1),
    },
    writers: int('writers', o.writers, 1),
    swapReps: int('swap-reps', o.swapReps ?? '3'),
    ...(o.tables !== '1' ? { tables: tablesOption(o.tables) } : {}),
    ...(o.shaping ? { shaping: { reps: int('shaping-reps', o.shapingReps ?? '3', 1) } } : {}),
    ...(o.reconcile || o.only === 'reconcile'
      ? { reconcileRows: int('reconcile', o.reconcile ?? '100000', 1) }
      : {}),
    ...(o.batchMaxMessages || o.lingerMs
      ? {
          producer: {
            ...(o.batchMaxMessages
              ? { batchMaxMessages: int('batch-max-messages', o.batchMaxMessages, 1) }
              : {}),
            ...(o.lingerMs ? { lingerMs: int('linger-ms', o.lingerMs) } : {}),
          },
        }
      : {}),
    outDir: path.resolve(o.out),
    ...(o.label ? { label: o.label } : {}),
    ...(o.profile ? { profile: true } : {}),
    ...(o.keepStack ? { keepStack: true } : {}),
    ...(o.sourceOnly ? { sourceOnly: true } : {}),
    ...(o.compareTree ? { compareTree: o.compareTree } : {}),
    ...(o.compare
      ? {
          compare: {
            variants: parseVariants(o.compare, o.baseRoot && path.resolve(o.baseRoot)),
            reps: int('compare-reps', o.compareReps ?? '3', 1),
            sink: o.compareSink !== false,
            swaps: o.compareSwaps !== false,
          },
        }
      : {}),
  };
}

export function registerBenchCommand(program: Command): void {
  const w = DEFAULT_WORKLOAD;
  program
    .command('bench')
    .description(
      'benchmark on the local stack: source/sink/webhook/snapshot throughput, end-to-end latency, CPU and memory, ' +
        'next to raw baselines (pg_recvlogical, Kafka ProducerPerformance, multi-row upsert) and optionally Debezium',
    )
    .option(
      '--vs <peer>',
      'also run the same workload through this peer: debezium (Kafka Connect + Debezium)',
    )
    .option('--only <pipeline>', 'run only pgcdc, only debezium, or only the reconcile phase (reconcile)')
    .option(
      '--reconcile <rows>',
      "reconcile phase: rows/s of pgcdc reconcile's pass over two equal tables of this many rows, beside the raw SQL hash scans of both (100000 with --only reconcile)",
    )
    .option('--events <n>', 'changes written per throughput round', '30000')
    .option('--rounds <n>', 'throughput rounds per pipeline (medians are reported)', '3')
    .option('--latency-seconds <n>', 'duration of each latency phase (0 skips them)', '15')
    .option(
      '--every-round',
      'the latency and webhook phases in every round, not only the last; pipelines run in alternating order round by round (before/after pairs with --compare-tree)',
    )
    .option('--rates <list>', 'fixed write rates of the latency phases, changes/s', '1000,5000')
    .option('--no-saturation', 'skip the latency phase at maximum write rate')
    .option(
      '--snapshot-rows <n>',
      'rows of the snapshot phase (1000000 for the full figure; 0 skips)',
      '20000',
    )
    .option('--snapshot-batch-size <n>', 'our source.snapshot.batchSize (default: the configuration default)')
    .option('--no-webhook', 'skip webhook deliveries')
    .option('--no-baselines', 'skip pg_recvlogical, ProducerPerformance and the raw upsert')
    .option(
      '--mix <i/u/d>',
      'insert/update/delete weights',
      `${w.mix.insert}/${w.mix.update}/${w.mix.delete}`,
    )
    .option('--txn-size <n>', 'changes per source transaction', String(w.txnSize))
    .option('--large-bio-ratio <r>', 'fraction of inserted rows with a large bio', String(w.largeBioRatio))
    .option('--large-bio-bytes <n>', 'size of a large bio', String(w.largeBioBytes))
    .option('--seed <n>', 'workload seed', String(w.seed))
    .option(
      '--tables <n>',
      '3: after the one-table rounds, the same changes over users, groups and memberships in one pipeline (docs/tables.md)',
      '1',
    )
    .option(
      '--shaping',
      'in the first round: sink events/s and CPU of an unmapped, a mapped and a matched-by-email target on its topic (docs/shaping.md)',
    )
    .option('--shaping-reps <n>', 'repetitions of each --shaping target (medians are reported)', '3')
    .option('--writers <n>', 'writer connections', '8')
    .option(
      '--swap-reps <n>',
      "repetitions of the unique-swap burst phase (ours: 175 events of cross-partition email swaps; the pipeline's start-up on the way); 0 skips it",
      '3',
    )
    .option('--batch-max-messages <n>', 'our producer.batchMaxMessages (default: the configuration default)')
    .option('--linger-ms <n>', 'our producer.lingerMs (default: the configuration default)')
    .option('--out <dir>', 'results folder', path.join(PROJECT_ROOT, 'bench-results'))
    .option('--profile', 'write V8 CPU profiles of our producer and consumers next to the results')
    .option('--label <text>', 'a label for this run (e.g. "before batching change")')
    .option('--keep-stack', 'leave the local stack parts this run started running at the end')
    .option(
      '--source-only',
      'only the producer side: source events/s, snapshot rows/s into Kafka (no sink), start-up, CPU, RSS, vs ProducerPerformance',
    )
    .option(
      '--compare-tree <dir>',
      'also run the pgcdc of this checkout (e.g. a git worktree of the commit before a change) through the same rounds, interleaved round by round (with --source-only: the producer side only)',
    )
    .option(
      '--compare <variants>',
      'consumer-side phases per variant, alternating: apply connections and/or "base" (e.g. 1,3,base)',
    )
    .option('--base-root <dir>', 'the pgcdc checkout the "base" variant runs (e.g. a worktree of main)')
    .option('--compare-reps <n>', 'repetitions of each --compare phase (medians are reported)', '3')
    .option('--no-compare-sink', 'with --compare: skip the sink throughput comparison')
    .option('--no-compare-swaps', 'with --compare: skip the unique-swap burst')
    .action(async (o: BenchCliOpts) => {
      const opts = parseBenchOptions(o);
      const bench = new Bench(opts, (m) => console.error(`bench: ${redactSecrets(m)}`));
      const res = await bench.run();
      console.log(redactSecrets(renderReport(res)));
      console.error(`bench: saved ${redactSecrets(bench.save())}`);
      const failed = res.pipelines.some((p) => p.rounds.length === 0);
      if (failed) process.exitCode = 1;
    });
}
