// Lint: typescript-eslint's type-checked rules, the project's hard bans (no shell, no eval), the
// folder boundary (another folder only through its index.ts), short functions and short lines.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noShell = [
  {
    selector:
      'ImportDeclaration[source.value=/^(node:)?child_process$/] ImportSpecifier[imported.name=/^(exec|execSync)$/]',
    message: 'No shell: child_process.exec/execSync are banned; use execFile/spawn with an argv array.',
  },
  {
    selector:
      'CallExpression[callee.property.name=/^(exec|execSync)$/]' +
      '[callee.object.name=/^(child_process|childProcess|cp)$/]',
    message: 'No shell: use execFile/spawn with an argv array.',
  },
  {
    selector: "CallExpression[callee.property.name=/^(exec|execSync)$/][callee.object.callee.name='require']",
    message: 'No shell: use execFile/spawn with an argv array.',
  },
  { selector: "Property[key.name='shell'][value.value=true]", message: 'No shell: `shell: true` is banned.' },
  { selector: "NewExpression[callee.name='Function']", message: '`new Function` is banned.' },
  { selector: "CallExpression[callee.name='Function']", message: '`Function()` is banned.' },
];

/** A file under src/<folder>/ may reach another folder only through its index.ts. */
const folderBoundary = {
  patterns: [
    {
      group: ['../*/*', '!../*/index.ts', '../../*/*', '!../../*/index.ts'],
      message: 'Import another folder through its index.ts, its public API.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.d.ts', 'reports/**', 'docs/api/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        AbortController: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        fetch: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        globalThis: 'readonly',
        document: 'readonly',
        window: 'readonly',
      },
    },
    rules: {
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-restricted-syntax': ['error', ...noShell],
      'no-restricted-properties': [
        'error',
        { object: 'child_process', property: 'exec', message: 'No shell.' },
        { object: 'child_process', property: 'execSync', message: 'No shell.' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // node:test's test() and suite() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      'max-len': ['error', { code: 120 }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', folderBoundary] },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
