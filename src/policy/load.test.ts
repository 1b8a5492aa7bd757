import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadExampleProfile, loadProfileFile, writePolicyDocument, EXAMPLE_MODELS } from './load.ts';
import { decide } from './decide.ts';
import { hasCode } from '../errors/index.ts';
import { listModels, readModelFile } from '../models/index.ts';
import type { ExampleModel } from './load.ts';

test('every example profile loads and lands in the expected tier', async () => {
  const tiers: Record<ExampleModel, number> = { plug: 2, bulb: 1, lock: 3, sensor: 1, camera: 3 };
  for (const model of EXAMPLE_MODELS) {
    const profile = await loadExampleProfile(model);
    assert.equal(decide(profile).tier, tiers[model], model);
  }
});

test('each example profile names its own built-in model and takes its facts from it', async () => {
  for (const spec of listModels()) {
    if (!(EXAMPLE_MODELS as readonly string[]).includes(spec.id)) continue;
    const profile = await loadExampleProfile(spec.id as ExampleModel);
    assert.equal(profile.modelId, spec.id);
    assert.equal(profile.model, spec.name, spec.id);
    assert.equal(profile.supportPeriodEnd, spec.supportPeriod.endsOn, spec.id);
    assert.deepEqual([...profile.sensors].sort(), [...spec.sensors].sort(), `${spec.id} sensors`);
    assert.deepEqual([...profile.actuators].sort(), [...spec.actuators].sort(), `${spec.id} actuators`);
  }
});

const PROFILE_TAIL = 'networkModels: [listening, hub]\npersonalData: false\ninternetExposed: false\n';

test("a profile names a maker's model file relative to its own folder, wherever it is read from", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-policy-'));
  try {
    const example = new URL('../../examples/thermostat-driver/thermostat.model.json', import.meta.url);
    await mkdir(join(dir, 'product', 'models'), { recursive: true });
    await copyFile(example, join(dir, 'product', 'models', 'thermostat.model.json'));
    const path = join(dir, 'product', 'thermostat.profile.yaml');
    await writeFile(path, `model: models/thermostat.model.json\n${PROFILE_TAIL}`);
    const spec = readModelFile(example);
    const profile = await loadProfileFile(relative(process.cwd(), path));
    assert.equal(profile.modelId, spec.id);
    assert.equal(profile.model, spec.name);
    assert.deepEqual(profile.actuators, spec.actuators);
    assert.equal(profile.supportPeriodEnd, spec.supportPeriod.endsOn);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a model file the profile names that is missing or invalid is a profile error on the model key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-policy-'));
  try {
    const isModelError = (err: unknown): boolean =>
      hasCode(err, 'PROFILE_INVALID') && (err as { key?: string }).key === 'model';
    await writeFile(join(dir, 'missing.yaml'), `model: ./none.model.json\n${PROFILE_TAIL}`);
    await assert.rejects(loadProfileFile(join(dir, 'missing.yaml')), isModelError);
    await writeFile(join(dir, 'bad.model.json'), '{"schema": "bulwark.model/v1"}');
    await writeFile(join(dir, 'bad.yaml'), `model: bad.model.json\n${PROFILE_TAIL}`);
    await assert.rejects(loadProfileFile(join(dir, 'bad.yaml')), isModelError);
    await writeFile(join(dir, 'zero.yaml'), `model: /dev/zero\n${PROFILE_TAIL}`);
    await assert.rejects(loadProfileFile(join(dir, 'zero.yaml')), isModelError);
  } finally {
    await rm(dir, { recursive: true, force: true });
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
