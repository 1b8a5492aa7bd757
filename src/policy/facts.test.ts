import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getModel, readModelFile } from '../models/index.ts';
import { hasCode } from '../errors/index.ts';
import {
  buildFactsRecord,
  factsRecordPath,
  parseFactsRecord,
  serializeFactsRecord,
  MAX_FACTS_RECORD_BYTES,
  type FactsInput,
  type FactsRecord,
} from './facts.ts';
import { FactsRecordError } from './errors.ts';
import { loadExampleProfile } from './load.ts';

const plug = getModel('plug');
const profile = await loadExampleProfile('plug');
const BASE = 'https://cloud.example.com';

function input(over: Partial<FactsInput> = {}): FactsInput {
  return {
    model: plug,
    version: '1.1.0',
    profile,
    baseUrl: BASE,
    conformityUrl: 'https://example.com/conformity/plug.pdf',
    automaticUpdates: true,
    release: { model: 'plug', version: '1.1.0', sbom: 'plug/image.cdx.json', supportEndsOn: '2032-06-30' },
    ...over,
  };
}

type Doc = Record<string, unknown>;
const doc = (): Doc => JSON.parse(serializeFactsRecord(buildFactsRecord(input()))) as Doc;

/** Sets `path` ('a.b') in a copy of a valid record, or deletes it with `undefined`. */
function withField(path: string, value: unknown): string {
  const d = doc();
  const keys = path.split('.');
  let at = d;
  for (const k of keys.slice(0, -1)) at = at[k] as Doc;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return JSON.stringify(d);
}

/** The field a parse refuses, or 'accepted'. */
function refusedField(text: string): string {
  try {
    parseFactsRecord(text);
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof FactsRecordError, String(err));
    assert.equal(err.code, 'FACTS_RECORD_INVALID');
    assert.match(err.message, new RegExp(`^${err.field.replace(/[.[\]$()]/g, '\\$&')}: `));
    return err.field;
  }
}

test('a built record of a built-in model validates, sits at /facts/<model>/<version>.json and round-trips', () => {
  const r = buildFactsRecord(input());
  assert.equal(r.url, 'https://cloud.example.com/facts/plug/1.1.0.json');
  assert.equal(factsRecordPath('plug', '1.1.0'), '/facts/plug/1.1.0.json');
  assert.deepEqual(r.product, { model: 'plug', name: plug.name, version: '1.1.0' });
  assert.deepEqual(r.maker, { name: 'Bulwark Reference Devices', contact: 'mailto:security@bulwark.invalid' });
  assert.deepEqual(r.vulnerabilityReporting, {
    contact: ['mailto:security@bulwark.invalid'],
    policy: 'https://cloud.example.com/security/policy',
  });
  assert.equal(r.automaticUpdates.default, 'on');
  assert.match(r.automaticUpdates.howToTurnOff, /Turn automatic updates off/);
  assert.equal(r.password.initial, plug.initialPasswordMode);
  // The plug is a listening and a cloud product: setting up and checking, for each.
  assert.equal(r.secureSetup.length, 4);
  assert.deepEqual(parseFactsRecord(serializeFactsRecord(r)), r);
});

test('the support date and the SBOM come from the release repository, else from the model with no SBOM stated', () => {
  const released = buildFactsRecord(input());
  assert.equal(released.support.endsOn, '2032-06-30');
  assert.deepEqual(released.sbom, { available: true, format: 'CycloneDX', target: 'plug/image.cdx.json' });
  // An older release names no support date in its signed data: the model's.
  const older = buildFactsRecord(input({ release: { model: 'plug', version: '1.1.0', sbom: 'plug/image.cdx.json' } }));
  assert.equal(older.support.endsOn, plug.supportPeriod.endsOn);
  const { release: _release, ...noRelease } = input();
  const bare = buildFactsRecord(noRelease);
  assert.equal(bare.support.endsOn, plug.supportPeriod.endsOn);
  assert.deepEqual(bare.sbom, { available: false });
});

test('a release repository that publishes another version or model is refused, naming the field', () => {
  const other = (release: FactsInput['release']): string => {
    try {
      buildFactsRecord(input({ release }));
      return 'built';
    } catch (err) {
      assert.ok(hasCode(err, 'FACTS_RELEASE_MISMATCH'), String(err));
      return (err as FactsRecordError).field;
    }
  };
  assert.equal(other({ model: 'plug', version: '1.2.0' }), 'product.version');
  assert.equal(other({ model: 'bulb', version: '1.1.0' }), 'product.model');
});

test('bad inputs to a build are refused naming the field: base URL, maker, version, conformity URL', () => {
  const field = (over: Partial<FactsInput>): string => {
    try {
      buildFactsRecord(input(over));
      return 'built';
    } catch (err) {
      assert.ok(hasCode(err, 'FACTS_RECORD_INVALID'), String(err));
      return (err as FactsRecordError).field;
    }
  };
  assert.equal(field({ baseUrl: 'http://cloud.example.com' }), 'url');
  assert.equal(field({ baseUrl: 'https://cloud.example.com/some/path' }), 'url');
  assert.equal(field({ profile: { ...profile, maker: undefined } }), 'maker.name');
  assert.equal(field({ version: '1.1', release: undefined }), 'product.version');
  assert.equal(field({ conformityUrl: 'ftp://example.com/doc' }), 'declarationOfConformity.url');
  assert.equal(field({ makerContact: 'maker@example.com' }), 'maker.contact');
  const badContact = { securityContacts: ['security@example.com'], makerContact: 'https://example.com/contact' };
  assert.equal(field(badContact), 'vulnerabilityReporting.contact[0]');
});

test("a maker's model file builds a record with its own name and password mode", () => {
  const file = fileURLToPath(new URL('../../examples/thermostat-driver/thermostat.model.json', import.meta.url));
  const model = readModelFile(file);
  const r = buildFactsRecord(
    input({
      model,
      profile: { ...profile, modelId: model.id, networkModels: ['listening'] },
      release: undefined,
      securityContacts: ['https://thermo.example.com/security'],
    }),
  );
  assert.equal(r.url, `https://cloud.example.com/facts/${model.id}/1.1.0.json`);
  assert.equal(r.product.name, model.name);
  assert.equal(r.password.initial, model.initialPasswordMode);
  assert.equal(r.secureSetup.length, 2);
});

test('a record missing any required field is refused, naming it', () => {
  const required = [
    'schema',
    'url',
    'product',
    'product.model',
    'product.name',
    'product.version',
    'maker',
    'maker.name',
    'maker.contact',
    'support',
    'support.endsOn',
    'automaticUpdates',
    'automaticUpdates.default',
    'automaticUpdates.howToTurnOff',
    'password',
    'password.initial',
    'password.howToChange',
    'secureSetup',
    'sbom',
    'sbom.available',
    'vulnerabilityReporting',
    'vulnerabilityReporting.contact',
    'vulnerabilityReporting.policy',
    'declarationOfConformity',
    'declarationOfConformity.url',
  ];
  for (const path of required) assert.equal(refusedField(withField(path, undefined)), path, path);
});

test('a field of the wrong type or value is refused, naming it', () => {
  const wrong: Array<[string, unknown, string?]> = [
    ['automaticUpdates.default', true],
    ['automaticUpdates.default', 'sometimes'],
    ['support.endsOn', 20310101],
    ['support.endsOn', '31 December 2031'],
    ['sbom.available', 'yes'],
    ['secureSetup', 'set it up'],
    ['secureSetup', [], 'secureSetup'],
    ['product.version', '1.1.0-beta'],
    ['product', 'plug'],
    ['password.initial', 'admin'],
    ['vulnerabilityReporting.contact', 'mailto:security@example.com'],
    ['vulnerabilityReporting.policy', 'http://example.com/policy'],
    ['maker.name', ''],
    ['schema', 'bulwark.facts/v2'],
  ];
  for (const [path, value] of wrong)
    assert.equal(refusedField(withField(path, value)), path, `${path} = ${JSON.stringify(value)}`);
  assert.equal(refusedField(withField('support.reason', 'extra')), 'support.reason');
  assert.equal(refusedField(withField('secureSetup', ['ok', 7])), 'secureSetup[1]');
});

test('the rules beside the schema: a real date, the record at its own URL, an SBOM with its place', () => {
  assert.equal(refusedField(withField('support.endsOn', '2031-02-30')), 'support.endsOn');
  assert.equal(refusedField(withField('url', 'https://cloud.example.com/facts/plug/1.2.0.json')), 'url');
  assert.equal(refusedField(withField('url', 'https://cloud.example.com/facts/plug/1.1.0.json?x=1')), 'url');
  assert.equal(refusedField(withField('sbom.target', undefined)), 'sbom.target');
  assert.equal(refusedField(withField('sbom', { available: false, target: 'plug/image.cdx.json' })), 'sbom.available');
  assert.equal(refusedField('{"schema":'), '$');
  assert.equal(refusedField('[]'), '$');
  assert.equal(refusedField(' '.repeat(MAX_FACTS_RECORD_BYTES + 1)), '$');
  // Another origin is fine: the record may be served from the maker's own host name.
  assert.equal(refusedField(withField('url', 'https://facts.example.org/facts/plug/1.1.0.json')), 'accepted');
});

test('the shipped JSON Schema, run by ajv, accepts and refuses the same documents the schema states', () => {
  const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020') as new (o: object) => {
    compile(s: object): (d: unknown) => boolean;
  };
  const schema = JSON.parse(
    readFileSync(new URL('../../schemas/facts.v1.schema.json', import.meta.url), 'utf8'),
  ) as object;
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  const good: FactsRecord = buildFactsRecord(input());
  assert.ok(validate(JSON.parse(JSON.stringify(good))));
  for (const [path, value] of [
    ['support', undefined],
    ['automaticUpdates.default', true],
    ['sbom.available', 'yes'],
    ['maker.extra', 'x'],
  ] as const)
    assert.equal(validate(JSON.parse(withField(path, value))), false, path);
  // The rules beside the schema are bulwark's: ajv takes an impossible date that has the right form.
  assert.equal(validate(JSON.parse(withField('support.endsOn', '2031-02-30'))), true);
});
