import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, etsiCoverageFor, evaluateApplicability, riskFactors } from './decide.ts';
import { CATALOGUE } from './catalogue.ts';
import type { ControlId } from './catalogue.ts';
import { ETSI_OUT_OF_SCOPE, isMandatory, statusConditions } from './etsi.ts';
import { NETWORK_MODELS, SENSORS, ACTUATORS } from './profile.ts';
import type { DeviceProfile } from './profile.ts';

const base: DeviceProfile = {
  model: 'Test',
  modelId: 'test',
  networkModels: ['hub'],
  sensors: [],
  actuators: ['light'],
  personalData: false,
  internetExposed: false,
  supportPeriodEnd: '2030-01-01',
};

function requiredIds(p: DeviceProfile): ControlId[] {
  return decide(p).required.map((r) => r.control.id);
}

const profileArb: fc.Arbitrary<DeviceProfile> = fc.record({
  model: fc.constant('Arb'),
  modelId: fc.constant('arb'),
  networkModels: fc.subarray([...NETWORK_MODELS], { minLength: 1 }),
  sensors: fc.subarray([...SENSORS]),
  actuators: fc.subarray([...ACTUATORS]),
  personalData: fc.boolean(),
  internetExposed: fc.boolean(),
  supportPeriodEnd: fc.constant('2030-01-01'),
});

test('a hub bulb without personal data is tier 1 and gets the hub controls but not PAKE pairing', () => {
  const d = decide(base);
  assert.equal(d.tier, 1);
  const ids = requiredIds(base);
  for (const id of ['PAIR-WINDOW', 'CHANNEL-MUTUAL-TLS', 'UPDATE-SIGNED', 'VULN-DISCLOSURE'] as const)
    assert.ok(ids.includes(id), id);
  for (const id of [
    'PAIR-PAKE-SENSITIVE',
    'AUTH-LOCKOUT',
    'CLOUD-SECURE-CLAIM',
    'PRIVACY-DATA-EXPORT-ERASURE',
  ] as const)
    assert.ok(!ids.includes(id), id);
  assert.match(d.reasons[0] ?? '', /-> tier 1/);
});

test('a camera is tier 3 and needs setup-code pairing, explained in the reasons', () => {
  const camera: DeviceProfile = { ...base, sensors: ['camera', 'microphone'], actuators: [] };
  const d = decide(camera);
  assert.equal(d.tier, 3);
  assert.ok(requiredIds(camera).includes('PAIR-PAKE-SENSITIVE'));
  assert.ok(requiredIds(camera).includes('LOG-NO-SENSOR-CONTENT'));
  const reason = d.reasons.find((r) => r.startsWith('camera -> tier 3 -> '));
  assert.ok(reason, d.reasons.join('\n'));
  assert.match(reason, /setup-code pairing required.*\(PAIR-PAKE-SENSITIVE\)/);
  const pake = d.required.find((r) => r.control.id === 'PAIR-PAKE-SENSITIVE');
  assert.deepEqual(pake?.because, ['uses the hub network model', 'risk tier 3 (camera, microphone) reaches tier 3']);
});

test('a lock is tier 3; personal data, internet exposure and power switching are tier 2', () => {
  assert.equal(decide({ ...base, actuators: ['lock'] }).tier, 3);
  assert.equal(decide({ ...base, personalData: true }).tier, 2);
  assert.equal(decide({ ...base, internetExposed: true }).tier, 2);
  assert.equal(decide({ ...base, actuators: ['power'] }).tier, 2);
  assert.equal(decide({ ...base, sensors: ['temperature', 'humidity'] }).tier, 1);
});

test('personal data brings export and erasure, with the reason', () => {
  const d = decide({ ...base, personalData: true });
  const r = d.required.find((x) => x.control.id === 'PRIVACY-DATA-EXPORT-ERASURE');
  assert.deepEqual(r?.because, ['keeps personal data']);
  assert.ok(
    d.reasons.some((x) => x.startsWith('personal data -> tier 2 -> ') && x.includes('PRIVACY-DATA-EXPORT-ERASURE')),
  );
});

test('a listening-only device needs the web controls and not the hub or cloud ones', () => {
  const p: DeviceProfile = { ...base, networkModels: ['listening'] };
  const d = decide(p);
  const na = new Map(d.notApplicable.map((n) => [n.control.id, n.because]));
  assert.equal(na.get('PAIR-WINDOW'), 'does not use the hub network model');
  assert.equal(na.get('CLOUD-PINNED-CA'), 'does not use the cloud network model');
  for (const id of ['AUTH-UNIQUE-PASSWORD', 'AUTH-LOCKOUT', 'WEB-CSRF', 'NET-NO-UPNP'] as const)
    assert.ok(requiredIds(p).includes(id), id);
});

test('applicability lists match any of their items and all conditions must hold', () => {
  assert.deepEqual(evaluateApplicability({}, base, 1), { applies: true, because: ['baseline for every device'] });
  assert.equal(
    evaluateApplicability({ sensors: ['camera', 'microphone'] }, { ...base, sensors: ['microphone'] }, 3).applies,
    true,
  );
  assert.deepEqual(evaluateApplicability({ networkModels: ['hub'], minTier: 3 }, base, 1), {
    applies: false,
    because: 'risk tier 1 is below tier 3',
  });
  assert.deepEqual(evaluateApplicability({ networkModels: ['listening', 'cloud'] }, base, 1), {
    applies: false,
    because: 'does not use the listening or cloud network model',
  });
});

test('every control is decided exactly once, and every decision has a reason', () => {
  fc.assert(
    fc.property(profileArb, (p) => {
      const d = decide(p);
      const ids = [...d.required, ...d.notApplicable].map((x) => x.control.id);
      assert.deepEqual([...ids].sort(), CATALOGUE.map((c) => c.id).sort());
      for (const r of d.required) assert.ok(r.because.length > 0 && r.because.every((b) => b.length > 0));
      for (const n of d.notApplicable) assert.ok(n.because.length > 0);
      assert.equal(d.tier, Math.max(1, ...riskFactors(p).map((f) => f.tier)));
    }),
    { numRuns: 200 },
  );
});

test('adding a risk never lowers the tier or drops a required control', () => {
  fc.assert(
    fc.property(profileArb, profileArb, (a, extra) => {
      const union = (x: readonly string[], y: readonly string[]) => [...new Set([...x, ...y])];
      const bigger = {
        ...a,
        sensors: union(a.sensors, extra.sensors),
        actuators: union(a.actuators, extra.actuators),
        personalData: a.personalData || extra.personalData,
        internetExposed: a.internetExposed || extra.internetExposed,
      } as DeviceProfile;
      assert.ok(decide(bigger).tier >= decide(a).tier);
      const more = new Set(requiredIds(bigger));
      for (const id of requiredIds(a)) assert.ok(more.has(id), `${id} dropped`);
    }),
    { numRuns: 200 },
  );
});

test('for any profile, every unconditional mandatory ETSI provision is met or explained out of scope', () => {
  fc.assert(
    fc.property(profileArb, (p) => {
      for (const row of etsiCoverageFor(decide(p))) {
        const { status, id } = row.provision;
        if (!isMandatory(status) || statusConditions(status).length > 0) continue;
        assert.ok(
          row.verdict.kind === 'met' || row.verdict.kind === 'out-of-scope',
          `${id} is ${row.verdict.kind} for ${JSON.stringify(p)}`,
        );
      }
    }),
    { numRuns: 200 },
  );
});

test('the product coverage gives a reason for every provision not met', () => {
  const rows = etsiCoverageFor(decide(base));
  assert.equal(rows.length, 68);
  const passwords = rows.find((r) => r.provision.id === '5.1-4');
  assert.equal(passwords?.verdict.kind, 'not-applicable');
  assert.match(passwords?.verdict.kind === 'not-applicable' ? passwords.verdict.reason : '', /listening network model/);
  const secureBoot = rows.find((r) => r.provision.id === '5.7-1');
  assert.deepEqual(secureBoot?.verdict, { kind: 'out-of-scope', reason: ETSI_OUT_OF_SCOPE['5.7-1'] });
});
