// The benchmark result as markdown: the issues' goals first (goals.ts), then throughput (medians
// over rounds) side by side with the peer pipeline and the raw baselines, end-to-end latency per
// load level with its lag trend, CPU, memory and start-up, the unique-swap burst. Pure.
import { evaluateGoals, renderGoals } from './goals.ts';
import { renderShaping } from './shaping-phase.ts';
import { renderCompare } from './sink-phases.ts';
import { renderTables } from './tables-phase.ts';
import { renderReconcile } from './reconcile-phase.ts';
import type { BenchResult, LatencyResult, Measured, PipelineResult } from './result.ts';
import { fmt, markdownTable, median, ratio } from './stats.ts';

const med = (
  p: PipelineResult | undefined,
  pick: (r: PipelineResult['rounds'][number]) => number | undefined,
) => (p ? median(p.rounds.map(pick).filter((x): x is number => x !== undefined)) : undefined);

const rate = (m: Measured | undefined) => m?.rate;

function baselineRate(xs: { rate: number }[] | undefined): number | undefined {
  return xs ? median(xs.map((x) => x.rate)) : undefined;
}

export function summary(res: BenchResult) {
  const ours = res.pipelines.find((p) => p.name === 'pgcdc');
  const peer = res.pipelines.find((p) => p.name !== 'pgcdc');
  return {
    ours,
    peer,
    source: [med(ours, (r) => rate(r.source)), med(peer, (r) => rate(r.source))] as const,
    sink: [med(ours, (r) => rate(r.sink)), med(peer, (r) => rate(r.sink))] as const,
    webhook: med(ours, (r) => rate(r.webhook)),
    recvlogical: baselineRate(res.baselines.recvlogical),
    kafka: res.baselines.kafkaProducerPerf?.rate,
    upsert: baselineRate(res.baselines.rawUpsert),
    http: baselineRate(res.baselines.rawHttp),
  };
}

function latencyRows(p: PipelineResult): LatencyResult[] {
  return p.rounds.flatMap((r) => r.latency ?? []);
}

type Summary = ReturnType<typeof summary>;

/** Title, time span, machine, load average, workload and the pipelines compared. */
function renderHeader(res: BenchResult): string[] {
  const out: string[] = [];
  const o = res.options;
  const w = o.workload;
  out.push(`# pgcdc benchmark${res.label ? `: ${res.label}` : ''}`);
  out.push('');
  out.push(
    `${res.startedAt} .. ${res.finishedAt || '(running)'}; machine: ${res.machine.cpus} cores (${res.machine.cpuModel}), ${res.machine.memGiB} GiB, ${res.machine.node}, ${res.machine.java}; ` +
      `load average (1/5/15 min) at start ${res.load.start.join(' ')}, at end ${res.load.end.join(' ')}.`,
  );
  out.push('');
  out.push(
    `Workload (seed ${w.seed}): ${w.mix.insert}/${w.mix.update}/${w.mix.delete} insert/update/delete, ${w.txnSize} changes per transaction, ` +
      `${Math.round(w.largeBioRatio * 100)} % of inserted rows with a ${w.largeBioBytes}-byte random (TOASTed) bio; updates leave the bio unchanged; ` +
      `${o.writers} writer connections. Throughput rounds: ${o.events} changes each, median of ${o.rounds} round(s)` +
      (res.workloadRowBytes ? `; mean Kafka record (key + Avro value) ${res.workloadRowBytes} bytes.` : '.'),
  );
  out.push('');
  for (const p of res.pipelines) out.push(`- **${p.name}**: ${p.description}`);
  out.push('');
  return out;
}

/** Throughput: source, sink, webhook and snapshot rates beside the peer pipeline and the baselines. */
function renderThroughput(s: Summary): string[] {
  const { ours, peer } = s;
  const pn = peer?.name ?? 'peer';
  const out: string[] = [];
  out.push('## Throughput (events/s; median of rounds)');
  out.push('');
  const cols = [
    'figure',
    'pgcdc',
    ...(peer ? [pn, `pgcdc / ${pn}`] : []),
    'raw baseline',
    'pgcdc / baseline',
  ];
  const row = (
    label: string,
    a: number | undefined,
    b: number | undefined,
    base: number | undefined,
    baseLabel: string,
  ) => [
    label,
    fmt(a),
    ...(peer ? [fmt(b), ratio(a, b)] : []),
    base === undefined ? '' : `${fmt(base)} (${baseLabel})`,
    base === undefined ? '' : ratio(a, base),
  ];
  const rows: string[][] = [
    row('source: commit -> Kafka ack', s.source[0], s.source[1], s.recvlogical, 'pg_recvlogical'),
    ...(s.kafka !== undefined
      ? [
          [
            '  same, vs raw Kafka produce',
            fmt(s.source[0]),
            ...(peer ? [fmt(s.source[1]), ''] : []),
            `${fmt(s.kafka)} (ProducerPerformance records/s)`,
            ratio(s.source[0], s.kafka),
          ],
        ]
      : []),
    row('sink: Kafka -> peer Postgres', s.sink[0], s.sink[1], s.upsert, 'multi-row upsert rows/s'),
    row('webhook deliveries/s (batchSize 1)', s.webhook, undefined, s.http, 'raw undici POSTs/s'),
  ];
  const snapA = ours?.snapshot;
  const snapB = peer?.snapshot;
  if (snapA || snapB) {
    const n = snapA?.rows ?? snapB?.rows ?? 0;
    rows.push(
      row(
        `snapshot ${fmt(n, 0)} rows -> Kafka (rows/s)`,
        snapA?.kafka.rate,
        snapB?.kafka.rate,
        s.kafka,
        'ProducerPerformance records/s',
      ),
    );
    rows.push(
      row(`snapshot ${fmt(n, 0)} rows -> peer (rows/s)`, snapA?.peer.rate, snapB?.peer.rate, undefined, ''),
    );
  }
  if (peer) for (const r of rows) if (r[0]?.startsWith('webhook')) r[2] = 'n/a (no webhook sink)';
  out.push(markdownTable(cols, rows));
  out.push('');
  return out;
}

/** End-to-end latency per load level and pipeline, and the p99 ratio to the peer pipeline. */
function renderLatency(res: BenchResult, s: Summary): string[] {
  const { ours, peer } = s;
  const pn = peer?.name ?? 'peer';
  const out: string[] = [];
  out.push('## End-to-end latency, source commit -> applied at the peer (ms, per row)');
  out.push('');
  const lrows: string[][] = [];
  for (const p of res.pipelines) {
    for (const l of latencyRows(p)) {
      lrows.push([
        l.label,
        p.name,
        fmt(l.writtenRate),
        fmt(l.p50, 1),
        fmt(l.p95, 1),
        fmt(l.p99, 1),
        fmt(l.max, 1),
        String(l.rows),
        l.publishP50 !== undefined ? `<= ${fmt(l.publishP50, 0)} / <= ${fmt(l.publishP99, 0)}` : '',
        l.applyP50 !== undefined ? `<= ${fmt(l.applyP50, 0)} / <= ${fmt(l.applyP99, 0)}` : '',
        l.events > 0 ? fmt((l.cpuSeconds / l.events) * 100_000, 1) : 'n/a',
        l.trend
          ? `${l.trend.thirdsP50.map((x) => fmt(x, 0)).join(' / ')} (${fmt(l.trend.growthMsPerS, 1)} ms/s)`
          : '',
      ]);
    }
  }
  lrows.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  out.push(
    markdownTable(
      [
        'load',
        'pipeline',
        'written/s',
        'p50',
        'p95',
        'p99',
        'max',
        'rows',
        'commit -> Kafka ack p50 / p99',
        'peer txn p50 / p99',
        'CPU s / 100k',
        'p50 by third (lag growth)',
      ],
      lrows,
    ),
  );
  if (peer) {
    const at = (p: PipelineResult, label: string) => latencyRows(p).find((l) => l.label === label)?.p99;
    const labels = [...new Set(latencyRows(ours ?? peer).map((l) => l.label))];
    const parts = labels.map((l) => `${l}: ${ratio(ours ? at(ours, l) : undefined, at(peer, l))}`);
    out.push('');
    out.push(`p99 pgcdc / ${pn}: ${parts.join(', ')}`);
  }
  out.push('');
  return out;
}

/** CPU per 100k events and peak RSS per pipeline. */
function renderResources(res: BenchResult): string[] {
  const out: string[] = [];
  out.push('## Resources');
  out.push('');
  const rrows = res.pipelines.map((p) => [
    p.name,
    fmt(
      med(p, (r) => r.source.cpuPer100k),
      1,
    ),
    fmt(
      med(p, (r) => r.sink.cpuPer100k),
      1,
    ),
    Object.entries(p.peakRssMb)
      .map(([k, v]) => `${k} ${v} MiB`)
      .join(', '),
    fmt(
      med(p, (r) => r.startup?.sourceMs),
      0,
    ),
    fmt(
      med(p, (r) => r.startup?.sinkMs),
      0,
    ),
  ]);
  out.push(
    markdownTable(
      [
        'pipeline',
        'source CPU s / 100k events',
        'sink CPU s / 100k events',
        'peak RSS',
        'start -> first message in Kafka, ms',
        'start -> first row applied, ms',
      ],
      rrows,
    ),
  );
  out.push('');
  out.push(
    'Start-up: process start (ours; Debezium: connector created in its running worker) to the first message in Kafka ' +
      "with the round's changes waiting in the slot, and to the first row applied at the peer with the topic full; medians of rounds.",
  );
  const sw = res.swaps;
  if (sw) {
    out.push('');
    out.push(
      `Unique-swap burst (${sw.events} events, ours): peer equal ${sw.seconds.map((x) => x.toFixed(2)).join(', ')} s after the last source commit ` +
        `(median ${fmt(sw.median, 2)} s; Kafka held the burst after ${sw.kafkaSeconds.map((x) => x.toFixed(2)).join(', ')} s); ` +
        `producer and consumer started together with rows waiting: first row applied ${fmt(sw.pipelineStartupMs, 0)} ms after process start` +
        (sw.errors.length > 0 ? `; errors: ${sw.errors.map((e) => e.split('\n')[0]).join('; ')}` : '') +
        `; the phase took ${fmt(sw.phaseSeconds, 1)} s.`,
    );
  }
  out.push('');
  return out;
}

/** Every round's figures, the raw baselines and the errors met. */
function renderRounds(res: BenchResult): string[] {
  const out: string[] = [];
  out.push('## Rounds');
  out.push('');
  const rr: string[][] = [];
  for (const p of res.pipelines)
    for (const r of p.rounds)
      rr.push([
        p.name,
        String(r.round),
        fmt(r.write.rate),
        fmt(r.source.rate),
        fmt(r.source.cpuSeconds),
        fmt(r.sink.rate),
        fmt(r.sink.cpuSeconds),
        r.load.join(' '),
      ]);
  out.push(
    markdownTable(
      [
        'pipeline',
        'round',
        'written/s',
        'source ev/s',
        'source CPU s',
        'sink ev/s',
        'sink CPU s',
        'load after',
      ],
      rr,
    ),
  );
  const b = res.baselines;
  out.push('');
  out.push(
    `Baselines: pg_recvlogical ${b.recvlogical?.map((x) => fmt(x.rate)).join(', ') ?? 'n/a'} events/s; ` +
      `ProducerPerformance ${b.kafkaProducerPerf ? `${fmt(b.kafkaProducerPerf.rate)} records/s of ${b.kafkaProducerPerf.recordSize} B (${b.kafkaProducerPerf.note ?? ''})` : 'n/a'}; ` +
      `multi-row upsert ${b.rawUpsert?.map((x) => `${fmt(x.rate)} rows/s (${x.note ?? ''})`).join(', ') ?? 'n/a'}; ` +
      `raw HTTP ${b.rawHttp?.map((x) => `${fmt(x.rate)} POSTs/s (${x.note ?? ''})`).join(', ') ?? 'n/a'}.`,
  );
  const my = res.mysql;
  if (my?.sink || my?.raw) {
    const ratio =
      my.sink?.rate && my.raw?.rate ? ` (${(my.sink.rate / my.raw.rate).toFixed(2)}x the raw baseline)` : '';
    out.push('');
    out.push(
      `MariaDB: our mysql sink ${fmt(my.sink?.rate)} events/s, ${my.sink?.cpuSeconds ?? 'n/a'} CPU s${ratio}; ` +
        `raw multi-row INSERT ... ON DUPLICATE KEY UPDATE ${my.raw ? `${fmt(my.raw.rate)} rows/s (${my.raw.note})` : 'n/a'}.`,
    );
  }
  out.push(...renderMysqlExtras(my));
  const errors = [...b.errors, ...res.pipelines.flatMap((p) => p.errors.map((e) => `${p.name}: ${e}`))];
  if (errors.length > 0) {
    out.push('');
    out.push('Errors:');
    for (const e of errors) out.push(`- ${e.split('\n').slice(0, 4).join(' ')}`);
  }
  out.push('');
  return out;
}

export function renderReport(res: BenchResult): string {
  const s = summary(res);
  return [
    ...renderHeader(res),
    ...renderGoals(
      evaluateGoals(res),
      `load average (1 min) ${res.load.start[0]} at the start, ${res.finishedAt ? res.load.end[0] : '(running)'} at the end, ${res.machine.cpus} cores`,
    ),
    ...renderThroughput(s),
    ...renderTables(res),
    ...renderReconcile(res.reconcile),
    ...renderLatency(res, s),
    ...renderResources(res),
    ...renderCompare(res.compare),
    ...renderShaping(res),
    ...renderRounds(res),
  ].join('\n');
}

/** The MariaDB phase's before/after, Debezium comparison and latency lines (mysql-phase.ts). */
function renderMysqlExtras(my: BenchResult['mysql']): string[] {
  const out: string[] = [];
  const x = (a: number | undefined, b: number | undefined) => (a && b ? ` (${(a / b).toFixed(2)}x)` : '');
  const cpu = (m: { cpuSeconds?: number | undefined; mariadbCpuSeconds?: number | undefined }) =>
    `${m.cpuSeconds ?? 'n/a'} CPU s + MariaDB ${m.mariadbCpuSeconds ?? 'n/a'} CPU s`;
  if (my?.sink?.mariadbCpuSeconds !== undefined || my?.raw?.mariadbCpuSeconds !== undefined)
    out.push(
      '',
      `MariaDB CPU: our sink ${my.sink ? cpu(my.sink) : 'n/a'}; raw baseline MariaDB ${my.raw?.mariadbCpuSeconds ?? 'n/a'} CPU s.`,
    );
  if (my?.before)
    out.push(
      '',
      `MariaDB before/after (medians of ${my.before.runs.length} alternated runs each): before ${fmt(my.before.rate)} events/s (${my.before.runs.map((m) => fmt(m.rate)).join(', ')}), ${cpu(my.before)}, from ${my.before.tree}; ` +
        `after ${fmt(my.sink?.rate)} events/s (${(my.sinkRuns ?? []).map((m) => fmt(m.rate)).join(', ')}), ${my.sink ? cpu(my.sink) : 'n/a'}${x(my.sink?.rate, my.before.rate)}.`,
    );
  if (my?.debezium)
    out.push(
      '',
      `MariaDB vs Debezium JDBC sink: ${fmt(my.debezium.rate)} events/s, ${cpu(my.debezium)} (${my.debezium.note}); ours${x(my.sink?.rate, my.debezium.rate)} its rate.`,
    );
  if (my?.latency)
    out.push(
      '',
      `MariaDB end-to-end latency at ${my.latency.rate}/s (written ${fmt(my.latency.writtenRate)}/s): p50 ${my.latency.p50?.toFixed(1) ?? 'n/a'} ms, p95 ${my.latency.p95?.toFixed(1) ?? 'n/a'} ms, p99 ${my.latency.p99?.toFixed(1) ?? 'n/a'} ms, max ${my.latency.max?.toFixed(1) ?? 'n/a'} ms (${my.latency.rows} rows).`,
    );
  return out;
}
