// The tables one producer session captures: each table's event contract and its route (topic and
// registry codec, read by the publisher per event), and how they evolve under
// `source.schemaChanges: automatic` (docs/contracts.md, Schema changes; the evolution itself is
// postgres/schema-changes.ts). Guarantees:
//   - evolutions run one at a time and only ever widen a table's contract (columns are only
//     appended), whichever of the stream's Relation messages and a snapshot's catalog look comes
//     first;
//   - the route switches to the evolved codec at once: it also writes every older shape of the
//     table's events (the added columns are nullable with default null);
//   - the assembler takes an evolved contract only at a Relation message that shows an added
//     column, i.e. where the WAL reaches the new shape (tuples before it do not have the column);
//   - a snapshot asks for the table's contract before each run (evolved from the catalog first, so
//     a column added by an ALTER no change has followed yet is read too) and hears of every later
//     evolution, so its rows carry the columns the table has now.
// Pinned mode: the contracts stay the configured ones; nothing here asks the catalog.
import type { Pgoutput } from 'pg-logical-replication';
import type { EventCodec } from '../schemas/codec.ts';
import type { TableContract } from '../schemas/contract.ts';
import type { TransactionAssembler } from './postgres/assembler.ts';
import {
  evolveFromCatalog,
  evolveOnRelation,
  type EvolvedTable,
  type SchemaChangeDeps,
} from './postgres/schema-changes.ts';
import type { TableRoute } from './publisher.ts';

const nameOf = (c: { schema: string; table: string }) => `${c.schema}.${c.table}`;

export class CapturedTables {
  /** `schema.table` -> topic and codec (the publisher's routes) */
  readonly routes = new Map<string, TableRoute>();
  private readonly contracts = new Map<string, TableContract>();
  private evolving: Promise<unknown> = Promise.resolve();
  private readonly listeners: ((contract: TableContract) => void)[] = [];

  constructor(
    private readonly automatic: boolean,
    private readonly changes: SchemaChangeDeps,
  ) {}

  /** The table's contract now (`schema.table`). */
  contract(table: string): TableContract | undefined {
    return this.contracts.get(table);
  }

  /** A table's route at the session's open; in automatic mode evolved from the catalog first. */
  async open(topic: string, contract: TableContract, codec: EventCodec): Promise<void> {
    this.contracts.set(nameOf(contract), contract);
    this.routes.set(nameOf(contract), { topic, codec });
    if (this.automatic) await this.fromCatalog(nameOf(contract));
  }

  /** Told of every evolution after it took effect (the snapshot feeds). */
  onEvolved(listener: (contract: TableContract) => void): void {
    this.listeners.push(listener);
  }

  /**
   * A Relation message, before the assembler reads it: new nullable columns evolve the table's
   * contract and codec; the assembler follows once the Relation shows a column it lacks.
   */
  async relation(rel: Pgoutput.MessageRelation, assembler: TransactionAssembler): Promise<void> {
    const table = nameOf({ schema: rel.schema, table: rel.name });
    if (!this.automatic || !this.contracts.has(table)) return;
    await this.serially(async () => {
      const route = this.routes.get(table)!;
      this.take(await evolveOnRelation(this.changes, rel, this.contracts.get(table)!, route.topic), route);
    });
    const contract = this.contracts.get(table)!;
    const assembled = assembler.contractOf(table);
    if (!assembled || assembled === contract) return;
    const known = new Set(assembled.columns.map((c) => c.name));
    if (rel.columns.some((c) => !known.has(c.name) && contract.columns.some((k) => k.name === c.name)))
      assembler.evolve(contract);
  }

  /** The table's contract for a snapshot run: in automatic mode evolved from the catalog first. */
  async forSnapshot(table: string): Promise<TableContract> {
    if (this.automatic) await this.fromCatalog(table);
    return this.contracts.get(table)!;
  }

  private fromCatalog(table: string): Promise<void> {
    return this.serially(async () => {
      const route = this.routes.get(table)!;
      this.take(await evolveFromCatalog(this.changes, this.contracts.get(table)!, route.topic), route);
    });
  }

  /** An evolution that widens the table's contract takes effect (contract, codec, listeners). */
  private take(e: EvolvedTable | undefined, route: TableRoute): void {
    if (!e) return;
    const table = nameOf(e.contract);
    if (e.contract.columns.length <= (this.contracts.get(table)?.columns.length ?? 0)) return;
    this.contracts.set(table, e.contract);
    this.routes.set(table, { topic: route.topic, codec: e.codec });
    for (const listener of this.listeners) listener(e.contract);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.evolving.then(fn);
    this.evolving = run.catch(() => undefined);
    return run;
  }
}
