// `pgcdc slots list|drop`: the replication slots of the source server, and dropping a stale one.
// A slot that nobody reads keeps WAL forever (until the disk fills), so dropping one is a normal
// repair; dropping an active slot is refused, and dropping needs an explicit --yes.
import { readSlots, type SlotRow } from '../producers/postgres/slots.ts';
import { formatLsn } from '../schemas/lsn.ts';
import { forgetPosition, type PositionTable } from '../producers/postgres/position.ts';
import { PgcdcError } from '../pipeline/errors.ts';
import { createPgConnections, type PgConnections } from '../pipeline/postgres.ts';

export async function listSlots(
  url: string,
  connections: PgConnections = createPgConnections(),
): Promise<{ currentWalLsn: string; slots: SlotRow[] }> {
  return connections.withClient(url, 'ops', 'pgcdc-slots', async (c) => {
    const r = await readSlots(c);
    return { currentWalLsn: formatLsn(r.currentLsn), slots: r.slots };
  });
}

export class SlotDropRefused extends PgcdcError {}

export interface DropOutcome {
  dropped: boolean;
  slot: SlotRow;
  /** what dropping means for the pipeline configured with this file */
  consequence: string | undefined;
}

export async function dropSlot(
  url: string,
  name: string,
  opts: { yes: boolean; configuredSlot: string; positionTable?: PositionTable; connections?: PgConnections },
): Promise<DropOutcome> {
  return (opts.connections ?? createPgConnections()).withClient(url, 'ops', 'pgcdc-slots', async (c) => {
    const slot = (await readSlots(c, name)).slots[0];
    if (!slot) {
      throw new SlotDropRefused(`no replication slot named ${name}`, { hint: 'pgcdc slots list shows them' });
    }
    if (slot.active) {
      throw new SlotDropRefused(
        `replication slot ${name} is active: streamed right now by pid ${slot.activePid}`,
        { hint: 'stop the process that streams it (pgcdc produce/run), then drop it' },
      );
    }
    const consequence =
      name === opts.configuredSlot
        ? `${name} is this configuration's slot: the next pgcdc produce creates a new one at the current WAL position, so changes committed in between are never captured; re-snapshot the targets afterwards (pgcdc snapshot --restart)`
        : undefined;
    if (!opts.yes) return { dropped: false, slot, consequence };
    try {
      await c.query('SELECT pg_drop_replication_slot($1)', [name]);
    } catch (err) {
      throw new SlotDropRefused(`dropping ${name} failed: ${(err as Error).message}`, {
        hint: 'a process may have started streaming it; check pgcdc slots list',
        cause: err,
      });
    }
    // Dropping the pipeline's own slot accepts the gap: forget the position pgcdc stored for it,
    // which would otherwise (rightly) stop the next producer from creating a new slot.
    if (name === opts.configuredSlot && opts.positionTable) await forgetPosition(c, opts.positionTable, name);
    return { dropped: true, slot, consequence };
  });
}
