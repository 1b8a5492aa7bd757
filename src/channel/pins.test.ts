import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { hasCode } from '../errors/index.ts';
import { pinnedPeers } from './index.ts';

test('finds the peer whose pin matches and refuses any other key', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const lookup = pinnedPeers([[a, 'hub-a'], [b, 'hub-b']]);
  assert.equal(lookup(Buffer.from(a)), 'hub-a');
  assert.equal(lookup(Buffer.from(b)), 'hub-b');
  assert.equal(lookup(randomBytes(32)), undefined);
  assert.equal(lookup(a.subarray(0, 31)), undefined);
  assert.equal(lookup(Buffer.alloc(0)), undefined);
});

test('a pin set is a snapshot: changing the caller\'s buffer later changes nothing', () => {
  const pin = createHash('sha256').update('k').digest();
  const lookup = pinnedPeers([[pin, 1]]);
  const copy = Buffer.from(pin);
  pin.fill(0);
  assert.equal(lookup(copy), 1);
});

test('refuses pins that are not 32 bytes', () => {
  assert.throws(() => pinnedPeers([[Buffer.alloc(20), 'x']]), (e) => hasCode(e, 'CHANNEL_CONFIG_INVALID'));
});
