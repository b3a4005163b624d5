// Lint rules. core/ is pure: no Node modules, I/O libraries, clocks, randomness, timers, promises or
// process, so that every reducer replays exactly; the rules below enforce it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const impureModules = ['node:*', 'fs', 'path', 'os', 'net', 'child_process', 'worker_threads', 'crypto', 'lmdb', 'ink', 'react', 'msgpackr', 'ink-testing-library'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'traces/**', 'examples/**/*.mjs', 'test/fixtures/**', 'bench/scripts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: impureModules, message: 'core/ is pure: move I/O to node/ or pass it in an event.' }] }],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'Promise', 'performance', 'queueMicrotask', 'fetch', 'crypto', 'Buffer', 'require'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'use the seeded generator in core/sim/random.ts' }, { object: 'Date', property: 'now', message: 'time arrives in events' }],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: 'time arrives in events' }, { selector: 'FunctionDeclaration[async=true]', message: 'core/ has no promises' }, { selector: 'ArrowFunctionExpression[async=true]', message: 'core/ has no promises' }, { selector: 'AwaitExpression', message: 'core/ has no promises' }],
    },
  },
  {
    files: ['debugger/**/*.ts', 'debugger/**/*.tsx'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'path', 'os', 'net', 'child_process', 'worker_threads', 'crypto', 'lmdb', 'msgpackr', '**/node/**'], message: 'debugger/ imports core/ only (and ink, react): node/cli/debug.ts reads the files.' }] }],
    },
  },
  {
    files: ['eslint.config.js', 'scripts/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
);
