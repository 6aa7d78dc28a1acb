// `pgcdc contract diff`, the pure part: the source table (as a contract generated from it now), the
// contract files and the registry's latest version, column by column, and whether moving from one
// to the next is a BACKWARD-compatible change (the new schema reads every event written with the
// old one: Avro schema resolution, as the registry judges it). Also what `pgcdc check` reports.
import { avroType } from '../../schemas/avro.ts';
import { rowRecordOf, type AvroField, type AvroRecordSchema } from '../../schemas/contract.ts';

/** One side of a column: its PostgreSQL type (absent in a registry copy without it) and Avro type. */
export interface ColumnSide {
  pgType?: string;
  nullable: boolean;
  avro: string;
  /** an enum's labels (`pgEnum`) */
  labels?: string[];
}

export type ColumnState = 'same' | 'added' | 'removed' | 'changed';

export interface ColumnDiff {
  name: string;
  table?: ColumnSide;
  contract?: ColumnSide;
  registry?: ColumnSide;
  /** the table compared with the contract */
  state: ColumnState;
}

export interface Compatibility {
  /** BACKWARD compatible: the newer schema reads events written with the older one */
  backward: boolean;
  /** why not (Avro's resolution error), when not */
  reason?: string;
}

export interface ContractDiff {
  columns: ColumnDiff[];
  /** the table differs from the contract (a column added, removed or changed; the key differs) */
  tableMismatch: boolean;
  keyMismatch?: { table: string[]; contract: string[] };
  /** regenerating the contract from the table, judged against the contract */
  tableToContract: Compatibility;
  /** the latest registered version, undefined when the subject has none */
  registry?: {
    version: number;
    equal: boolean;
    /** registering the contract, judged against the latest registered version */
    contractToRegistry: Compatibility;
  };
}

/** A short name of an Avro type: `long(timestamp-micros)`, `bytes(decimal 12,2)`, `array<int>`. */
export function avroShort(type: unknown): string {
  if (Array.isArray(type)) return type.map(avroShort).join('|');
  if (typeof type === 'string') return type;
  if (typeof type !== 'object' || type === null) return String(type);
  const t = type as {
    type?: unknown;
    items?: unknown;
    logicalType?: string;
    precision?: number;
    scale?: number;
    name?: string;
  };
  if (t.type === 'array') return `array<${avroShort(t.items)}>`;
  if (t.logicalType === 'decimal') return `${String(t.type)}(decimal ${t.precision ?? 0},${t.scale ?? 0})`;
  if (t.logicalType) return `${String(t.type)}(${t.logicalType})`;
  if (t.type === 'record' || t.type === 'enum' || t.type === 'fixed') return `${t.type} ${t.name ?? ''}`;
  return avroShort(t.type);
}

function side(f: AvroField): ColumnSide {
  const nullable = Array.isArray(f.type) && (f.type as unknown[]).includes('null');
  const inner = nullable ? (f.type as unknown[]).find((t) => t !== 'null') : f.type;
  const s: ColumnSide = { nullable, avro: avroShort(inner) };
  if (f.pgType !== undefined) s.pgType = f.pgType;
  if (f.pgEnum !== undefined) s.labels = f.pgEnum;
  return s;
}

const sameSide = (a: ColumnSide, b: ColumnSide) =>
  a.nullable === b.nullable &&
  a.avro === b.avro &&
  (a.pgType === undefined || b.pgType === undefined || a.pgType === b.pgType) &&
  (a.labels === undefined || b.labels === undefined || a.labels.join('\u0000') === b.labels.join('\u0000'));

/** Is `newer` a BACKWARD-compatible successor of `older` (newer reads older's events)? */
export function backwardCompatible(newer: object, older: object): Compatibility {
  try {
    avroType(newer).createResolver(avroType(older));
    return { backward: true };
  } catch (err) {
    return { backward: false, reason: (err as Error).message };
  }
}

const fields = (value: AvroRecordSchema) => new Map(rowRecordOf(value).fields.map((f) => [f.name, f]));

/**
 * Compares the value schema generated from the table now (`fromTable`) with the contract's and
 * the registry's latest (if any), plus the key columns of table and contract.
 */
export function diffContract(input: {
  fromTable: { keySchema: AvroRecordSchema; valueSchema: AvroRecordSchema };
  contract: { keySchema: AvroRecordSchema; valueSchema: AvroRecordSchema };
  registry?: { version: number; schema: AvroRecordSchema };
}): ContractDiff {
  const t = fields(input.fromTable.valueSchema);
  const c = fields(input.contract.valueSchema);
  let r: Map<string, AvroField> | undefined;
  try {
    r = input.registry ? fields(input.registry.schema) : undefined;
  } catch {
    r = new Map();
  }
  const names = [...new Set([...c.keys(), ...t.keys(), ...(r?.keys() ?? [])])];
  const columns = names.map((name): ColumnDiff => {
    const tf = t.get(name);
    const cf = c.get(name);
    const rf = r?.get(name);
    const d: ColumnDiff = {
      name,
      state: !cf ? 'added' : !tf ? 'removed' : sameSide(side(tf), side(cf)) ? 'same' : 'changed',
    };
    if (tf) d.table = side(tf);
    if (cf) d.contract = side(cf);
    if (rf) d.registry = side(rf);
    return d;
  });
  const tableKey = input.fromTable.keySchema.fields.map((f) => f.name);
  const contractKey = input.contract.keySchema.fields.map((f) => f.name);
  const keyDiffers = tableKey.join(',') !== contractKey.join(',');
  const out: ContractDiff = {
    columns,
    tableMismatch: keyDiffers || columns.some((col) => col.state !== 'same'),
    tableToContract: backwardCompatible(input.fromTable.valueSchema, input.contract.valueSchema),
  };
  if (keyDiffers) out.keyMismatch = { table: tableKey, contract: contractKey };
  if (input.registry) {
    const canonical = (s: object) => JSON.stringify(avroType(s).schema());
    let equal = false;
    try {
      equal = canonical(input.registry.schema) === canonical(input.contract.valueSchema);
    } catch {
      equal = false;
    }
    out.registry = {
      version: input.registry.version,
      equal,
      contractToRegistry: backwardCompatible(input.contract.valueSchema, input.registry.schema),
    };
  }
  return out;
}

/** Nothing to do: the table matches the contract, and the contract is what is registered (or nothing is). */
export const diffIsClean = (d: ContractDiff) => !d.tableMismatch && (d.registry?.equal ?? true);

const describeSide = (s: ColumnSide | undefined) =>
  s
    ? `${s.pgType ? `${s.pgType} ` : ''}${s.labels ? `(${s.labels.length} labels) ` : ''}${s.nullable ? '' : 'NOT NULL '}-> ${s.avro}`
    : '-';

const MARK: Record<ColumnState, string> = { same: ' ', added: '+', removed: '-', changed: '~' };

/** The text report: one line per column (+ added at the table, - gone, ~ changed), then the verdicts. */
export function formatDiff(d: ContractDiff, names: { table: string; contract: string }): string {
  const header = ['', 'column', `table ${names.table}`, `contract ${names.contract}`];
  if (d.registry) header.push(`registry (version ${d.registry.version})`);
  const rows = d.columns.map((col) => {
    const r = [MARK[col.state], col.name, describeSide(col.table), describeSide(col.contract)];
    if (d.registry) r.push(describeSide(col.registry));
    return r;
  });
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line), ''];
  if (d.keyMismatch)
    out.push(
      `key differs: table (${d.keyMismatch.table.join(', ')}), contract (${d.keyMismatch.contract.join(', ')})`,
    );
  if (!d.tableMismatch) out.push('table and contract match');
  else
    out.push(
      d.tableToContract.backward
        ? 'table and contract differ; a contract regenerated from the table is BACKWARD compatible with it (pgcdc contract generate --force, review, then restart)'
        : `table and contract differ; a contract regenerated from the table is NOT BACKWARD compatible with it: ${d.tableToContract.reason ?? ''} (an incompatible change needs a new topic, or change the table back)`,
    );
  if (!d.registry)
    out.push('registry: nothing registered yet for this topic (the first run registers the contract)');
  else if (d.registry.equal) out.push(`registry: version ${d.registry.version} is the contract`);
  else
    out.push(
      d.registry.contractToRegistry.backward
        ? `registry: version ${d.registry.version} differs from the contract; registering the contract is BACKWARD compatible (the next run does it)`
        : `registry: version ${d.registry.version} differs from the contract and the contract is NOT BACKWARD compatible with it: ${d.registry.contractToRegistry.reason ?? ''} (the registry will refuse it)`,
    );
  return out.join('\n');
}
