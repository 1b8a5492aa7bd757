import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProfile, validateProfile, DEFAULT_PROFILE_LIMITS } from './profile.ts';
import type { ModelResolver } from './profile.ts';
import { decide } from './decide.ts';
import { ProfileError } from './errors.ts';
import { ConfigError, hasCode } from '../errors/index.ts';
import { getModel, type ModelSpec } from '../models/index.ts';

const VALID = `
model: plug
maker: Example Devices Ltd
networkModels: [listening, cloud]
personalData: true
internetExposed: false
securityContact: mailto:security@example.com
`;

/** The built-in models only, as a profile file's resolver finds them by id. */
const builtIn: ModelResolver = (ref) => getModel(ref);

/** A resolver that knows one maker's model under the reference `maker.model.json`. */
function makerModel(changes: Partial<Record<keyof ModelSpec, unknown>>): ModelResolver {
  const spec = { ...getModel('plug'), id: 'maker-thing', name: 'Maker Thing', ...changes } as ModelSpec;
  return (ref) => (ref === 'maker.model.json' ? spec : getModel(ref));
}

function rejects(text: string, code: string, key: string, resolve: ModelResolver = builtIn): void {
  assert.throws(
    () => parseProfile(text, resolve),
    (err: unknown) => {
      assert.ok(err instanceof ProfileError, `expected ProfileError, got ${String(err)}`);
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, code, err.message);
      assert.equal(err.key, key, err.message);
      return true;
    },
  );
}

test("takes the product's name, sensors, actuators and support period from the model it names", () => {
  const plug = getModel('plug');
  assert.deepEqual(parseProfile(VALID, builtIn), {
    model: plug.name,
    modelId: 'plug',
    maker: 'Example Devices Ltd',
    networkModels: ['listening', 'cloud'],
    sensors: plug.sensors,
    actuators: plug.actuators,
    personalData: true,
    internetExposed: false,
    supportPeriodEnd: plug.supportPeriod.endsOn,
    securityContact: 'mailto:security@example.com',
  });
});

test('optional keys may be left out, and a model without sensors gives an empty list', () => {
  const p = parseProfile('model: bulb\nnetworkModels: [hub]\npersonalData: false\ninternetExposed: false\n', builtIn);
  assert.equal(p.maker, undefined);
  assert.equal(p.securityContact, undefined);
  assert.deepEqual(p.sensors, []);
});

test('refuses sensors, actuators or a support period in the profile: the model states them', () => {
  for (const [key, line] of [
    ['sensors', 'sensors: [power-meter]'],
    ['actuators', 'actuators: [power]'],
    ['supportPeriodEnd', 'supportPeriodEnd: 2031-12-31'],
  ] as const) {
    rejects(`${VALID}${line}\n`, 'PROFILE_STATED_BY_MODEL', key);
    assert.throws(
      () => parseProfile(`${VALID}${line}\n`, builtIn),
      (err: unknown) => /stated by the model file.*state it once/.test((err as Error).message),
    );
  }
});

test("a maker's model of risk class lock is audited as a lock, whatever its actuators say", () => {
  const resolve = makerModel({ riskClass: 'lock', sensors: ['contact'], actuators: ['motor'] });
  const p = parseProfile(VALID.replace('model: plug', 'model: maker.model.json'), resolve);
  assert.deepEqual(p.actuators, ['lock', 'motor']);
  assert.equal(p.modelId, 'maker-thing');
  assert.equal(decide(p).tier, decide(parseProfile(VALID.replace('model: plug', 'model: lock'), builtIn)).tier);
  assert.equal(decide(p).tier, 3);
});

test('a model the resolver cannot find is a profile error naming the model key', () => {
  rejects(VALID.replace('model: plug', 'model: toaster'), 'PROFILE_INVALID', 'model');
  const failing: ModelResolver = () => {
    throw new TypeError('boom');
  };
  rejects(VALID, 'PROFILE_INVALID', 'model', failing);
});

test('refuses a model whose words, date or name the policy cannot use, naming the model key', () => {
  const text = VALID.replace('model: plug', 'model: maker.model.json');
  rejects(text, 'PROFILE_INVALID', 'model', makerModel({ sensors: ['thermometer'] }));
  rejects(text, 'PROFILE_INVALID', 'model', makerModel({ actuators: ['relay'] }));
  rejects(text, 'PROFILE_INVALID', 'model', makerModel({ supportPeriod: { endsOn: '2031-02-30' } }));
  rejects(text, 'PROFILE_INVALID', 'model', makerModel({ name: 'Maker\u001b[31mThing' }));
});

test('refuses an unknown key and names it', () => {
  rejects(VALID + 'debug: true\n', 'PROFILE_UNKNOWN_KEY', 'debug');
});

test('refuses a missing required key and names it', () => {
  rejects(VALID.replace(/^personalData.*$/m, ''), 'PROFILE_MISSING_KEY', 'personalData');
});

test('refuses values of the wrong type, naming the key', () => {
  rejects(VALID.replace('personalData: true', 'personalData: yes'), 'PROFILE_INVALID', 'personalData');
  rejects(VALID.replace('model: plug', 'model: 42'), 'PROFILE_INVALID', 'model');
  rejects(VALID.replace('[listening, cloud]', 'listening'), 'PROFILE_INVALID', 'networkModels');
  rejects(VALID.replace('model: plug', 'model: "  "'), 'PROFILE_INVALID', 'model');
});

test('refuses vocabulary it does not know, naming the list item', () => {
  rejects(VALID.replace('[listening, cloud]', '[listening, bluetooth]'), 'PROFILE_INVALID', 'networkModels[1]');
  rejects(VALID.replace('[listening, cloud]', '[cloud, cloud]'), 'PROFILE_INVALID', 'networkModels[1]');
});

test('requires at least one network model', () => {
  rejects(VALID.replace('[listening, cloud]', '[]'), 'PROFILE_INVALID', 'networkModels');
});

test('accepts only mailto:, https: and tel: security contacts', () => {
  assert.equal(
    parseProfile(VALID.replace('mailto:security@example.com', 'https://example.com/security'), builtIn).securityContact,
    'https://example.com/security',
  );
  rejects(VALID.replace('mailto:security@example.com', 'javascript:alert(1)'), 'PROFILE_INVALID', 'securityContact');
  rejects(VALID.replace('mailto:security@example.com', 'http://example.com'), 'PROFILE_INVALID', 'securityContact');
  rejects(VALID.replace('mailto:security@example.com', 'security team'), 'PROFILE_INVALID', 'securityContact');
});

test('refuses control characters in names and model references', () => {
  rejects(VALID.replace('model: plug', 'model: "pl\\u001b[31mug"'), 'PROFILE_INVALID', 'model');
  rejects(VALID.replace('maker: Example Devices Ltd', 'maker: "Ex\\u0007ample"'), 'PROFILE_INVALID', 'maker');
});

test('refuses input over the size limit before parsing it', () => {
  const big = VALID + `# ${'x'.repeat(DEFAULT_PROFILE_LIMITS.maxProfileBytes)}\n`;
  rejects(big, 'PROFILE_TOO_LARGE', '$');
});

test('refuses malformed YAML, duplicate keys and multiple documents', () => {
  rejects('model: [unclosed\n', 'PROFILE_SYNTAX', '$');
  rejects(VALID + 'model: lock\n', 'PROFILE_SYNTAX', '$');
  rejects(VALID + '---\n' + VALID, 'PROFILE_SYNTAX', '$');
});

test('refuses a document that is not a mapping', () => {
  rejects('- a\n- b\n', 'PROFILE_INVALID', '$');
  rejects('just text', 'PROFILE_INVALID', '$');
  rejects('', 'PROFILE_INVALID', '$');
});

test('refuses YAML aliases, so an alias bomb costs nothing', () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 12; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    lines.push(`${cur}: &${cur} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
  }
  const started = performance.now();
  rejects(lines.join('\n') + '\n', 'PROFILE_INVALID', '$');
  assert.ok(performance.now() - started < 1000, 'alias bomb was expanded');
  rejects(
    VALID.replace('model: plug', 'model: &m plug').replace('maker: Example Devices Ltd', 'maker: *m'),
    'PROFILE_INVALID',
    '$',
  );
});

test('refuses __proto__ as an unknown key rather than polluting anything', () => {
  rejects(VALID + '__proto__: {polluted: true}\n', 'PROFILE_UNKNOWN_KEY', '__proto__');
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('validateProfile checks already-parsed values the same way', () => {
  assert.throws(
    () => validateProfile(null, builtIn),
    (err: unknown) => hasCode(err, 'PROFILE_INVALID'),
  );
  assert.throws(
    () => validateProfile(new Map(), builtIn),
    (err: unknown) => hasCode(err, 'PROFILE_INVALID'),
  );
});
