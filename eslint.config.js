import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bin/**', 'node_modules/**', 'bench/results/**', 'test/fixtures/**', 'examples/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // The core never imports CLI code or CLI-only libraries (STYLE.md section 2).
    files: ['src/core/**/*.ts', 'src/core/**/*.cts', 'src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli/**', '**/commands/**', '@oclif/*', 'ink', 'chalk', 'react'], message: 'core and lib must not import CLI code' }] }],
    },
  },
  {
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/core/**', '**/cli/**', '**/commands/**', '@oclif/*', 'ink', 'chalk', 'react'], message: 'lib is shared; it imports neither core nor cli' }] }],
    },
  },
);
