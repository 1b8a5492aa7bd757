// Property tests of the profile parser: whatever comes in, the only way out is a valid profile
// or a ProfileError naming a key. Never a TypeError, RangeError or hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseProfile, validateProfile, ProfileError, NETWORK_MODELS } from '../../src/policy/index.ts';
import type { DeviceProfile, ModelResolver } from '../../src/policy/index.ts';
import { MODEL_IDS, getModel } from '../../src/models/index.ts';

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

/** The built-in models, found by id as a profile file's resolver finds them. */
const builtIn: ModelResolver = (ref) => getModel(ref);

function parsesOrProfileError(text: string): void {
  try {
    parseProfile(text, builtIn);
  } catch (err) {
    assert.ok(err instanceof ProfileError, `threw ${String(err)} for ${JSON.stringify(text).slice(0, 200)}`);
    assert.ok(err.key.length > 0 && typeof err.code === 'string');
  }
}

/** What a person writes in a valid profile: the model's id and the facts the model does not carry. */
const validSource = fc.record(
  {
    model: fc.constantFrom(...MODEL_IDS),
    networkModels: fc.subarray([...NETWORK_MODELS], { minLength: 1 }),
    personalData: fc.boolean(),
    internetExposed: fc.boolean(),
    maker: fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((s) => s.trim().length > 0 && !/\p{Cc}/u.test(s))
      .map((s) => s.trim()),
  },
  { noNullPrototype: true },
);

/** The profile a source resolves to: its own keys, and the model's name, sensors, actuators and support period. */
function expected(source: { model: string } & Record<string, unknown>): DeviceProfile {
  const spec = getModel(source.model);
  const actuators = spec.riskClass === 'lock' ? new Set(['lock', ...spec.actuators]) : new Set(spec.actuators);
  return {
    ...source,
    model: spec.name,
    modelId: spec.id,
    sensors: [...spec.sensors],
    actuators: [...actuators],
    supportPeriodEnd: spec.supportPeriod.endsOn,
  } as unknown as DeviceProfile;
}

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
    fc.property(validSource, mutation, (profile, { key, value }) => {
      const mutated: Record<string, unknown> = { ...profile, [key]: value };
      let text: string | undefined;
      try {
        text = stringify(mutated);
      } catch {
        return;
      }
      if (typeof text !== 'string') return;
      try {
        parseProfile(text, builtIn);
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

test("any valid profile, as YAML or as JSON, resolves to its own keys and its model's facts", () => {
  fc.assert(
    fc.property(validSource, (source) => {
      assert.deepEqual(parseProfile(stringify(source), builtIn), expected(source));
      assert.deepEqual(validateProfile(JSON.parse(JSON.stringify(source)), builtIn), expected(source));
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
