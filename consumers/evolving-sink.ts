// A database target's table sink in `source.schemaChanges: automatic` mode (docs/contracts.md,
// "Schema changes"). The consumer's codec (schemas/evolving-codec.ts) decodes with the newest
// additive evolution of the contract it has seen; before this sink applies a batch decoded so, it
// adds the new columns at the target (`addColumns`: ALTER TABLE ... ADD COLUMN, idempotent), then
// rebuilds the table's sink on the evolved contract and applies the batch with it. Nothing is
// skipped or reordered: the batch that brought the new version is applied after the DDL, by the
// same consumer, without a restart. Events decoded earlier with the older contract (in the same
// batch, before the codec saw the new version) carry no value for the new columns: they are given
// null, as the evolved reader gives every event written before the column existed. A failure of
// the DDL fails the apply (retried by the consumer, as any target trouble), and the old sink stays.
import type { Logger } from '../pipeline/observability/logger.ts';
import type { ColumnSpec, Row, TableContract } from '../schemas/contract.ts';
import type { ApplyContext, ApplyResult, DecodedEvent, Sink } from './sink.ts';

export interface EvolvingSinkDeps {
  /** the contract the sink starts with (the configured one) */
  contract: TableContract;
  /** the contract events are decoded with now (the codec's) */
  current: () => TableContract;
  /** the table's sink for a contract (unopened) */
  build: (contract: TableContract) => Sink;
  /** adds the columns at the target table (idempotent: IF NOT EXISTS) */
  addColumns: (columns: ColumnSpec[]) => Promise<void>;
  logger: Logger;
}

/** The columns `next` has and `prev` lacks. Pure. */
export function newColumns(prev: TableContract, next: TableContract): ColumnSpec[] {
  const known = new Set(prev.columns.map((c) => c.name));
  return next.columns.filter((c) => !known.has(c.name));
}

/** Rows given null for the columns they lack (decoded with an older contract). Pure. */
export function withNulls(events: DecodedEvent[], columns: ColumnSpec[]): DecodedEvent[] {
  if (columns.length === 0) return events;
  const fill = (row: Row | null): Row | null => {
    if (!row || columns.every((c) => c.name in row)) return row;
    const out = { ...row };
    for (const c of columns) if (!(c.name in out)) out[c.name] = null;
    return out;
  };
  return events.map((e) => {
    const after = fill(e.event.after);
    const before = fill(e.event.before);
    return after === e.event.after && before === e.event.before
      ? e
      : { ...e, event: { ...e.event, after, before } };
  });
}

export function evolvingSink(deps: EvolvingSinkDeps): Sink {
  let contract = deps.contract;
  /** the columns added since the start: rows decoded before lack them */
  let added: ColumnSpec[] = [];
  let inner = deps.build(contract);
  let opened = false;

  /** Evolves to the codec's contract when it has columns the sink lacks; the old sink stays on failure. */
  const evolve = async () => {
    const next = deps.current();
    if (next === contract) return;
    const columns = newColumns(contract, next);
    if (columns.length === 0) {
      contract = next;
      return;
    }
    await deps.addColumns(columns);
    const sink = deps.build(next);
    await sink.open();
    await inner.close().catch(() => undefined);
    inner = sink;
    contract = next;
    added = [...added, ...columns];
    deps.logger.info(
      { columns: columns.map((c) => `${c.name} ${c.sqlType}`) },
      'automatic schema change: columns added at the target table; applying the events of the new schema version',
    );
  };

  return {
    get kind() {
      return inner.kind;
    },
    async open() {
      await inner.open();
      opened = true;
    },
    async apply(events: DecodedEvent[], ctx?: ApplyContext): Promise<ApplyResult> {
      if (opened) await evolve();
      return inner.apply(withNulls(events, added), ctx);
    },
    async close() {
      opened = false;
      await inner.close();
    },
  };
}
