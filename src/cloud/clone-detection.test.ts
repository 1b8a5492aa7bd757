import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloneWatch, validateCloneDetectionConfig } from './clone-detection.ts';

const SERIAL = 'PLG-ABCDEFGH23';

function watch(config = {}) {
  const notes: string[] = [];
  const flags: Array<[string, number]> = [];
  const revoked: string[] = [];
  let now = 1_000_000;
  const w = new CloneWatch({
    config,
    store: {
      flagClone: (serial, takeovers) => {
        flags.push([serial, takeovers]);
        return Promise.resolve(flags.length === 1);
      },
    },
    note: (_source, event) => notes.push(event),
    revoke: (serial) => Promise.resolve(revoked.push(serial)),
    log: () => undefined,
    now: () => now,
  });
  const takeover = (previousAlive = true, clientId = SERIAL): void =>
    w.takeover({ clientId, source: '10.0.0.2:4000', previousSource: '10.0.0.1:4000', previousAlive });
  return { notes, flags, revoked, takeover, advance: (ms: number) => (now += ms) };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a unit reconnecting over its own dead connection is never counted', async () => {
  const w = watch();
  for (let i = 0; i < 10; i++) w.takeover(false);
  await settle();
  assert.deepEqual([w.notes, w.flags], [[], []]);
});

test('the second live takeover within the window flags the unit; nothing is revoked by default', async () => {
  const w = watch();
  w.takeover();
  await settle();
  assert.deepEqual(w.flags, []);
  w.takeover();
  await settle();
  assert.deepEqual(w.flags, [[SERIAL, 2]]);
  assert.deepEqual(w.notes, ['identity-in-two-places', 'identity-in-two-places', 'clone-suspected']);
  for (let i = 0; i < 20; i++) w.takeover();
  await settle();
  assert.deepEqual(w.revoked, []);
  assert.equal(w.notes.filter((n) => n === 'identity-in-two-places').length, 2, 'a flood is not journalled one by one');
});

test('takeovers further apart than the window do not add up, and service identities are not units', async () => {
  const w = watch({ windowMs: 60_000 });
  w.takeover();
  w.advance(61_000);
  w.takeover();
  w.takeover(true, 'bulwark-cloud-1');
  w.takeover(true, 'bulwark-cloud-1');
  await settle();
  assert.deepEqual(w.flags, []);
});

test('with revokeAfter set, the unit is revoked once at that count', async () => {
  const w = watch({ flagAfter: 2, revokeAfter: 3 });
  for (let i = 0; i < 5; i++) w.takeover();
  await settle();
  assert.deepEqual(w.revoked, [SERIAL]);
  assert.ok(w.notes.includes('clone-revoked'));
});

test('unsafe or malformed settings are refused', () => {
  for (const bad of [{ flagAfter: 1 }, { revokeAfter: 1, flagAfter: 2 }, { windowMs: 5 }, { revokeAfter: -1 }]) {
    assert.throws(() => validateCloneDetectionConfig(bad), { code: 'CLOUD_CONFIG_INVALID' });
  }
  assert.equal(validateCloneDetectionConfig().revokeAfter, 0, 'off by default');
});
