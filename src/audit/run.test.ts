import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../errors/index.ts';
import { canonicalModel, getModel } from '../models/index.ts';
import { runAudit } from './run.ts';

const PLUG_PROFILE = 'model: plug\nnetworkModels: [listening]\npersonalData: false\ninternetExposed: false\n';

/** A folder with a plug profile and a bundle folder holding only `model`'s model.json. */
async function workWithBundleOf(model: string): Promise<{ dir: string; profile: string; bundle: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-audit-run-'));
  const bundle = join(dir, 'unit');
  await mkdir(bundle);
  await writeFile(join(bundle, 'model.json'), canonicalModel(getModel(model)));
  await writeFile(join(dir, 'plug.yaml'), PLUG_PROFILE);
  return { dir, profile: join(dir, 'plug.yaml'), bundle };
}

test("refuses a profile that names another model than the bundle's unit, naming both", async () => {
  const { dir, profile, bundle } = await workWithBundleOf('lock');
  try {
    await assert.rejects(
      runAudit({ profile, bundle }),
      (err: unknown) =>
        hasCode(err, 'AUDIT_MODEL_MISMATCH') &&
        /'plug'/.test((err as Error).message) &&
        /'lock'/.test((err as Error).message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('audits a bundle whose model.json is the model the profile names', async () => {
  const { dir, profile, bundle } = await workWithBundleOf('plug');
  try {
    const report = await runAudit({ profile, bundle });
    assert.equal(report.profile.modelId, 'plug');
    assert.equal(report.scope.bundle, bundle);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
