// `pgcdc check` for the schema registry: it answers, and our key/value schemas are compatible with
// what is registered under the topic's subjects (Confluent API:
// POST /compatibility/subjects/<subject>/versions/latest). Nothing is registered.
import path from 'node:path';
import type { TableContract } from '../../schemas/contract.ts';
import { redactUrl } from '../../pipeline/observability/logger.ts';
import { registryAccess, registryFetch, type RegistryEndpoint } from '../../schemas/registry-access.ts';
import { connectionFailure, registryRefusal } from './transport.ts';
import { error, errMessage, info, ok, type CheckResult } from './types.ts';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export async function checkRegistry(
  registry: RegistryEndpoint,
  topic: string,
  contract: TableContract,
  timeoutMs = 5000,
  /** source.contracts (undefined: the shipped contract), to name the file */
  contractsDir?: string,
): Promise<CheckResult[]> {
  const fileOf = (kind: string) =>
    path.join(contractsDir ?? 'schemas/avro', `${contract.table}-${kind}.avsc`);
  const shown = redactUrl(registryAccess(registry).url);
  try {
    const res = await registryFetch(registry, '/subjects', { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      const refused = registryRefusal('registry.connect', res.status, shown);
      if (refused) return [refused];
      return [
        error(
          'registry.connect',
          `registry ${shown} answered ${res.status} to GET /subjects`,
          'registry.url must be the Confluent-compatible base URL (Apicurio: .../apis/ccompat/v7)',
        ),
      ];
    }
  } catch (err) {
    return [
      connectionFailure(
        'registry.connect',
        err,
        { system: 'registry', section: 'registry', tls: shown.startsWith('https:') },
        {
          message: `schema registry ${shown} unreachable: ${errMessage(err)}${err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : ''}`,
          fix: 'start the registry, or fix registry.url',
        },
        `schema registry ${shown}`,
      ),
    ];
  }
  const out: CheckResult[] = [ok('registry.connect', `registry ${shown} answers`)];
  for (const [kind, schema] of [
    ['key', contract.keySchema],
    ['value', contract.valueSchema],
  ] as const) {
    const subject = `${topic}-${kind}`;
    const id = `registry.${kind}_schema`;
    try {
      const res = await registryFetch(
        registry,
        `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`,
        {
          method: 'POST',
          headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE },
          body: JSON.stringify({ schema: JSON.stringify(schema), schemaType: 'AVRO' }),
          signal: AbortSignal.timeout(timeoutMs),
        },
      );
      const body = (await res.json().catch(() => ({}))) as {
        is_compatible?: boolean;
        messages?: string[];
        error_code?: number;
        message?: string;
      };
      if (res.status === 404 || body.error_code === 40401 || body.error_code === 40402) {
        out.push(info(id, `subject ${subject} has no schema yet; pgcdc produce registers it on start`));
      } else if (!res.ok) {
        out.push(
          error(
            id,
            `registry answered ${res.status} checking ${subject}: ${body.message ?? ''}`,
            'see the registry log',
          ),
        );
      } else if (body.is_compatible === false) {
        out.push(
          error(
            id,
            `${fileOf(kind)} is not compatible with the latest ${subject}${body.messages?.length ? `: ${body.messages.join('; ')}` : ''}`,
            `make the change BACKWARD compatible (new fields need defaults), or publish to a new topic (kafka.topicPrefix)`,
          ),
        );
      } else {
        out.push(ok(id, `${fileOf(kind)} is compatible with the latest ${subject}`));
      }
    } catch (err) {
      out.push(error(id, `checking ${subject} failed: ${errMessage(err)}`, 'see the registry log'));
    }
  }
  return out;
}
