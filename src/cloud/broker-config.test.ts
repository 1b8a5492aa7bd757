import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMosquittoConf, renderMosquittoAcl, validateMosquittoSettings } from './broker-config.ts';

const paths = {
  aclFile: '/b/acl',
  caFile: '/b/ca.pem',
  certFile: '/b/c.pem',
  keyFile: '/b/k.pem',
  persistenceDir: '/b/data',
};

test('the Mosquitto configuration requires certificates and takes the identity from them', () => {
  const conf = renderMosquittoConf(validateMosquittoSettings(), paths);
  for (const line of [
    'allow_anonymous false',
    'require_certificate true',
    'use_identity_as_username true',
    'use_username_as_clientid true',
    'tls_version tlsv1.3',
    'persistence true',
    'max_queued_messages 2000000',
    'acl_file /b/acl',
    'listener 8883 127.0.0.1',
    'persistence_location /b/data/',
  ]) {
    assert.ok(conf.split('\n').includes(line), line);
  }
  // use_username_as_clientid must follow the listener it belongs to, or Mosquitto ignores it there.
  assert.ok(conf.indexOf('use_username_as_clientid') > conf.indexOf('listener '));
});

test('the ACL confines devices to their own topics and lets only the cloud instances read', () => {
  const acl = renderMosquittoAcl(validateMosquittoSettings({ instances: ['1', 'b'] }));
  assert.match(acl, /^user bulwark-cloud-1$/m);
  assert.match(acl, /^user bulwark-cloud-b$/m);
  assert.match(acl, /^topic read devices\/\+\/telemetry$/m);
  assert.match(acl, /^pattern write devices\/%u\/telemetry$/m);
  assert.match(acl, /^pattern read devices\/%u\/commands$/m);
  assert.doesNotMatch(acl, /^pattern (read|readwrite) devices\/%u\/telemetry$/m, 'a device does not read telemetry');
  assert.doesNotMatch(acl, /#/.source === '#' ? /^topic .*#/m : /$^/);
});

test('queue bounds that would drop acknowledged messages are refused', () => {
  assert.throws(() => validateMosquittoSettings({ maxQueuedMessages: 1000 }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'maxQueuedMessages',
  });
  assert.throws(() => validateMosquittoSettings({ instances: ['Bad/Name'] }), { code: 'INVALID_INPUT' });
  assert.throws(() => validateMosquittoSettings({ host: '1.2.3.4\nlistener 1883' }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'host',
  });
  assert.throws(() => validateMosquittoSettings({ user: 'root\nallow_anonymous true' }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'user',
  });
});
