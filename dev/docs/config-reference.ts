// The configuration reference, generated from the one declaration of the configuration (the zod
// schema in pipeline/config/): a JSON Schema for editors (deploy/pgcdc.schema.json) and the
// markdown page docs/configuration.md, every key with its type, default and description. Pure:
// `npm run docs` (dev/cli/commands/docs.ts) writes the files, a unit test fails when they are out
// of date. Other changes add keys; regenerating is that one command.
import { z } from 'zod';
import { ConfigSchema } from '../../pipeline/config/schema.ts';

/** Where the generated files live, relative to the repository root. */
export const REFERENCE_FILES = {
  markdown: 'docs/configuration.md',
  jsonSchema: 'deploy/pgcdc.schema.json',
} as const;

/** A JSON Schema node, as far as the reference reads it. */
interface Node {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  additionalProperties?: Node | boolean;
  anyOf?: Node[];
  oneOf?: Node[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
}

/** The JSON Schema of the configuration file as written (input side: defaults are optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    $schema: schema.$schema,
    $id: 'https://github.com/pgcdc/pgcdc/deploy/pgcdc.schema.json',
    title: 'pgcdc configuration',
    description:
      'The pgcdc configuration file (YAML or JSON). Generated from pipeline/config/*.ts by `npm run docs`; do not edit.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}

/** One row of the reference: a leaf key (or an object/array without documented children). */
export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  required: boolean;
  description: string;
  env: string | undefined;
  /** The variant of a list of alternatives (the target `type`), when the key belongs to one. */
  variant?: string;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function range(n: Node): string {
  const lo =
    n.exclusiveMinimum !== undefined
      ? `> ${n.exclusiveMinimum}`
      : n.minimum !== undefined
        ? `>= ${n.minimum}`
        : '';
  const hi =
    n.exclusiveMaximum !== undefined
      ? `< ${n.exclusiveMaximum}`
      : n.maximum !== undefined && n.maximum < MAX_SAFE
        ? `<= ${n.maximum}`
        : '';
  return [lo, hi].filter(Boolean).join(', ');
}

/** A short human type: `integer > 0`, `"initial" or "never"`, `array of string`, `map of string`. */
export function typeOf(n: Node): string {
  if (n.const !== undefined) return JSON.stringify(n.const);
  if (n.enum) return n.enum.map((v) => JSON.stringify(v)).join(' | ');
  const alts = n.anyOf ?? n.oneOf;
  if (alts) return alts.map(typeOf).join(' | ');
  const t = Array.isArray(n.type) ? n.type.join(' | ') : (n.type ?? 'any');
  switch (t) {
    case 'integer':
    case 'number': {
      const r = range(n);
      return r ? `${t} ${r}` : t;
    }
    case 'array':
      return `array of ${n.items ? typeOf(n.items) : 'any'}${n.minItems ? ` (at least ${n.minItems})` : ''}`;
    case 'object':
      return typeof n.additionalProperties === 'object' && !n.properties
        ? `map of ${typeOf(n.additionalProperties)}`
        : 'object';
    default:
      return t;
  }
}

/** PGCDC_<PATH> override variable of a key (camelCase parts as UPPER_SNAKE, joined by `__`). */
export function envVarOf(path: string[]): string {
  return `PGCDC_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`;
}

function describeDefault(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0)
    return '(see keys)';
  return `\`${JSON.stringify(v)}\``;
}

function leafish(n: Node): boolean {
  return !(n.type === 'object' && n.properties);
}

/** Every documented key under `node`, depth first; `inArray`: no env override below an array. */
export function referenceRows(
  node: Node,
  path: string[] = [],
  inArray = false,
  variant?: string,
): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const p = [...path, key];
    const variants =
      child.type === 'array' && child.items ? (child.items.oneOf ?? child.items.anyOf) : undefined;
    const objectItems = child.type === 'array' && child.items?.type === 'object' && child.items.properties;
    rows.push({
      key: p.join('.'),
      type: variants ? 'array of object' : typeOf(child),
      default: describeDefault(child.default),
      required: required.has(key),
      description: child.description ?? '',
      env: inArray || !leafish(child) ? undefined : envVarOf(p),
      ...(variant !== undefined ? { variant } : {}),
    });
    if (child.type === 'object' && child.properties) rows.push(...referenceRows(child, p, inArray, variant));
    if (objectItems) rows.push(...referenceRows(child.items!, [...path, `${key}[]`], true, variant));
    for (const v of variants ?? []) {
      const kind = v.properties?.type?.const;
      rows.push(
        ...referenceRows(
          v,
          [...path, `${key}[]`],
          true,
          kind === undefined ? undefined : JSON.stringify(kind).replace(/^"|"$/g, ''),
        ),
      );
    }
  }
  return rows;
}

/** Keys without a description (a unit test keeps this empty). */
export function undocumentedKeys(schema = configJsonSchema()): string[] {
  return referenceRows(schema as Node)
    .filter((r) => r.description.trim() === '')
    .map((r) => r.key);
}

const cell = (s: string) =>
  s.replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/</g, '&lt;').replace(/\*/g, '\\*');

const PREAMBLE = `# Configuration reference

<!-- Generated from pipeline/config/*.ts by \`npm run docs\`: do not edit by hand. -->

pgcdc reads one configuration file (YAML or JSON; \`-c FILE\`, else \`$PGCDC_CONFIG\`, else
\`./pgcdc.yaml\`), validated when a command starts: a bad key is named with the reason, an unknown
key is refused. Every key below has its type, its default (keys without one are required, or
optional without a default) and what it does.

- **Values from the environment.** \`\${VAR}\` and \`\${VAR:-default}\` anywhere in a string value
  are replaced from the environment (a missing variable without a default stops the start, naming
  it), so secrets stay out of the file; they never appear in logs.
- **Environment overrides.** A variable \`PGCDC_<SECTION>__<KEY>\` (double underscore between
  levels; camelCase keys in UPPER_SNAKE, e.g. \`PGCDC_SOURCE__URL\`,
  \`PGCDC_OPERATIONS__SLOT_WAL_WARN_RATIO\`) overrides one key; the column "Environment" names it.
  The value is converted to the key's type: numbers and decimals (\`0.25\`), booleans (\`true\` /
  \`false\`), lists (a JSON array, or comma-separated: \`PGCDC_KAFKA__BROKERS=k1:9092,k2:9092\`) and
  maps (a JSON object). Keys inside \`targets\` (a list) have no override: use \`\${VAR}\` there.
- **Editor completion.** [\`deploy/pgcdc.schema.json\`](../deploy/pgcdc.schema.json) is the JSON
  Schema of this file. With the YAML language server (VS Code's YAML extension, most editors), put
  \`# yaml-language-server: $schema=<path or URL of pgcdc.schema.json>\` on the first line of your
  configuration; the npm package ships it as \`pgcdc/config.schema.json\`.
- **Example**: \`deploy/local/pgcdc.local.yaml\` (the local stack), \`deploy/compose/pgcdc.yaml\`
  (the compose stack).
`;

function table(rows: ReferenceRow[]): string[] {
  const withEnv = rows.some((r) => r.env !== undefined);
  const head = withEnv
    ? ['| Key | Type | Default | Description | Environment |', '| --- | --- | --- | --- | --- |']
    : ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |'];
  return [
    ...head,
    ...rows.map((r) => {
      const def = r.default ? cell(r.default) : r.required ? '**required**' : '';
      const cells = [`\`${r.key}\``, cell(r.type), def, cell(r.description)];
      if (withEnv) cells.push(r.env ? `\`${r.env}\`` : '');
      return `| ${cells.join(' | ')} |`;
    }),
  ];
}

/** The markdown page: the preamble, then one table per top-level section (and per list variant). */
export function configReferenceMarkdown(schema = configJsonSchema()): string {
  const root = schema as Node;
  const out = [PREAMBLE];
  for (const [section, node] of Object.entries(root.properties ?? {})) {
    const required = (root.required ?? []).includes(section);
    out.push(`## \`${section}\`${required ? ' (required)' : ''}`, '');
    if (node.description) out.push(`${node.description.replace(/^./, (c) => c.toUpperCase())}.`, '');
    const rows = referenceRows({ properties: { [section]: node } }).slice(1);
    if (rows.length === 0) {
      out.push(`Type: ${typeOf(node)}.`, '');
      continue;
    }
    const groups = new Map<string | undefined, ReferenceRow[]>();
    for (const r of rows) groups.set(r.variant, [...(groups.get(r.variant) ?? []), r]);
    for (const [variant, group] of groups) {
      if (variant !== undefined) out.push(`### \`${section}[]\` of \`type: ${variant}\``, '');
      out.push(...table(group), '');
    }
  }
  return out.join('\n');
}
