import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceBundle } from '../bundle/index.ts';
import { authorizeDeviceRoute, capabilitySensitive, deviceCookieNameOf, visibleCapabilities } from './users.ts';

/** The part of a lock-and-plug model the role checks read. */
const model = {
  capabilities: [{ id: 'bolt', sensitive: true }, { id: 'power', sensitive: false }, { id: 'energy' }],
} as unknown as DeviceBundle['model'];

const owner = { name: 'admin', role: 'owner' } as const;
const member = { name: 'bea', role: 'member' } as const;
const guest = { name: 'gus', role: 'guest' } as const;
const refused = (err: unknown): boolean => (err as { code?: string }).code === 'ROLE_REFUSED';
const route = (method: string, path: string) => ({ method, path });
const capability = (name: string) => ({ params: { capability: name, action: 'on' } });

test('a route the table does not name is the owner’s alone', () => {
  for (const r of [
    route('POST', '/api/actions/pairing-window'),
    route('POST', '/settings/lockout'),
    route('GET', '/people'),
    route('GET', '/api/journal'),
    route('POST', '/update/file'),
    route('GET', '/some/route/added/later'),
  ]) {
    authorizeDeviceRoute(owner, { params: {} }, r, model);
    assert.throws(() => authorizeDeviceRoute(member, { params: {} }, r, model), refused, r.path);
    assert.throws(() => authorizeDeviceRoute(guest, { params: {} }, r, model), refused, r.path);
  }
});

test('a member uses every capability; a guest only those the model does not mark sensitive', () => {
  const use = route('POST', '/api/capabilities/:capability/:action');
  authorizeDeviceRoute(member, capability('bolt'), use, model);
  authorizeDeviceRoute(guest, capability('power'), use, model);
  authorizeDeviceRoute(guest, capability('energy'), use, model);
  assert.throws(() => authorizeDeviceRoute(guest, capability('bolt'), use, model), refused);
  assert.throws(() => authorizeDeviceRoute(guest, capability('not-in-model'), use, model), refused);
  assert.equal(capabilitySensitive(model, 'not-in-model'), true, 'unknown counts as sensitive');
  const shown = visibleCapabilities(guest, [{ id: 'bolt' }, { id: 'power' }], model).map((c) => c.id);
  assert.deepEqual(shown, ['power']);
  assert.equal(visibleCapabilities(member, [{ id: 'bolt' }], model).length, 1);
});

test('a guest reads the dashboard and changes their own password; only a member reads the software list', () => {
  for (const r of [route('GET', '/'), route('POST', '/password'), route('POST', '/logout')])
    authorizeDeviceRoute(guest, { params: {} }, r, model);
  authorizeDeviceRoute(member, { params: {} }, route('GET', '/software'), model);
  assert.throws(() => authorizeDeviceRoute(guest, { params: {} }, route('GET', '/software'), model), refused);
});

test('each person has their own device cookie; the first owner keeps the one browsers already hold', () => {
  assert.equal(deviceCookieNameOf('admin'), '__Host-bulwark-device');
  assert.equal(deviceCookieNameOf('bea#abcdefghijklmnop'), '__Host-bulwark-device-bea');
});
