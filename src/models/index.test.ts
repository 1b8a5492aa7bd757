import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getModel, listModels, allowsPushButtonPairing, MODEL_IDS } from './index.ts';
import { hasCode } from '../errors/index.ts';

test('the catalogue has at least plug, bulb, lock, sensor and camera', () => {
  for (const id of ['plug', 'bulb', 'lock', 'sensor', 'camera']) assert.equal(getModel(id).id, id);
});

test('an unknown model is a MODEL_UNKNOWN error naming the known ones', () => {
  assert.throws(
    () => getModel('toaster'),
    (err) => hasCode(err, 'MODEL_UNKNOWN') && /plug/.test((err as Error).message),
  );
});

test('locks and cameras refuse push-button pairing, plugs allow it', () => {
  assert.equal(allowsPushButtonPairing(getModel('lock')), false);
  assert.equal(allowsPushButtonPairing(getModel('camera')), false);
  assert.equal(allowsPushButtonPairing(getModel('plug')), true);
});

test('every model has a distinct serial prefix and at least one capability', () => {
  const prefixes = new Set(listModels().map((m) => m.serialPrefix));
  assert.equal(prefixes.size, MODEL_IDS.length);
  for (const m of listModels()) assert.ok(m.capabilities.length > 0, m.id);
});
