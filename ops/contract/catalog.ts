// Reads a table's shape from pg_catalog for contract generation and diff (generate.ts, diff.ts):
// columns in order with format_type's spelling, NOT NULL, enum labels (also of arrays of enums),
// generated columns, the primary key and the replica identity. Read-only; one round trip each.
// Every value is selected as text or JSON text, so any client works (also one with raw-text parsers).
import type pg from 'pg';
import type { CatalogColumn, TableShape } from './generate.ts';

const COLUMNS_SQL = `
SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull::text AS "notNull",
       (a.attgenerated <> '')::text AS generated,
       (SELECT to_json(array_agg(e.enumlabel::text ORDER BY e.enumsortorder))::text FROM pg_enum e
         WHERE e.enumtypid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END) AS "enumLabels"
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

const TABLE_SQL = `
SELECT c.oid::text AS oid, c.relreplident::text AS "replicaIdentity",
       to_json(coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary), '{}'))::text AS "primaryKey",
       to_json(coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisreplident), '{}'))::text AS "identityIndex"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`;

/** The shape of `schema.table`, or undefined when there is no such table. */
export async function readTableShape(
  client: pg.ClientBase,
  schema: string,
  table: string,
): Promise<TableShape | undefined> {
  const t = await client.query<{
    oid: string;
    replicaIdentity: string;
    primaryKey: string;
    identityIndex: string;
  }>(TABLE_SQL, [schema, table]);
  const row = t.rows[0];
  if (!row) return undefined;
  const cols = await client.query<{
    name: string;
    type: string;
    notNull: string;
    generated: string;
    enumLabels: string | null;
  }>(COLUMNS_SQL, [row.oid]);
  const columns = cols.rows.map((c): CatalogColumn => {
    const col: CatalogColumn = { name: c.name, type: c.type, notNull: c.notNull === 'true' };
    if (c.enumLabels) col.enumLabels = JSON.parse(c.enumLabels) as string[];
    if (c.generated === 'true') col.generated = true;
    return col;
  });
  return {
    schema,
    table,
    columns,
    primaryKey: JSON.parse(row.primaryKey) as string[],
    replicaIdentity: row.replicaIdentity,
    identityIndex: JSON.parse(row.identityIndex) as string[],
  };
}
