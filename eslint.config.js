// Lint: strict, async-safe (no floating promises), no `any`, no console in library code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.pgcdc/**', 'dist/**', 'cli/bin.js', 'dev/cli/bin.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['test/**', 'cli/**', 'dev/**'], rules: { 'no-console': 'off' } },
  // No function over 150 lines in product and dev code (issue 13); tests keep their long cases.
  {
    files: ['**/*.ts'],
    ignores: ['test/**'],
    rules: {
      'max-lines-per-function': ['error', { max: 150, skipBlankLines: true, skipComments: true }],
    },
  },
  { files: ['*.js', '*.config.*'], ...tseslint.configs.disableTypeChecked },
);
