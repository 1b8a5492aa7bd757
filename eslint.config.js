// Lint: type-aware TypeScript rules plus the project's hard bans (no shell, no eval).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noShell = [
  { selector: "ImportDeclaration[source.value=/^(node:)?child_process$/] ImportSpecifier[imported.name=/^(exec|execSync)$/]", message: 'No shell: child_process.exec/execSync are banned; use execFile/spawn with an argv array.' },
  { selector: "CallExpression[callee.property.name=/^(exec|execSync)$/][callee.object.name=/^(child_process|childProcess|cp)$/]", message: 'No shell: use execFile/spawn with an argv array.' },
  { selector: "CallExpression[callee.property.name=/^(exec|execSync)$/][callee.object.callee.name='require']", message: 'No shell: use execFile/spawn with an argv array.' },
  { selector: "Property[key.name='shell'][value.value=true]", message: 'No shell: `shell: true` is banned.' },
  { selector: "NewExpression[callee.name='Function']", message: '`new Function` is banned.' },
  { selector: "CallExpression[callee.name='Function']", message: '`Function()` is banned.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.d.ts', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', AbortController: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', performance: 'readonly', structuredClone: 'readonly', globalThis: 'readonly', document: 'readonly', window: 'readonly' },
    },
    rules: {
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-restricted-syntax': ['error', ...noShell],
      'no-restricted-properties': ['error',
        { object: 'child_process', property: 'exec', message: 'No shell.' },
        { object: 'child_process', property: 'execSync', message: 'No shell.' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
);
