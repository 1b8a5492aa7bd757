import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExampleProfile, loadProfileFile, writePolicyDocument, EXAMPLE_MODELS } from './load.ts';
import { decide } from './decide.ts';
import { hasCode } from '../errors/index.ts';
import { listModels } from '../models/index.ts';
import type { ExampleModel } from './load.ts';

test('every example profile loads and lands in the expected tier', async () => {
  const tiers: Record<ExampleModel, number> = { plug: 2, bulb: 1, lock: 3, sensor: 1, camera: 3 };
  for (const model of EXAMPLE_MODELS) {
    const profile = await loadExampleProfile(model);
    assert.equal(decide(profile).tier, tiers[model], model);
  }
});

test('example profiles agree with the model catalogue on sensors and actuators', async () => {
  for (const spec of listModels()) {
    if (!(EXAMPLE_MODELS as readonly string[]).includes(spec.id)) continue;
    const profile = await loadExampleProfile(spec.id as ExampleModel);
    assert.equal(profile.model, spec.name, spec.id);
    assert.deepEqual([...profile.sensors].sort(), [...spec.sensors].sort(), `${spec.id} sensors`);
    assert.deepEqual([...profile.actuators].sort(), [...spec.actuators].sort(), `${spec.id} actuators`);
  }
});

test('refuses an example name that is not shipped, without touching the file system', async () => {
  await assert.rejects(loadExampleProfile('../../package' as ExampleModel), (err: unknown) =>
    hasCode(err, 'PROFILE_UNKNOWN_EXAMPLE'),
  );
});

test('profile files: missing, not regular, and oversized files are typed errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-policy-'));
  try {
    await assert.rejects(loadProfileFile(join(dir, 'none.yaml')), (err: unknown) => hasCode(err, 'PROFILE_UNREADABLE'));
    await assert.rejects(loadProfileFile(dir), (err: unknown) => hasCode(err, 'PROFILE_UNREADABLE'));
    await assert.rejects(loadProfileFile('/dev/zero'), (err: unknown) => hasCode(err, 'PROFILE_UNREADABLE'));
    const big = join(dir, 'big.yaml');
    await writeFile(big, 'x'.repeat(20_000));
    await assert.rejects(loadProfileFile(big), (err: unknown) => hasCode(err, 'PROFILE_TOO_LARGE'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writes the policy document atomically', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-policy-'));
  try {
    const out = join(dir, 'policy.md');
    await writePolicyDocument(out, '# one\n');
    await writePolicyDocument(out, '# two\n');
    assert.equal(await readFile(out, 'utf8'), '# two\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
