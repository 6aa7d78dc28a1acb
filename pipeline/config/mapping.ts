// A target's shape (`targets[].mapping`): which source columns it receives and under which names,
// constants, computed fields, the row filter whose membership it tracks, what a delete (or a row
// leaving the filter) does there, and, for webhooks, named transitions and the event types it
// wants. Expressions are CEL (cel-spec), compiled and type-checked against the table's contract by
// consumers/mapping/shape.ts (at start and by `pgcdc check`). One mapping describes one source
// table (`table`, default the source table), so a target can later carry one per table.
// Parsing only: no expression is evaluated here.
import { z } from 'zod';
import { identifier } from './fields.ts';

/** Column types a constant or computed field may declare (the contract's PostgreSQL types). */
export const MAPPED_TYPES = [
  'bigint',
  'text',
  'boolean',
  'jsonb',
  'text[]',
  'numeric',
  'timestamptz',
] as const;
export type MappedType = (typeof MAPPED_TYPES)[number];

const mappedType = z.enum(MAPPED_TYPES);

/** `user.activated`: lower-case words joined by dots, dashes or underscores. */
const eventTypeName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/,
    'must be lower-case words joined by "." (user.activated)',
  );

const expression = (what: string) => z.string().min(1).describe(`${what} (a CEL expression)`);

export const DeletePolicySchema = z
  .enum(['delete', 'soft', 'ignore'])
  .default('delete')
  .describe(
    'what a source delete, and a row leaving the filter, does at this target: delete the row; soft: set softDelete.column (re-insert revives the row); ignore: keep the row',
  );

export const MappingSchema = z
  .object({
    table: identifier.optional().describe('the source table this mapping shapes (default: the source table)'),
    include: z
      .array(identifier)
      .min(1)
      .optional()
      .describe(
        'source columns this target receives (default: every column not marked sensitive); a column the contract marks sensitive is sent only when named here',
      ),
    exclude: z.array(identifier).default([]).describe('source columns this target never receives'),
    rename: z
      .record(identifier, identifier)
      .default({})
      .describe('source column -> column name at the target'),
    constants: z
      .record(
        identifier,
        z
          .object({
            value: z.union([z.string(), z.number(), z.boolean(), z.null()]).describe('the value'),
            type: mappedType.optional().describe('its column type (default: from the value)'),
          })
          .strict(),
      )
      .default({})
      .describe('target column -> the same value in every row (e.g. a storage id)'),
    computed: z
      .record(
        identifier,
        z.union([
          expression('the value, from the source row (columns by name; nullable ones are optional<T>)'),
          z
            .object({
              expression: expression('the value, from the source row'),
              type: mappedType.optional().describe('its column type (default: inferred)'),
            })
            .strict(),
        ]),
      )
      .default({})
      .describe('target column -> a value computed from the source row'),
    filter: expression(
      'which rows this target holds: a row that starts matching arrives whole, one that stops matching is removed by the delete policy',
    ).optional(),
    deletePolicy: DeletePolicySchema,
    softDelete: z
      .object({
        column: identifier.describe(
          'the column that marks a deleted row: timestamptz (set to the commit time) or boolean (set true); null / false while the row lives',
        ),
        type: z.enum(['timestamptz', 'boolean']).default('timestamptz').describe('its type'),
      })
      .strict()
      .optional()
      .describe('required by deletePolicy: soft'),
    transitions: z
      .record(
        eventTypeName,
        expression('true when the change is this transition; `before` and `after` are the rows'),
      )
      .default({})
      .describe(
        'webhooks: named transitions (user.activated: "!before.is_active && after.is_active"); need the previous row (REPLICA IDENTITY FULL at the source)',
      ),
    events: z
      .array(eventTypeName)
      .min(1)
      .optional()
      .describe(
        'webhooks: the event types delivered (created, updated, deleted, snapshot, truncated and the transitions; default all)',
      ),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.deletePolicy === 'soft' && !m.softDelete)
      ctx.addIssue({
        code: 'custom',
        path: ['softDelete'],
        message: 'deletePolicy: soft needs softDelete.column',
      });
    if (m.deletePolicy !== 'soft' && m.softDelete)
      ctx.addIssue({ code: 'custom', path: ['softDelete'], message: 'only with deletePolicy: soft' });
  });

export type MappingConfig = z.output<typeof MappingSchema>;

/** The optional `mapping` key of a target (plugged into targets.ts). */
export const mappingField = MappingSchema.optional().describe(
  "this target's shape: columns, renames, constants, computed fields, row filter, delete policy (docs/shaping.md)",
);

/**
 * Whether the producer must complete updates that lack unchanged TOASTed values: a target with a
 * row filter may see a row enter it through such an update, and must receive it whole.
 */
export function needsCompleteUpdates(targets: readonly { mapping?: MappingConfig | undefined }[]): boolean {
  return targets.some((t) => t.mapping?.filter !== undefined);
}
