import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode, ConfigError } from '../errors/index.ts';
import { defaultChannelConfig, validateChannelConfig, type ChannelConfig } from './index.ts';

test('the defaults are the secure configuration', () => {
  const c = validateChannelConfig();
  assert.deepEqual(c, defaultChannelConfig);
  assert.equal(c.maxFrameBytes, 65_536);
  assert.equal(c.requestTimeoutMs, 5_000);
  assert.equal(c.keepaliveMs, 15_000);
  assert.equal(c.deadAfterMs, 45_000);
  assert.equal(c.maxInFlight, 64);
  assert.ok(Object.isFrozen(c));
});

test('refuses unsafe and malformed values, naming the key', () => {
  const bad: Array<[keyof ChannelConfig, unknown]> = [
    ['maxFrameBytes', 2 ** 24],
    ['maxFrameBytes', 0],
    ['maxFrameBytes', 1.5],
    ['requestTimeoutMs', 0],
    ['requestTimeoutMs', Infinity],
    ['keepaliveMs', 0],
    ['deadAfterMs', 20_000], // less than twice keepaliveMs
    ['maxInFlight', 0],
    ['maxInFlight', 100_000],
    ['maxQueuedBytes', 1_000],
    ['maxConnections', 0],
    ['handshakeTimeoutMs', 600_000],
    ['resumptionLifetimeMs', 0],
    ['resumptionLifetimeMs', 30 * 86_400_000],
    ['reconnectBaseMs', 0],
    ['reconnectMaxMs', 100], // below the base
    ['reconnectJitter', -0.1],
    ['reconnectJitter', 1.5],
    ['reconnectJitter', Number.NaN],
    ['reconnectMaxAttempts', 0],
    ['keepaliveMs', '15000'],
  ];
  for (const [key, value] of bad) {
    assert.throws(
      () => validateChannelConfig({ [key]: value }),
      (e) => {
        return hasCode(e, 'CHANNEL_CONFIG_INVALID') && e instanceof ConfigError && e.key === key;
      },
      `${key}=${String(value)}`,
    );
  }
});

test('refuses keys that are not channel settings', () => {
  assert.throws(
    () => validateChannelConfig({ rejectUnauthorized: true } as unknown as Partial<ChannelConfig>),
    (e) => e instanceof ConfigError && e.key === 'rejectUnauthorized',
  );
});

test('accepts tight values for tests and a finite attempt cap', () => {
  const c = validateChannelConfig({
    keepaliveMs: 20,
    deadAfterMs: 60,
    requestTimeoutMs: 50,
    reconnectMaxAttempts: 3,
    reconnectJitter: 1,
  });
  assert.equal(c.deadAfterMs, 60);
  assert.equal(c.reconnectMaxAttempts, 3);
});

test('a validated config passes through validation unchanged, and a copy of it is checked again', () => {
  const c = validateChannelConfig({ maxInFlight: 8 });
  assert.equal(validateChannelConfig(c), c);
  assert.throws(
    () => validateChannelConfig({ ...c, maxInFlight: 0 }),
    (e) => e instanceof ConfigError && e.key === 'maxInFlight',
  );
});
