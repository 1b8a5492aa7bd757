import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  validateDeviceUpdateConfig,
  defaultDeviceUpdateConfig,
  validateRepositoryUrl,
  parseDuration,
  validateExpiryConfig,
} from './config.ts';

test('the defaults are valid: automatic updates on, every 6 hours with up to 30 min of jitter, 3 trial boots', () => {
  const c = validateDeviceUpdateConfig();
  assert.equal(c.autoUpdate, true);
  assert.equal(c.checkIntervalMs, 21_600_000);
  assert.equal(c.checkJitterMs, 1_800_000);
  assert.equal(c.maxTrialBoots, 3);
  assert.deepEqual(c, { ...defaultDeviceUpdateConfig });
});

test('refuses unknown keys and out-of-range values, naming the key', () => {
  assert.throws(() => validateDeviceUpdateConfig({ checkEvery: 5 } as never), /checkEvery/);
  assert.throws(() => validateDeviceUpdateConfig({ maxTrialBoots: 0 }), /maxTrialBoots/);
  assert.throws(() => validateDeviceUpdateConfig({ maxTrialBoots: 50 }), /maxTrialBoots/);
  assert.throws(() => validateDeviceUpdateConfig({ idleTimeoutMs: Infinity }), /idleTimeoutMs/);
  assert.throws(() => validateDeviceUpdateConfig({ tlsTrust: 'none' as never }), /tlsTrust/);
});

test('plain http is accepted only on loopback; credentials, queries and fragments never', () => {
  assert.equal(validateRepositoryUrl('http://127.0.0.1:8080/updates/'), 'http://127.0.0.1:8080/updates');
  assert.equal(validateRepositoryUrl('http://[::1]:80/updates'), 'http://[::1]/updates');
  assert.equal(validateRepositoryUrl('https://updates.example.com/updates'), 'https://updates.example.com/updates');
  assert.throws(() => validateRepositoryUrl('http://updates.example.com/updates'), { code: 'UPDATE_CONFIG_UNSAFE' });
  assert.throws(() => validateRepositoryUrl('https://user:pw@example.com/'), { code: 'UPDATE_CONFIG_INVALID' });
  assert.throws(() => validateRepositoryUrl('ftp://example.com/'), { code: 'UPDATE_CONFIG_INVALID' });
  assert.throws(() => validateRepositoryUrl('https://example.com/u?x=1'), { code: 'UPDATE_CONFIG_INVALID' });
});

test('durations and expiry settings', () => {
  assert.equal(parseDuration('6h', 'k'), 21_600_000);
  assert.equal(parseDuration('1500ms', 'k'), 1_500);
  assert.throws(() => parseDuration('6 hours', 'k'), /k/);
  assert.equal(validateExpiryConfig({ timestampSeconds: 60 }).timestampSeconds, 60);
  assert.throws(() => validateExpiryConfig({ timestampSeconds: 0 }), /timestampSeconds/);
});
