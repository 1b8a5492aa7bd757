// The lint rules that keep shells and code generation out of the project actually fire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function ruleHits(code: string): Promise<string[]> {
  // The probe file does not exist, so the type-aware parser must be told to accept it.
  const eslint = new ESLint({
    cwd: root,
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['src/lint-probe.ts'] } } },
    },
  });
  const [result] = await eslint.lintText(code, { filePath: `${root}/src/lint-probe.ts` });
  const fatal = result!.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], 'the probe must parse, or no rule could fire');
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

const banned: Array<[string, string]> = [
  ['child_process.exec import', "import { exec } from 'node:child_process';\nexec('ls');\n"],
  ['child_process.execSync import', "import { execSync } from 'child_process';\nexecSync('ls');\n"],
  ['namespace exec', "import * as child_process from 'node:child_process';\nchild_process.exec('ls');\n"],
  ['shell: true', "import { spawn } from 'node:child_process';\nspawn('ls', [], { shell: true });\n"],
  ['eval', "eval('1');\n"],
  ['new Function', "new Function('return 1');\n"],
];

for (const [name, code] of banned) {
  test(`lint refuses ${name}`, async () => {
    const hits = await ruleHits(code);
    assert.ok(
      hits.some((h) => /no-restricted-syntax|no-eval|no-new-func|no-implied-eval/.test(h)),
      `${name}: ${hits.join(', ')}`,
    );
  });
}

test('lint allows execFile with an argv array and RegExp.exec', async () => {
  const hits = await ruleHits(
    "import { execFile } from 'node:child_process';\nexecFile('openssl', ['version'], () => " +
      "undefined);\nexport const m = /a/.exec('a');\n",
  );
  assert.deepEqual(
    hits.filter((h) => /no-restricted-syntax|no-eval|no-new-func/.test(h)),
    [],
  );
});
