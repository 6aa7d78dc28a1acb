// The generated documentation files and their content, formatted as prettier would (so that
// `prettier --check .` and the up-to-date test agree). Used by `npm run docs` and its unit test.
import path from 'node:path';
import prettier from 'prettier';
import { PROJECT_ROOT } from '../stack/settings.ts';
import { configJsonSchema, configReferenceMarkdown, REFERENCE_FILES } from './config-reference.ts';

async function format(rel: string, text: string): Promise<string> {
  const file = path.join(PROJECT_ROOT, rel);
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...options, filepath: file });
}

/** Repository-relative path -> content, for every generated file. */
export async function generatedFiles(): Promise<Record<string, string>> {
  const schema = configJsonSchema();
  return {
    [REFERENCE_FILES.markdown]: await format(REFERENCE_FILES.markdown, configReferenceMarkdown(schema)),
    [REFERENCE_FILES.jsonSchema]: await format(REFERENCE_FILES.jsonSchema, JSON.stringify(schema, null, 2)),
  };
}
