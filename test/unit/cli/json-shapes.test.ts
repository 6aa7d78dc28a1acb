// `--json` means the same everywhere: every read verb has it, and each verb's document has the
// shape docs/cli.md documents. The keys are pinned here, so a renamed or dropped field (which
// breaks operators' scripts) fails a test; a new field is added here and in docs/cli.md together.
import type { ReconcileReport } from '../../../ops/reconcile/index.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeadLetterEntry, RedriveResult } from '../../../consumers/redrive.ts';
import { streamJsonArray } from '../../../cli/output.ts';
import {
  checkJson,
  contractDiffJson,
  contractGenerateJson,
  dlqEntryJson,
  dlqFullEntryJson,
  dlqListHead,
  dlqListTail,
  redriveJson,
  replayJson,
  slotDropJson,
  slotsJson,
  snapshotJson,
  statusJson,
} from '../../../cli/shapes.ts';
import { buildProgram, verbsOf } from '../../../cli/verbs.ts';
import { PROJECT_ROOT } from '../../../dev/stack/settings.ts';
import { toJson } from '../../../ops/format.ts';
import type { PartitionPlan, ReplayPlan } from '../../../ops/replay.ts';
import type { PipelineStatus } from '../../../ops/status.ts';
import type { SlotRow } from '../../../producers/postgres/slots.ts';
import type { Checkpoint } from '../../../producers/snapshot/checkpoint.ts';

/** The verbs that run until stopped: they print logs, not a document. */
const LONG_RUNNING = ['produce', 'consume', 'run', 'peers run'];
/** The verbs that skip or delete data: --yes to do it, --dry-run to preview it. */
const DESTRUCTIVE = ['replay', 'slots drop'];

const keys = (o: object) => Object.keys(o);
const printed = (o: unknown) => JSON.parse(toJson(o)) as Record<string, unknown>;

const slot: SlotRow = {
  name: 'pgcdc_slot',
  plugin: 'pgoutput',
  slotType: 'logical',
  database: 'pgcdc',
  active: false,
  activePid: null,
  restartLsn: '0/10',
  confirmedFlushLsn: '0/20',
  walStatus: 'reserved',
  retainedBytes: 1024,
  flushLagBytes: 512,
};
const SLOT_KEYS = [...keys(slot), 'safeWalSizeBytes'];

const partition: PartitionPlan = {
  partition: 0,
  low: 0n,
  high: 100n,
  committed: 40n,
  current: 40n,
  next: 100n,
  replays: 0n,
  skips: 60n,
};
const plan: ReplayPlan = {
  target: 'peer',
  group: 'pgcdc.peer',
  topic: 'pgcdc.public.users',
  to: 'latest',
  groupState: 'Empty',
  members: [{ memberId: 'm-1', clientId: 'pgcdc', host: '/127.0.0.1' }],
  compacted: true,
  partitions: [partition],
  totalReplays: 0n,
  totalSkips: 60n,
};

const entry: DeadLetterEntry = {
  partition: 0,
  offset: 12n,
  message: {
    partition: 0,
    offset: 12n,
    key: null,
    value: null,
    timestampMs: 0,
    headers: { 'pgcdc-reason': 'apply' },
  },
  reason: 'apply',
  error: 'boom',
  attempts: 3,
  at: '2026-11-29T12:00:00.000Z',
  origin: { topic: 'pgcdc.public.users', partition: 1, offset: 7n },
  decoded: undefined,
  decodeError: 'unknown schema id',
  redriven: false,
};

const checkpoint: Checkpoint = {
  slot: 'pgcdc_slot',
  tableName: 'public.users',
  status: 'done',
  reason: 'requested',
  snapshotId: 's-1',
  maxKey: '["100"]',
  lastKey: '["100"]',
  pendingKeys: [],
  rowsDone: 100,
  rowsTotal: 100,
  events: 100,
  chunks: 1,
  resumes: 0,
  batchSize: 1000,
  filterFingerprint: null,
  lastBatch: undefined,
  requestedAt: new Date('2026-11-29T12:00:00Z'),
  startedAt: new Date('2026-11-29T12:00:01Z'),
  updatedAt: new Date('2026-11-29T12:00:03Z'),
  finishedAt: new Date('2026-11-29T12:00:03Z'),
};

/** Per verb: its document's top-level keys, exactly (docs/cli.md names each of them). */
const documents: Record<string, { doc: object; top: string[] }> = {
  status: {
    doc: statusJson(
      {
        generatedAt: 'now',
        topic: { name: 't', partitions: [] },
        topics: [],
        statusTopic: { name: 's' },
        producer: {} as PipelineStatus['producer'],
        targets: [],
      },
      { healthy: true, problems: [] },
    ),
    top: ['generatedAt', 'topic', 'topics', 'statusTopic', 'producer', 'targets', 'healthy', 'problems'],
  },
  check: {
    doc: checkJson([{ id: 'config', level: 'OK', message: 'fine' }]),
    top: ['ok', 'errors', 'warnings', 'results'],
  },
  'slots list': {
    doc: slotsJson({ currentWalLsn: '0/30', slots: [slot] }, 'pgcdc_slot'),
    top: ['currentWalLsn', 'configuredSlot', 'slots'],
  },
  'slots drop': {
    doc: slotDropJson({ dropped: false, slot, consequence: undefined }, true),
    top: ['dryRun', 'dropped', 'slot', 'consequence'],
  },
  replay: {
    doc: replayJson(plan, { dryRun: true }),
    top: [
      'dryRun',
      'moved',
      'target',
      'group',
      'topic',
      'to',
      'groupState',
      'members',
      'compacted',
      'partitions',
      'totalReplays',
      'totalSkips',
      'counted',
      'membersRemoved',
      'removals',
    ],
  },
  'dlq list': {
    doc: { ...dlqListHead('pgcdc.dlq.peer'), entries: [dlqEntryJson(entry)], ...dlqListTail(1) },
    top: ['dlqTopic', 'entries', 'count'],
  },
  'dlq show': {
    doc: { ...dlqListHead('pgcdc.dlq.peer'), entries: [dlqFullEntryJson(entry)], ...dlqListTail(1) },
    top: ['dlqTopic', 'entries', 'count'],
  },
  'dlq redrive': {
    doc: redriveJson('pgcdc.dlq.peer', {
      redriven: [entry],
      deadAgain: [{ entry, reason: 'apply', error: 'boom' }],
      skipped: [entry],
      pending: [],
      notReached: 0,
    } satisfies RedriveResult),
    top: ['dlqTopic', 'complete', 'counts', 'redriven', 'deadAgain', 'skipped', 'pending'],
  },
  snapshot: {
    doc: snapshotJson({
      outcome: 'done',
      table: 'public.users',
      slot: 'pgcdc_slot',
      producerPid: null,
      ranProducer: true,
      checkpoint: { ...checkpoint, filter: null, filterMatchesConfig: true },
    }),
    top: ['outcome', 'table', 'slot', 'producerPid', 'ranProducer', 'durationSeconds', 'checkpoint'],
  },
  reconcile: {
    doc: {
      target: 'peer',
      startedAt: '2026-11-29T12:00:00.000Z',
      seconds: 1,
      tables: [],
      drift: false,
      undecided: false,
    } satisfies ReconcileReport,
    top: ['target', 'startedAt', 'seconds', 'tables', 'drift', 'undecided'],
  },
  'contract diff': {
    doc: contractDiffJson(
      {
        columns: [{ name: 'id', state: 'same', table: { nullable: false, avro: 'long' } }],
        tableMismatch: false,
        tableToContract: { backward: true },
      },
      true,
    ),
    top: ['clean', 'columns', 'tableMismatch', 'keyMismatch', 'tableToContract', 'registry'],
  },
  'contract generate': {
    doc: contractGenerateJson({ files: ['a.avsc'], notes: [] }),
    top: ['files', 'notes'],
  },
};

describe('--json on every verb', () => {
  const verbs = verbsOf(buildProgram());
  const flags = (path: string) => verbs.find((v) => v.path === path)!.command.options.map((o) => o.long);

  it('finds the verbs', () => {
    expect(verbs.length).toBeGreaterThan(12);
  });

  it.each(verbs.filter((v) => !LONG_RUNNING.includes(v.path)).map((v) => [v.path]))(
    '%s has --json, and a pinned document shape',
    (path) => {
      expect(flags(path)).toContain('--json');
      expect(
        documents[path],
        `no pinned JSON shape for ${path}: add it to this test and docs/cli.md`,
      ).toBeDefined();
    },
  );

  it.each(DESTRUCTIVE.map((v) => [v]))('%s asks for --yes and previews with --dry-run', (path) => {
    expect(flags(path)).toEqual(expect.arrayContaining(['--yes', '--dry-run']));
  });
});

describe('JSON document shapes', () => {
  const docs = readFileSync(path.join(PROJECT_ROOT, 'docs/cli.md'), 'utf8');

  it.each(Object.entries(documents).map(([verb, d]) => [verb, d] as const))(
    '%s prints exactly its documented keys',
    (verb, d) => {
      expect(keys(printed(d.doc))).toEqual(d.top);
      const line = docs.split('\n').find((l) => l.startsWith(`| \`${verb}\` `));
      expect(line, `docs/cli.md has no JSON-shape row for ${verb}`).toBeDefined();
      for (const k of d.top)
        expect(line, `docs/cli.md row of ${verb} lacks ${k}`).toMatch(new RegExp(`\\b${k}\\b`));
    },
  );

  it('keeps every field present (null when there is nothing), 64-bit numbers as strings', () => {
    const r = printed(
      replayJson(plan, { dryRun: false, result: { membersRemoved: 1, removals: 2, attempts: 1 } }),
    );
    expect(r).toMatchObject({ moved: true, totalSkips: '60', counted: null, membersRemoved: 1 });
    expect(keys((r.partitions as object[])[0]!)).toEqual([
      'partition',
      'low',
      'high',
      'committed',
      'current',
      'next',
      'replays',
      'skips',
      'first',
      'firstError',
      'events',
      'tombstones',
    ]);
    expect(printed(slotsJson({ currentWalLsn: '0/30', slots: [slot] }, 'x')).slots).toEqual([
      expect.objectContaining({ safeWalSizeBytes: null }),
    ]);
    expect(
      keys((printed(slotsJson({ currentWalLsn: '0/30', slots: [slot] }, 'x')).slots as object[])[0]!),
    ).toEqual(SLOT_KEYS);
    expect(printed(checkJson([{ id: 'a', level: 'WARN', message: 'm' }]))).toEqual({
      ok: true,
      errors: 0,
      warnings: 1,
      results: [{ id: 'a', level: 'WARN', message: 'm', fix: null }],
    });
  });

  it('dead-letter entries: the list fields, and show adds headers and the event', () => {
    const listed = [
      'position',
      'partition',
      'offset',
      'at',
      'reason',
      'attempts',
      'error',
      'eventId',
      'op',
      'key',
      'origin',
      'redriven',
      'decodeError',
    ];
    expect(keys(printed(dlqEntryJson(entry)))).toEqual(listed);
    expect(keys(printed(dlqFullEntryJson(entry)))).toEqual([...listed, 'headers', 'event']);
    expect(printed(dlqEntryJson(entry))).toMatchObject({ position: '0:12', offset: '12', eventId: null });
  });

  it('redrive: complete only when every entry was redriven', () => {
    const r = redriveJson('d', { redriven: [entry], deadAgain: [], skipped: [], pending: [], notReached: 0 });
    expect(r.complete).toBe(true);
    expect(keys(r.counts)).toEqual(['redriven', 'deadAgain', 'skipped', 'pending', 'notReached']);
    expect(keys(r.deadAgain)).toEqual([]);
    const failed = redriveJson('d', {
      redriven: [],
      deadAgain: [{ entry, reason: 'apply', error: 'boom' }],
      skipped: [],
      pending: [],
      notReached: 2,
    });
    expect(failed.complete).toBe(false);
    expect(keys(failed.deadAgain[0]!)).toEqual(['position', 'eventId', 'reason', 'error']);
  });

  it('snapshot: the checkpoint with dates as ISO text, and its duration', () => {
    const s = printed(documents.snapshot!.doc);
    expect(s.durationSeconds).toBe(2);
    expect(s.checkpoint).toMatchObject({ finishedAt: '2026-11-29T12:00:03.000Z', lastBatch: null });
  });
});

describe('streamJsonArray', () => {
  it.each([0, 1, 3])('writes the same document as printing it whole (%i entries)', (n) => {
    let out = '';
    const items = Array.from({ length: n }, (_, i) => ({ i, big: BigInt(i), nested: { a: [1, 2] } }));
    const doc = streamJsonArray({ dlqTopic: 't' }, 'entries', (s) => (out += s));
    for (const it of items) doc.item(it);
    doc.end({ count: n });
    expect(out).toBe(`${toJson({ dlqTopic: 't', entries: items, count: n })}\n`);
  });
});
