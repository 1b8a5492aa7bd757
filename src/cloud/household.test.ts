import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getModel } from '../models/index.ts';
import { parseInvitation, roleMayUse, telemetryForRole } from './household.ts';

test("a guest is refused the lock's bolt but may switch a plug; this check does not limit owners and members", () => {
  const lock = getModel('lock');
  const plug = getModel('plug');
  assert.equal(roleMayUse('guest', lock, 'bolt'), false, 'the bolt is sensitive');
  assert.equal(roleMayUse('guest', plug, 'power'), true);
  assert.equal(roleMayUse('guest', plug, 'no-such-capability'), false, 'an unknown capability is refused');
  assert.equal(roleMayUse('guest', undefined, 'power'), false, 'an unknown model is refused');
  assert.equal(roleMayUse('member', lock, 'bolt'), true);
  assert.equal(roleMayUse('owner', lock, 'bolt'), true);
});

test('an invitation names member or guest; only a guest has an end date, and it must be in the future', () => {
  assert.deepEqual(parseInvitation({ role: 'member' }), { role: 'member', until: null, localName: null });
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const guest = parseInvitation({ role: 'guest', until: tomorrow });
  assert.equal(guest.role, 'guest');
  assert.equal(guest.until, Date.parse(`${tomorrow}T23:59:59Z`), 'until the end of that day, UTC');
  assert.throws(() => parseInvitation({ role: 'owner' }), { code: 'INVALID_INPUT' });
  assert.throws(() => parseInvitation({ role: 'member', until: tomorrow }), { code: 'INVALID_INPUT' });
  assert.throws(() => parseInvitation({ role: 'guest', until: '2001-01-01' }), { code: 'INVALID_INPUT' });
  assert.throws(() => parseInvitation({ role: 'guest', until: 'soon' }), { code: 'INVALID_INPUT' });
});

test("an invitation may carry the person's name on the devices' own pages, in their form", () => {
  assert.equal(parseInvitation({ role: 'member', name: ' Bea ' }).localName, 'bea');
  assert.equal(parseInvitation({ role: 'member', name: '' }).localName, null);
  for (const name of ['b e', 'x'.repeat(33), 'bea/../x', 'é'])
    assert.throws(() => parseInvitation({ role: 'member', name }), { code: 'INVALID_INPUT' }, name);
});

test('parseInvitation never throws anything but a 400 and never yields a role beyond member or guest', () => {
  const value = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null), fc.constant(undefined));
  fc.assert(
    fc.property(
      fc.record({ role: fc.oneof(fc.constantFrom('member', 'guest', 'owner'), value), until: value }),
      (body) => {
        try {
          const r = parseInvitation(body);
          assert.ok(r.role === 'member' || r.role === 'guest');
          assert.ok(r.until === null || (r.role === 'guest' && r.until > Date.now()));
        } catch (err) {
          assert.equal((err as { code?: string }).code, 'INVALID_INPUT');
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("a guest sees no reading of a capability it may not use (the lock's bolt state); members see everything", () => {
  const lock = getModel('lock');
  const sensitive = lock.capabilities.filter((c) => c.sensitive === true).map((c) => c.id);
  assert.ok(sensitive.includes('bolt'));
  const values = Object.fromEntries(lock.capabilities.map((c) => [c.id, 1]));
  const rows = [{ serial: 'LCK-1', seq: 1, at: 0, receivedAt: 0, values }];
  const seen = Object.keys(telemetryForRole(rows, 'guest', lock)[0]!.values);
  for (const id of sensitive) assert.ok(!seen.includes(id), `${id} hidden from a guest`);
  assert.deepEqual(Object.keys(telemetryForRole(rows, 'member', lock)[0]!.values), Object.keys(values));
  assert.deepEqual(telemetryForRole(rows, 'guest', undefined)[0]!.values, {}, 'an unknown model: nothing');
});
