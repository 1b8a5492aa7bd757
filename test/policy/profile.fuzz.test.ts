// Property tests of the profile parser: whatever comes in, the only way out is a valid profile
// or a ProfileError naming a key. Never a TypeError, RangeError or hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import {
  parseProfile,
  validateProfile,
  ProfileError,
  NETWORK_MODELS,
  SENSORS,
  ACTUATORS,
} from '../../src/policy/index.ts';
import type { DeviceProfile } from '../../src/policy/index.ts';

const KEYS = [
  'model',
  'networkModels',
  'sensors',
  'actuators',
  'personalData',
  'internetExposed',
  'supportPeriodEnd',
  'maker',
  'securityContact',
];

function parsesOrProfileError(text: string): void {
  try {
    parseProfile(text);
  } catch (err) {
    assert.ok(err instanceof ProfileError, `threw ${String(err)} for ${JSON.stringify(text).slice(0, 200)}`);
    assert.ok(err.key.length > 0 && typeof err.code === 'string');
  }
}

const validProfile: fc.Arbitrary<DeviceProfile> = fc.record(
  {
    model: fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((s) => s.trim().length > 0 && !/\p{Cc}/u.test(s))
      .map((s) => s.trim()),
    networkModels: fc.subarray([...NETWORK_MODELS], { minLength: 1 }),
    sensors: fc.subarray([...SENSORS]),
    actuators: fc.subarray([...ACTUATORS]),
    personalData: fc.boolean(),
    internetExposed: fc.boolean(),
    supportPeriodEnd: fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
  },
  { noNullPrototype: true },
);

test('arbitrary text never crashes the parser', () => {
  fc.assert(fc.property(fc.string({ maxLength: 400 }), parsesOrProfileError), { numRuns: 500 });
});

test('arbitrary YAML-shaped values never crash the parser', () => {
  const value = fc.anything({ maxDepth: 3, withNullPrototype: true, withMap: false, withSet: false });
  fc.assert(
    fc.property(value, (v) => {
      let text: string | undefined;
      try {
        text = stringify(v);
      } catch {
        return; // not representable as YAML: nothing to parse
      }
      if (typeof text === 'string') parsesOrProfileError(text);
    }),
    { numRuns: 300 },
  );
});

test('near-valid profiles (one key mutated or added) fail with the key named', () => {
  const mutation = fc.record({
    key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })),
    value: fc.anything({ maxDepth: 2 }),
  });
  fc.assert(
    fc.property(validProfile, mutation, (profile, { key, value }) => {
      const mutated: Record<string, unknown> = { ...profile, [key]: value };
      let text: string | undefined;
      try {
        text = stringify(mutated);
      } catch {
        return;
      }
      if (typeof text !== 'string') return;
      try {
        parseProfile(text);
      } catch (err) {
        assert.ok(err instanceof ProfileError, String(err));
        // The key at fault is the mutated one (or one of its list items), or the document for YAML-level problems.
        assert.ok(
          err.key === '$' ||
            err.key === key ||
            err.key.startsWith(`${key}[`) ||
            err.key === JSON.stringify(key) ||
            (key.length > 40 && err.key.startsWith(key.slice(0, 40))),
          `${err.key} vs ${key}: ${err.message}`,
        );
      }
    }),
    { numRuns: 300 },
  );
});

test('any valid profile survives a YAML round trip unchanged', () => {
  fc.assert(
    fc.property(validProfile, (profile) => {
      assert.deepEqual(parseProfile(stringify(profile)), profile);
      assert.deepEqual(validateProfile(JSON.parse(JSON.stringify(profile))), profile);
    }),
    { numRuns: 300 },
  );
});

test('deeply nested and alias-heavy documents are refused quickly', () => {
  const started = performance.now();
  const deep = 'model: ' + '['.repeat(5000) + ']'.repeat(5000) + '\n';
  parsesOrProfileError(deep);
  let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 30; i++)
    bomb += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  parsesOrProfileError(bomb);
  assert.ok(performance.now() - started < 5000, 'took too long');
});
