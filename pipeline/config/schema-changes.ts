// source.schemaChanges: how a running pipeline treats a column added at the source
// (docs/contracts.md, "Schema changes"). Part of the source section (source.ts).
import { z } from 'zod';

export const SchemaChangesSchema = z
  .enum(['pinned', 'automatic'])
  .default('pinned')
  .describe(
    'pinned: the contract files decide what events carry; a column added at the source is not published (a warning) until the contract is evolved and the producer restarted. automatic: a new NULLABLE column is added to the contract as a BACKWARD-compatible schema version (registered, written as <table>-value.evolved.avsc in source.contracts), published from the next event on, and Postgres/MariaDB targets add it (ALTER TABLE ... ADD COLUMN) when they first see that version; incompatible changes stop as in pinned mode',
  );

export type SchemaChanges = z.output<typeof SchemaChangesSchema>;
