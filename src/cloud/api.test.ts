import { test } from 'node:test';
import assert from 'node:assert/strict';
import { remoteControls, statusOf, validateOwnerApiConfig } from './api.ts';
import { ClaimError, RateLimitedError, NotFoundError, CommandError } from './errors.ts';

test('the cloud offers actuators only, never a sensitive capability', () => {
  assert.deepEqual(remoteControls('plug'), [{ capability: 'power', actions: ['on', 'off', 'toggle'] }]);
  assert.deepEqual(remoteControls('lock'), [], 'a lock\'s bolt is not controlled from the cloud');
  assert.deepEqual(remoteControls('camera').map((c) => c.capability), ['privacy'], 'no snapshot');
  assert.deepEqual(remoteControls('sensor'), []);
  assert.deepEqual(remoteControls('no-such-model'), []);
});

test('errors map to statuses by code; another owner\'s device is 404', () => {
  assert.equal(statusOf(new ClaimError('CLAIM_REFUSED', 'x')), 403);
  assert.equal(statusOf(new ClaimError('CLAIM_WINDOW_CLOSED', 'x')), 409);
  assert.equal(statusOf(new RateLimitedError(30, 'claim:acct')), 429);
  assert.equal(statusOf(new NotFoundError()), 404);
  assert.equal(statusOf(new CommandError('DEVICE_TIMEOUT', 'x')), 504);
  assert.equal(statusOf(new CommandError('DEVICE_OFFLINE', 'x')), 503);
  assert.equal(statusOf(new Error('boom')), 500);
});

test('settings that switch a protection off are refused', () => {
  assert.throws(() => validateOwnerApiConfig({ claimAccountThreshold: 0 }), { code: 'CLOUD_CONFIG_INVALID', key: 'claimAccountThreshold' });
  assert.throws(() => validateOwnerApiConfig({ claimBaseDelayMs: 10 }), { code: 'CLOUD_CONFIG_INVALID' });
  assert.throws(() => validateOwnerApiConfig({ login: { sourceThreshold: 0 } }), { code: 'LOCKOUT_CONFIG_INVALID' });
  assert.throws(() => validateOwnerApiConfig({ idleTimeoutMs: 10 }), { code: 'SESSION_CONFIG_INVALID' });
  assert.ok(validateOwnerApiConfig({}));
});
