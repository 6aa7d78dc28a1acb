// Installations that differ (docs/peers.md, "Several tables and differing columns"): a mesh names
// each column once, as the mesh's contracts (source.contracts) spell it; a node whose table calls
// some of them otherwise says so in `peers.nodes[].rename` (per table: mesh column -> its column)
// and describes its table with its own contracts (`peers.nodes[].contracts`), which its producer
// publishes. The link from x to y is then an ordinary target mapping (consumers/mapping, the
// per-target shaping every target has): every column of x's table, renamed from x's names to y's.
// Pure: configuration in, mappings and problems out.
import type { Config } from './config/schema.ts';
import { contractOf, resolveCaptured, sourceTablesOf, tableName, type TableRef } from './config/schema.ts';
import { MappingSchema, type MappingConfig } from './config/mapping.ts';
import type { PeerNode } from './config/peers.ts';

/** The node's rename of one table (mesh column -> its column); empty: the mesh's names. */
export function nodeRename(config: Config, node: PeerNode, table: TableRef): Record<string, string> {
  const captured = sourceTablesOf(config.source);
  for (const [name, rename] of Object.entries(node.rename)) {
    const ref = resolveCaptured(captured, name, config.source.schema);
    if (ref && ref.schema === table.schema && ref.table === table.table) return rename;
  }
  return {};
}

/** The column names of `table` at x translated to y's (only those that differ). */
export function linkRename(
  config: Config,
  from: PeerNode,
  to: PeerNode,
  table: TableRef,
): Record<string, string> {
  const mesh = contractOf(config.source, table);
  const rx = nodeRename(config, from, table);
  const ry = nodeRename(config, to, table);
  const out: Record<string, string> = {};
  for (const c of mesh.columns) {
    const x = rx[c.name] ?? c.name;
    const y = ry[c.name] ?? c.name;
    if (x !== y) out[x] = y;
  }
  return out;
}

/**
 * The link's mapping per table whose names differ between the two nodes (none: the exact copy).
 * Every column goes (a peer is a whole copy; a column the contract marks sensitive too).
 */
export function linkMappings(
  config: Config,
  fromContracts: Config['source'],
  from: PeerNode,
  to: PeerNode,
): MappingConfig[] {
  return sourceTablesOf(config.source).flatMap((t) => {
    const rename = linkRename(config, from, to, t);
    if (Object.keys(rename).length === 0) return [];
    const include = contractOf(fromContracts, t).columns.map((c) => c.name);
    return [MappingSchema.parse({ table: tableName(t), include, rename })];
  });
}

/**
 * What keeps a node's contracts from being the mesh's under its renames: a renamed column that is
 * not a mesh column, a rename of a table the mesh does not capture, a renaming node without its own
 * contracts, and, table by table, a column missing, extra, or of another type, or another key.
 */
export function nodeContractProblems(config: Config, node: PeerNode): string[] {
  const problems: string[] = [];
  const captured = sourceTablesOf(config.source);
  const at = `peers.nodes.${node.name}`;
  for (const name of Object.keys(node.rename))
    if (!resolveCaptured(captured, name, config.source.schema))
      problems.push(`${at}.rename.${name}: not a table of the mesh (${captured.map(tableName).join(', ')})`);
  const renames = captured.some((t) => Object.keys(nodeRename(config, node, t)).length > 0);
  if (renames && node.contracts === undefined)
    problems.push(
      `${at}: renames columns but has no contracts of its own (peers.nodes[].contracts: its tables' .avsc files under its column names)`,
    );
  if (node.contracts === undefined) return problems;
  const own = { ...config.source, contracts: node.contracts };
  for (const t of captured) {
    const mesh = contractOf(config.source, t);
    let mine;
    try {
      mine = contractOf(own, t);
    } catch (err) {
      problems.push(`${at}.contracts: ${tableName(t)}: ${(err as Error).message}`);
      continue;
    }
    const rename = nodeRename(config, node, t);
    for (const c of Object.keys(rename))
      if (!mesh.columns.some((m) => m.name === c))
        problems.push(`${at}.rename.${tableName(t)}.${c}: not a column of the mesh's contract`);
    const expected = mesh.columns.map((c) => ({ ...c, name: rename[c.name] ?? c.name }));
    for (const e of expected) {
      const got = mine.columns.find((c) => c.name === e.name);
      if (!got) problems.push(`${at}: ${tableName(t)} lacks column ${e.name} in its contract`);
      else if (got.sqlType !== e.sqlType || got.nullable !== e.nullable)
        problems.push(
          `${at}: ${tableName(t)}.${e.name} is ${got.sqlType}${got.nullable ? '' : ' NOT NULL'} in its contract, ${e.sqlType}${e.nullable ? '' : ' NOT NULL'} in the mesh's`,
        );
    }
    for (const c of mine.columns)
      if (!expected.some((e) => e.name === c.name))
        problems.push(`${at}: ${tableName(t)} has column ${c.name} in its contract, which the mesh does not`);
    const keys = mesh.keyColumns.map((k) => rename[k] ?? k);
    if (keys.join(',') !== mine.keyColumns.join(','))
      problems.push(
        `${at}: ${tableName(t)} key (${mine.keyColumns.join(', ')}) is not the mesh's (${keys.join(', ')})`,
      );
  }
  return problems;
}
