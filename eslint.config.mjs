// Lint, and the layering rules of STYLE.md: src/core never imports vscode; sandbox/ and media/ import only src/protocol.
import tseslint from 'typescript-eslint';

const noVscode = { name: 'vscode', message: 'Only src/vscode may import vscode (STYLE.md, layering).' };

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'dist/**', 'sandbox/dist/**', 'sandbox/node_modules/**', 'sandbox/.node/**', '.vscode-test/**', 'media/dist/**', 'examples/**', 'test/fixtures/hostile/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'No default exports (STYLE.md).' }],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/cli/**/*.ts', 'src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [noVscode], patterns: [{ group: ['**/vscode/**'], message: 'src/core, src/cli and src/protocol never depend on src/vscode.' }] }],
    },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [noVscode], patterns: [{ group: ['**/core/**', '**/cli/**', '**/vscode/**'], message: 'src/protocol is the shared leaf: it imports only zod.' }] }],
    },
  },
  {
    files: ['sandbox/**/*.ts', 'media/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [noVscode],
        patterns: [{ regex: '^\\.\\.?/(?!.*src/protocol/).*(src|core|cli|vscode)/', message: 'sandbox/ and the webview import only src/protocol (STYLE.md, layering).' }],
      }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
