// Environment overrides of single configuration keys: PGCDC_<SECTION>__<KEY>[__<KEY>...] (levels
// joined by a double underscore, camelCase keys in UPPER_SNAKE; a list element by its index:
// PGCDC_TARGETS__0__BATCH_SIZE). The text of the variable is converted to the type the schema
// declares for that key: integers and decimals, booleans, lists (a JSON array or comma-separated)
// and maps (a JSON object); a value that does not convert is refused naming the variable and the
// key. Pure: the loader (load.ts) applies it to the parsed file before validation.
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { ConfigSchema } from './schema.ts';

/** The part of a JSON Schema node the conversion reads. */
interface Node {
  type?: string | string[];
  properties?: Record<string, Node>;
  items?: Node;
  additionalProperties?: Node | boolean;
  anyOf?: Node[];
  oneOf?: Node[];
  const?: unknown;
}

let inputSchema: Node | undefined;
/** The configuration's JSON Schema (input side), built once. */
function schema(): Node {
  inputSchema ??= z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Node;
  return inputSchema;
}

/** SLOT_WAL_WARN_RATIO -> slotWalWarnRatio. */
function camel(part: string): string {
  return part.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * The schema node of `key` inside a value described by `node`; `value` (the value itself) chooses
 * among alternatives (a target by its `type`).
 */
function child(node: Node | undefined, key: string, value: unknown): Node | undefined {
  if (!node) return undefined;
  const alts = node.anyOf ?? node.oneOf;
  if (alts) {
    const kind = (value as { type?: unknown } | undefined)?.type;
    const fitting =
      alts.find((a) => a.properties?.type?.const !== undefined && a.properties.type.const === kind) ??
      alts.find((a) => a.properties?.[key] !== undefined) ??
      alts.find((a) => a.items !== undefined);
    return child(fitting, key, value);
  }
  if (node.items && /^\d+$/.test(key)) return node.items;
  return (
    node.properties?.[key] ??
    (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined)
  );
}

function types(node: Node | undefined): string[] {
  if (!node) return [];
  const alts = node.anyOf ?? node.oneOf;
  if (alts) return alts.flatMap(types);
  return Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

type Converted = { ok: true; value: unknown } | { ok: false; expected: string };

/** The variable's text as the type `node` declares, or what was expected. */
export function convertEnvValue(text: string, node: Node | undefined): Converted {
  const t = types(node);
  if (t.length === 0 || t.includes('string')) return { ok: true, value: text };
  const v = text.trim();
  if (t.includes('integer') || t.includes('number')) {
    if (NUMBER.test(v)) {
      const n = Number(v);
      if (!t.includes('integer') || Number.isInteger(n) || t.includes('number'))
        return { ok: true, value: n };
    }
    if (!t.includes('boolean'))
      return { ok: false, expected: t.includes('integer') ? 'an integer' : 'a number' };
  }
  if (t.includes('boolean')) {
    if (/^(true|yes|on|1)$/i.test(v)) return { ok: true, value: true };
    if (/^(false|no|off|0)$/i.test(v)) return { ok: true, value: false };
    return { ok: false, expected: 'true or false' };
  }
  if (t.includes('array')) {
    if (v.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(v);
        if (Array.isArray(parsed)) return { ok: true, value: parsed };
      } catch {
        // reported below
      }
      return { ok: false, expected: 'a JSON array or a comma-separated list' };
    }
    const items = v === '' ? [] : v.split(',').map((s) => s.trim());
    const converted = items.map((s) => convertEnvValue(s, node?.items));
    const bad = converted.find((c) => !c.ok);
    if (bad && !bad.ok) return { ok: false, expected: `a list of ${bad.expected.replace(/^an? /, '')}s` };
    return { ok: true, value: converted.map((c) => (c.ok ? c.value : undefined)) };
  }
  if (t.includes('object')) {
    try {
      const parsed: unknown = JSON.parse(v);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return { ok: true, value: parsed };
    } catch {
      // reported below
    }
    return { ok: false, expected: 'a JSON object' };
  }
  return { ok: true, value: text };
}

/** Applies every PGCDC_A__B variable of `env` to `raw` (the file's content, modified in place). */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, text] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith('PGCDC_') || !name.includes('__') || text === undefined) continue;
    const parts = name.slice('PGCDC_'.length).split('__').map(camel);
    let node: Record<string, unknown> = raw;
    let type: Node | undefined = schema();
    for (const p of parts.slice(0, -1)) {
      type = child(type, p, node);
      if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
      node = node[p] as Record<string, unknown>;
    }
    const leaf = parts[parts.length - 1]!;
    const converted = convertEnvValue(text, child(type, leaf, node));
    if (!converted.ok)
      throw new ConfigError(
        // the value is not quoted: it could be a secret set in the wrong variable
        `environment variable ${name} (${parts.join('.')}) must be ${converted.expected}`,
        { hint: `fix or unset ${name}` },
      );
    node[leaf] = converted.value;
  }
}
