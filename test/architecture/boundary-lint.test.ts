// The lint rule that keeps folders apart: ESLint, with the project's own config, refuses a file
// under src that imports another folder's file other than its index.ts, and accepts the index.
// The probe text is linted as if it were src/web/app.ts (a file the type-aware config knows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function boundaryFindings(text: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(text, { filePath: `${ROOT}src/web/app.ts` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test(
  "lint refuses an import of another folder's internal file and allows its index.ts",
  { timeout: 120_000 },
  async () => {
    const inner = await boundaryFindings(
      "import { createCertificateAuthority } from '../identity/certificates.ts';\n" +
        'export const made = createCertificateAuthority;\n',
    );
    assert.equal(inner.length, 1);
    assert.match(inner[0]!, /through its index\.ts/);
    const index = await boundaryFindings(
      "import { createCertificateAuthority } from '../identity/index.ts';\n" +
        'export const made = createCertificateAuthority;\n',
    );
    assert.deepEqual(index, []);
  },
);
