import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProfile, validateProfile, DEFAULT_PROFILE_LIMITS } from './profile.ts';
import { ProfileError } from './errors.ts';
import { ConfigError, hasCode } from '../errors/index.ts';

const VALID = `
model: Demo Plug
maker: Example Devices Ltd
networkModels: [listening, cloud]
sensors: [power-meter]
actuators: [power]
personalData: true
internetExposed: false
supportPeriodEnd: 2031-12-31
securityContact: mailto:security@example.com
`;

function rejects(text: string, code: string, key: string): void {
  assert.throws(
    () => parseProfile(text),
    (err: unknown) => {
      assert.ok(err instanceof ProfileError, `expected ProfileError, got ${String(err)}`);
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, code, err.message);
      assert.equal(err.key, key, err.message);
      return true;
    },
  );
}

test('parses a complete profile', () => {
  const p = parseProfile(VALID);
  assert.deepEqual(p, {
    model: 'Demo Plug',
    maker: 'Example Devices Ltd',
    networkModels: ['listening', 'cloud'],
    sensors: ['power-meter'],
    actuators: ['power'],
    personalData: true,
    internetExposed: false,
    supportPeriodEnd: '2031-12-31',
    securityContact: 'mailto:security@example.com',
  });
});

test('optional keys may be left out and lists may be empty', () => {
  const p = parseProfile(
    'model: B\nnetworkModels: [hub]\nsensors: []\nactuators: []\npersonalData: false\ninternetExposed: ' +
      'false\nsupportPeriodEnd: 2030-01-01\n',
  );
  assert.equal(p.maker, undefined);
  assert.equal(p.securityContact, undefined);
  assert.deepEqual(p.sensors, []);
});

test('refuses an unknown key and names it', () => {
  rejects(VALID + 'debug: true\n', 'PROFILE_UNKNOWN_KEY', 'debug');
});

test('refuses a missing required key and names it', () => {
  rejects(VALID.replace(/^personalData.*$/m, ''), 'PROFILE_MISSING_KEY', 'personalData');
});

test('refuses values of the wrong type, naming the key', () => {
  rejects(VALID.replace('personalData: true', 'personalData: yes'), 'PROFILE_INVALID', 'personalData');
  rejects(VALID.replace('model: Demo Plug', 'model: 42'), 'PROFILE_INVALID', 'model');
  rejects(VALID.replace('sensors: [power-meter]', 'sensors: power-meter'), 'PROFILE_INVALID', 'sensors');
  rejects(VALID.replace('model: Demo Plug', 'model: "  "'), 'PROFILE_INVALID', 'model');
});

test('refuses vocabulary it does not know, naming the list item', () => {
  rejects(VALID.replace('[listening, cloud]', '[listening, bluetooth]'), 'PROFILE_INVALID', 'networkModels[1]');
  rejects(VALID.replace('sensors: [power-meter]', 'sensors: [power-meter, xray]'), 'PROFILE_INVALID', 'sensors[1]');
  rejects(VALID.replace('actuators: [power]', 'actuators: [power, power]'), 'PROFILE_INVALID', 'actuators[1]');
});

test('requires at least one network model', () => {
  rejects(VALID.replace('[listening, cloud]', '[]'), 'PROFILE_INVALID', 'networkModels');
});

test('requires a real calendar date for the support period', () => {
  rejects(VALID.replace('2031-12-31', '2031-02-30'), 'PROFILE_INVALID', 'supportPeriodEnd');
  rejects(VALID.replace('2031-12-31', '31/12/2031'), 'PROFILE_INVALID', 'supportPeriodEnd');
  rejects(VALID.replace('2031-12-31', '2031-12-31T00:00:00Z'), 'PROFILE_INVALID', 'supportPeriodEnd');
});

test('accepts only mailto:, https: and tel: security contacts', () => {
  assert.equal(
    parseProfile(VALID.replace('mailto:security@example.com', 'https://example.com/security')).securityContact,
    'https://example.com/security',
  );
  rejects(VALID.replace('mailto:security@example.com', 'javascript:alert(1)'), 'PROFILE_INVALID', 'securityContact');
  rejects(VALID.replace('mailto:security@example.com', 'http://example.com'), 'PROFILE_INVALID', 'securityContact');
  rejects(VALID.replace('mailto:security@example.com', 'security team'), 'PROFILE_INVALID', 'securityContact');
});

test('refuses control characters in names', () => {
  rejects(VALID.replace('model: Demo Plug', 'model: "Demo\\u001b[31mPlug"'), 'PROFILE_INVALID', 'model');
});

test('refuses input over the size limit before parsing it', () => {
  const big = VALID + `# ${'x'.repeat(DEFAULT_PROFILE_LIMITS.maxProfileBytes)}\n`;
  rejects(big, 'PROFILE_TOO_LARGE', '$');
});

test('refuses malformed YAML, duplicate keys and multiple documents', () => {
  rejects('model: [unclosed\n', 'PROFILE_SYNTAX', '$');
  rejects(VALID + 'model: Again\n', 'PROFILE_SYNTAX', '$');
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
    VALID.replace('model: Demo Plug', 'model: &m Demo Plug').replace('maker: Example Devices Ltd', 'maker: *m'),
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
    () => validateProfile(null),
    (err: unknown) => hasCode(err, 'PROFILE_INVALID'),
  );
  assert.throws(
    () => validateProfile(new Map()),
    (err: unknown) => hasCode(err, 'PROFILE_INVALID'),
  );
});
