import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import {
  BASELINE_SETTINGS,
  BASELINE_SETTING_IDS,
  SHIPPED_SECURITY_BASELINE,
  SecurityBaselineError,
  canonicalModel,
  isWeaker,
  listModels,
  modelFromDocument,
  modelSchema,
  securityBaselineOf,
  type BaselineSettingId,
  type SchemaNode,
} from './index.ts';

/** A valid maker's model without a baseline. */
function switchModel(): Record<string, unknown> {
  return {
    schema: 'bulwark.model/v1',
    id: 'wall-switch',
    name: 'Wall Switch',
    serialPrefix: 'WSW',
    riskClass: 'standard',
    privacyClass: 'standard',
    initialPasswordMode: 'sticker',
    capabilities: [
      { id: 'power', kind: 'switch', actions: ['on', 'off', 'get'], value: { type: 'boolean' }, description: 'Load' },
    ],
    sensors: [],
    actuators: ['power'],
    networks: ['wifi'],
    supportPeriod: { endsOn: '2037-06-30' },
  };
}

/** The value one step weaker than the toolkit's floor of `id`. */
function weakerThanFloor(id: BaselineSettingId): number | string {
  const { scale, floor } = BASELINE_SETTINGS[id];
  if (scale.kind === 'levels') return scale.levels[scale.levels.indexOf(String(floor)) + 1]!;
  return scale.kind === 'at-most' ? Number(floor) + 1 : Number(floor) - 1;
}

/** The value one step stricter than the shipped value of `id`. */
function stricterThanShipped(id: BaselineSettingId): number | string | undefined {
  const { scale, shipped } = BASELINE_SETTINGS[id];
  if (scale.kind === 'levels') return scale.levels[scale.levels.indexOf(String(shipped)) - 1];
  return scale.kind === 'at-most' ? Number(shipped) - 1 : Number(shipped) + 1;
}

test('every setting ships at or above its floor, and a floor is never stronger than what ships', () => {
  for (const id of BASELINE_SETTING_IDS) {
    const s = BASELINE_SETTINGS[id];
    assert.equal(s.id, id);
    assert.equal(isWeaker(id, s.shipped, s.floor), false, `${id} ships weaker than its floor`);
    if (s.scale.kind === 'levels') assert.ok(s.scale.levels.includes(String(s.floor)), id);
    else assert.equal(typeof s.unit, 'string', `${id} has a unit`);
  }
  assert.deepEqual(Object.keys(SHIPPED_SECURITY_BASELINE), [...BASELINE_SETTING_IDS]);
});

test('weaker means more on an at-most setting, less on an at-least one, a later level on words', () => {
  assert.equal(isWeaker('sessionIdleMinutes', 16, 15), true);
  assert.equal(isWeaker('sessionIdleMinutes', 15, 15), false);
  assert.equal(isWeaker('sessionIdleMinutes', 10, 15), false);
  assert.equal(isWeaker('lockoutBackoffSeconds', 29, 30), true);
  assert.equal(isWeaker('lockoutBackoffSeconds', 60, 30), false);
  assert.equal(isWeaker('webTlsMinVersion', 'TLSv1.1', 'TLSv1.2'), true);
  assert.equal(isWeaker('webTlsMinVersion', 'TLSv1.3', 'TLSv1.2'), false);
  assert.equal(isWeaker('automaticUpdates', 'off', 'on'), true);
});

test('a value the scale does not know, or of the wrong type, counts as weaker', () => {
  assert.equal(isWeaker('webTlsMinVersion', 'SSLv3', 'TLSv1.2'), true);
  assert.equal(isWeaker('monitoring', 'sometimes', 'on'), true);
  assert.equal(isWeaker('sessionIdleMinutes', 'forever', 15), true);
  assert.equal(isWeaker('sessionIdleMinutes', Number.NaN, 15), true);
});

test('a model file without a baseline gets the shipped values, and nothing is added to the model itself', () => {
  const model = modelFromDocument(switchModel());
  assert.equal(model.securityBaseline, undefined);
  assert.deepEqual(securityBaselineOf(model), SHIPPED_SECURITY_BASELINE);
  // The digest a bundle records stays what it was before baselines existed.
  assert.ok(!canonicalModel(model).includes('securityBaseline'));
});

test('a model may declare a stricter value for every setting; what it leaves out stays shipped', () => {
  for (const id of BASELINE_SETTING_IDS) {
    const stricter = stricterThanShipped(id);
    if (stricter === undefined) continue; // already the strongest word ('on', 'off', 'closed')
    const model = modelFromDocument({ ...switchModel(), securityBaseline: { [id]: stricter } });
    const baseline = securityBaselineOf(model);
    assert.equal(baseline[id], stricter, id);
    for (const other of BASELINE_SETTING_IDS.filter((o) => o !== id))
      assert.equal(baseline[other], SHIPPED_SECURITY_BASELINE[other], `${other} stays shipped`);
  }
});

for (const id of BASELINE_SETTING_IDS) {
  test(`a model declaring ${id} weaker than the toolkit's floor is refused with an error naming it`, () => {
    const weak = weakerThanFloor(id);
    assert.throws(
      () => modelFromDocument({ ...switchModel(), securityBaseline: { [id]: weak } }, 'switch.json'),
      (err: unknown) =>
        err instanceof SecurityBaselineError &&
        hasCode(err, 'MODEL_FILE_INVALID') &&
        err.settings.length === 1 &&
        err.settings[0] === id &&
        err.message.includes(`securityBaseline.${id}: `) &&
        err.message.includes("weaker than the toolkit's floor"),
    );
  });
}

test('a model declaring a setting the baseline does not know is refused by the schema', () => {
  assert.throws(
    () => modelFromDocument({ ...switchModel(), securityBaseline: { telnet: 'on' } }),
    (err: unknown) =>
      hasCode(err, 'MODEL_FILE_INVALID') && (err as Error).message.includes('securityBaseline.telnet: is not allowed'),
  );
});

test("the shipped schema's baseline lists exactly the known settings, with each one's words or whole numbers", () => {
  const node = modelSchema().properties!.securityBaseline!;
  assert.equal(node.additionalProperties, false);
  assert.deepEqual(Object.keys(node.properties!), [...BASELINE_SETTING_IDS]);
  for (const id of BASELINE_SETTING_IDS) {
    const { scale, floor, shipped } = BASELINE_SETTINGS[id];
    const p: SchemaNode = node.properties![id]!;
    if (scale.kind === 'levels') assert.deepEqual(p.enum, scale.levels, id);
    else {
      assert.equal(p.type, 'integer', id);
      // The schema admits the values one step past the floor, so the floor rule (a typed error) decides.
      assert.ok(p.minimum! <= Math.min(Number(floor), Number(shipped)) - (scale.kind === 'at-least' ? 1 : 0), id);
      assert.ok(p.maximum! >= Number(floor) + (scale.kind === 'at-most' ? 1 : 0), id);
    }
  }
});

test('the built-in models carry the whole baseline, at the values units ship with', () => {
  for (const model of listModels()) {
    assert.deepEqual({ ...model.securityBaseline }, { ...SHIPPED_SECURITY_BASELINE }, model.id);
  }
});
