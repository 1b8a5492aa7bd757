import { test } from 'node:test';
import assert from 'node:assert/strict';
import { portArgument } from './arguments.ts';
import { ConfigError } from '../errors/index.ts';

test('a port argument is a whole number from 0 to 65535', () => {
  assert.equal(portArgument('0', 'webPort', 'DEVICE_CONFIG_INVALID'), 0);
  assert.equal(portArgument('8443', 'webPort', 'DEVICE_CONFIG_INVALID'), 8443);
  assert.equal(portArgument('65535', 'webPort', 'DEVICE_CONFIG_INVALID'), 65535);
});

test('a port argument that is not a port is refused with the given code, naming the option', () => {
  for (const value of ['65536', '-1', 'abc', '', '1e3', ' 80', '80 ', '0x50', '8443.0', '123456']) {
    assert.throws(
      () => portArgument(value, 'hubPort', 'HUB_CONFIG_INVALID'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, value);
        assert.equal(err.code, 'HUB_CONFIG_INVALID');
        assert.equal(err.key, 'hubPort');
        assert.match(err.message, /^hubPort: must be a port number 0\.\.65535$/);
        return true;
      },
    );
  }
});

test('a port argument below the given minimum is refused', () => {
  assert.throws(() => portArgument('0', 'port', 'HUB_CONFIG_INVALID', 1), /port: must be a port number 1\.\.65535/);
  assert.equal(portArgument('1', 'port', 'HUB_CONFIG_INVALID', 1), 1);
});
