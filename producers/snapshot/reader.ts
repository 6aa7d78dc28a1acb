// Reads one chunk of a snapshot: low watermark, the chunk SELECT, rows handed to the window, high
// watermark, all in one short READ COMMITTED transaction on the feed's reading connection.
//
// Dropped columns (README: Schema changes): the contract's nullable columns the table no longer
// has are read as NULL. The catalog is not asked on every chunk: once a read found every contract
// column, later chunks trust that until the SELECT fails with 42703 (undefined_column: one was
// dropped since); then the catalog is read again and the chunk read once more. While some column is
// missing the catalog is asked on every chunk, as before, so a column added back is read again at
// once. The warning names the missing columns, once per distinct set.
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { TableContract } from '../../schemas/contract.ts';
import { decodeSnapshotRow, type SnapshotRow } from './events.ts';
import {
  absentColumns,
  emitHighWatermark,
  emitWatermark,
  selectChunk,
  type ChunkSpec,
  type Queryable,
} from './source.ts';
import type { StageTimings } from './timings.ts';
import { formatWatermark } from './watermark.ts';
import type { SnapshotWindow } from './window.ts';

export interface ChunkReaderDeps {
  /** The feed's reading connection (session settings of the replication connection). */
  client: Queryable;
  contract: TableContract;
  window: SnapshotWindow;
  log: Logger;
  now: () => number;
  /** where the read's time goes (`query`, `decode`) */
  timings?: StageTimings;
}

export interface ChunkRows {
  scanRows: SnapshotRow[];
  pendingRows: SnapshotRow[];
}

const UNDEFINED_COLUMN = '42703';

/** Reads chunks; one instance per feed (it remembers the table's columns and its warnings). */
export class ChunkReader {
  /** Contract columns the table lacks, as last read from the catalog (undefined: read it). */
  private absent: ReadonlySet<string> | undefined;
  private warned = '';
  /** Catalog reads so far (for tests and diagnostics). */
  catalogReads = 0;

  constructor(private readonly d: ChunkReaderDeps) {}

  /** One chunk; read once more with fresh columns if a column vanished since the last look. */
  async read(snapshotId: string, id: string, spec: Omit<ChunkSpec, 'absent'>): Promise<ChunkRows> {
    const trusted = this.absent !== undefined && this.absent.size === 0;
    try {
      return await this.attempt(snapshotId, id, spec);
    } catch (err) {
      if (!trusted || (err as { code?: string }).code !== UNDEFINED_COLUMN) throw err;
      this.absent = undefined;
      return this.attempt(snapshotId, id, spec);
    }
  }

  private async columns(): Promise<ReadonlySet<string>> {
    if (this.absent !== undefined && this.absent.size === 0) return this.absent;
    this.catalogReads++;
    const absent = await absentColumns(this.d.client, this.d.contract);
    this.absent = absent;
    const names = [...absent].sort().join(',');
    if (absent.size > 0 && names !== this.warned) {
      this.d.log.warn(
        { droppedNullable: [...absent].sort() },
        'source table lacks nullable columns of the event contract: the snapshot reads them as null',
      );
    }
    this.warned = names;
    return absent;
  }

  /** Low watermark, SELECT, rows to the window, high watermark; one short transaction. */
  private async attempt(snapshotId: string, id: string, spec: Omit<ChunkSpec, 'absent'>): Promise<ChunkRows> {
    const { client, contract, window, timings } = this.d;
    const t0 = timings?.now() ?? 0;
    let decodeMs = 0;
    window.arm(snapshotId, id);
    try {
      await client.query('BEGIN');
      await emitWatermark(client, formatWatermark({ snapshotId, chunk: id, edge: 'low' }));
      const absent = await this.columns();
      const read = await selectChunk(client, { ...spec, absent });
      const t1 = timings?.now() ?? 0;
      const scanRows = read.scan.map((r) => decodeSnapshotRow(contract, r));
      const pendingRows = read.pending.map((r) => decodeSnapshotRow(contract, r));
      decodeMs = (timings?.now() ?? 0) - t1;
      window.fill({
        snapshotId,
        chunk: id,
        rows: [...pendingRows, ...scanRows],
        snapshot: read.snapshot,
        readAtUs: BigInt(this.d.now()) * 1000n,
      });
      await emitHighWatermark(client, formatWatermark({ snapshotId, chunk: id, edge: 'high' }));
      await client.query('COMMIT');
      return { scanRows, pendingRows };
    } catch (err) {
      window.disarm();
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      if (timings) {
        timings.add('decode', decodeMs);
        timings.add('query', timings.now() - t0 - decodeMs);
      }
    }
  }
}
