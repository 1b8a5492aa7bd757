import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelRequestError } from '../channel/index.ts';
import { CapabilityError } from './capabilities.ts';
import { channelValueOf, requestErrorOf } from './hub-link.ts';

test('scalars go on the channel as they are; nothing becomes null', () => {
  assert.equal(channelValueOf(true), true);
  assert.equal(channelValueOf(42.5), 42.5);
  assert.equal(channelValueOf('locked'), 'locked');
  assert.equal(channelValueOf(null), null);
  assert.equal(channelValueOf(undefined), null);
});

test('other values go as JSON text, and text over 256 characters is refused as unavailable', () => {
  assert.equal(channelValueOf({ contentType: 'image/png' }), '{"contentType":"image/png"}');
  assert.equal(channelValueOf('x'.repeat(256)), 'x'.repeat(256));
  for (const big of ['x'.repeat(257), { data: 'x'.repeat(300) }]) {
    assert.throws(
      () => channelValueOf(big),
      (err: unknown) => err instanceof ChannelRequestError && err.remoteCode === 'UNAVAILABLE',
    );
  }
});

test('each capability error becomes its channel refusal, keeping its message', () => {
  const cases = [
    ['UNKNOWN_CAPABILITY', 'UNKNOWN_CAPABILITY'],
    ['UNKNOWN_ACTION', 'UNKNOWN_ACTION'],
    ['CAPABILITY_VALUE_INVALID', 'BAD_VALUE'],
    ['CAPABILITY_UNAVAILABLE', 'UNAVAILABLE'],
  ] as const;
  for (const [code, channelCode] of cases) {
    const mapped = requestErrorOf(new CapabilityError(code, `because ${code}`));
    assert.equal(mapped.remoteCode, channelCode);
    assert.equal(mapped.message, `because ${code}`);
  }
});

test('a channel refusal passes through; anything else is an internal error that says nothing', () => {
  const denied = new ChannelRequestError('CAPABILITY_DENIED', 'no');
  assert.equal(requestErrorOf(denied), denied);
  const internal = requestErrorOf(new Error('/var/lib/bulwark/secret.json: EACCES'));
  assert.equal(internal.remoteCode, 'INTERNAL');
  assert.equal(internal.message, 'internal error');
});
