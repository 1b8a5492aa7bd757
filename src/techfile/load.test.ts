import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAudit, type AuditReport } from '../audit/index.ts';
import { hasCode } from '../errors/index.ts';
import { getModel } from '../models/index.ts';
import { loadTechnicalFileInput } from './index.ts';

const PROFILES = fileURLToPath(new URL('../policy/profiles/', import.meta.url));
let dir: string;
let report: AuditReport;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulwark-techfile-load-'));
  const base = await runAudit({ profile: join(PROFILES, 'plug.yaml'), urls: [] });
  report = {
    ...base,
    scope: { ...base.scope, firmware: { model: 'plug', version: '1.1.0', securityVersion: 1, slot: 'a' } },
  };
});
after(async () => rm(dir, { recursive: true, force: true }));

async function fileWith(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

test('a built-in model takes its example profile, and the file is stamped with the given time', async () => {
  const input = await loadTechnicalFileInput({ model: 'lock', version: '2.0.0', now: () => new Date(0) });
  assert.equal(input.profile.modelId, 'lock');
  assert.deepEqual(input.profile.networkModels, ['listening', 'hub', 'cloud']);
  assert.equal(input.generatedAt, '1970-01-01T00:00:00.000Z');
  assert.equal(input.audit, undefined);
});

test('an audit report of another firmware version or another model is refused, naming both', async () => {
  const path = await fileWith('audit.json', report);
  await assert.rejects(
    loadTechnicalFileInput({ model: 'plug', version: '1.2.0', auditReport: path }),
    (e: unknown) => hasCode(e, 'TECHFILE_INPUT_MISMATCH') && /firmware 1\.1\.0, not 1\.2\.0/.test((e as Error).message),
  );
  await assert.rejects(
    loadTechnicalFileInput({ model: 'bulb', version: '1.1.0', auditReport: path }),
    (e: unknown) => hasCode(e, 'TECHFILE_INPUT_MISMATCH') && /model plug, not bulb/.test((e as Error).message),
  );
});

test("a maker's model file takes its profile from the audit report, and without one says what to give", async () => {
  const model = await fileWith('thing.model.json', { schema: 'bulwark.model/v1', ...getModel('plug') });
  await assert.rejects(
    loadTechnicalFileInput({ model, version: '1.1.0' }),
    (e: unknown) => hasCode(e, 'TECHFILE_PROFILE_MISSING') && /--profile/.test((e as Error).message),
  );
  const input = await loadTechnicalFileInput({
    model,
    version: '1.1.0',
    auditReport: await fileWith('a.json', report),
  });
  assert.deepEqual(input.profile.networkModels, report.profile.networkModels);
  assert.equal(input.profile.securityContact, report.profile.securityContact);
});

test('a profile other than the audited one, and a facts record not a JSON object, are refused', async () => {
  const audit = await fileWith('b.json', report);
  const profile = await fileWith(
    'p.yaml',
    'model: plug\nnetworkModels: [listening]\npersonalData: true\ninternetExposed: false\n',
  );
  await assert.rejects(
    loadTechnicalFileInput({ model: 'plug', version: '1.1.0', auditReport: audit, profile }),
    (e: unknown) =>
      hasCode(e, 'TECHFILE_INPUT_MISMATCH') && /differs from the one the audit/.test((e as Error).message),
  );
  await assert.rejects(
    loadTechnicalFileInput({ model: 'plug', version: '1.1.0', facts: await fileWith('f.json', '[1]') }),
    (e: unknown) => hasCode(e, 'TECHFILE_INPUT_INVALID') && /not a JSON object/.test((e as Error).message),
  );
  await assert.rejects(
    loadTechnicalFileInput({ model: 'plug', version: '1.1.0', facts: '/dev/zero' }),
    (e: unknown) => hasCode(e, 'TECHFILE_INPUT_UNREADABLE') && /not a regular file/.test((e as Error).message),
  );
});
