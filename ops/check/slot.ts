// `pgcdc check` for the replication slot: present or creatable (a free place), pgoutput, in this
// database, WAL not lost, and in agreement with the position pgcdc stored for it (the producer's
// own start-up verdict, judgeSlot), so a slot dropped, re-created or advanced behind pgcdc's back is
// reported before a start.
import type pg from 'pg';
import { formatLsn, parseLsn } from '../../schemas/lsn.ts';
import { judgeSlot, positionTableExists, readPosition } from '../../producers/postgres/position.ts';
import { readSlots } from '../../producers/postgres/slots.ts';
import type { SourceConfig } from '../../pipeline/config/schema.ts';
import { formatBytes } from '../format.ts';
import { error, info, ok, warn, type CheckResult } from './types.ts';

/**
 * The producer's start-up verdict (judgeSlot) on the slot and the position pgcdc stored for it: a
 * slot that was dropped, re-created or advanced behind pgcdc's back is reported before a start.
 */
async function checkPosition(
  client: pg.Client,
  src: SourceConfig,
  slot: { confirmedFlushLsn: string | null; walStatus: string | null } | undefined,
): Promise<CheckResult[]> {
  if (!(await positionTableExists(client, src.position))) return [];
  const stored = await readPosition(client, src.position, src.slot);
  if (stored === undefined) return [];
  const verdict = judgeSlot({
    slot: src.slot,
    found: slot && {
      confirmedFlushLsn: parseLsn(slot.confirmedFlushLsn ?? '0/0'),
      walStatus: slot.walStatus,
    },
    stored,
    positionTable: src.position,
  });
  if (verdict.kind === 'refuse') {
    return [error('source.position', verdict.error.message, verdict.error.hint ?? 'see the message')];
  }
  return [ok('source.position', `the slot agrees with the position pgcdc stored (${formatLsn(stored)})`)];
}

export async function checkSlot(client: pg.Client, src: SourceConfig): Promise<CheckResult[]> {
  const db = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  const s = (await readSlots(client, src.slot)).slots[0];
  const position = await checkPosition(client, src, s);
  if (position.some((r) => r.level === 'ERROR')) return position;
  return [...(await checkSlotItself(client, src, db, s)), ...position];
}

async function checkSlotItself(
  client: pg.Client,
  src: SourceConfig,
  db: string,
  s: Awaited<ReturnType<typeof readSlots>>['slots'][number] | undefined,
): Promise<CheckResult[]> {
  if (!s) {
    const used = await client.query<{ used: number; max: number }>(
      "SELECT (SELECT count(*) FROM pg_replication_slots)::int AS used, current_setting('max_replication_slots')::int AS max",
    );
    const u = used.rows[0]!;
    if (u.used >= u.max) {
      return [
        error(
          'source.slot',
          `slot ${src.slot} does not exist and all ${u.max} replication slots are taken`,
          'drop a stale slot (pgcdc slots list / pgcdc slots drop NAME --yes) or raise max_replication_slots',
        ),
      ];
    }
    return [
      warn(
        'source.slot',
        `replication slot ${src.slot} does not exist; pgcdc produce will create it (pgoutput) and stream changes from then on`,
        'nothing to do; rows that exist before are brought over by a snapshot',
      ),
    ];
  }
  if (s.plugin !== 'pgoutput') {
    return [
      error(
        'source.slot',
        `replication slot ${src.slot} uses plugin ${s.plugin ?? s.slotType}, pgcdc needs pgoutput`,
        `pgcdc slots drop ${src.slot} --yes (if nothing else uses it), or choose another source.slot`,
      ),
    ];
  }
  if (s.database !== db) {
    return [
      error(
        'source.slot',
        `replication slot ${src.slot} belongs to database ${s.database}, not ${db}`,
        'choose another source.slot',
      ),
    ];
  }
  if (s.walStatus === 'lost') {
    return [
      error(
        'source.slot',
        `replication slot ${src.slot} has lost WAL it needed (wal_status = lost): changes were missed`,
        `pgcdc slots drop ${src.slot} --yes, then restart pgcdc produce and re-snapshot the targets`,
      ),
    ];
  }
  const retained = s.retainedBytes === null ? '?' : formatBytes(s.retainedBytes);
  const msg = `slot ${src.slot} (pgoutput) at ${s.confirmedFlushLsn ?? '?'}, ${retained} of WAL retained`;
  return [
    s.active
      ? info('source.slot', `${msg}; streamed right now by pid ${s.activePid} (a running producer)`)
      : ok('source.slot', msg),
  ];
}
