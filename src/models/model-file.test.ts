import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hasCode } from '../errors/index.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ACTUATORS,
  MAX_MODEL_FILE_BYTES,
  SENSORS,
  getModel,
  listModels,
  modelDigest,
  modelFromDocument,
  modelSchema,
  parseModel,
  readModelFile,
  resolveModel,
} from './index.ts';

/** A model document as the tests change it. */
interface Doc {
  [key: string]: unknown;
  capabilities: Array<{ [key: string]: unknown; id: string; value: Record<string, unknown> }>;
  sensors: string[];
  networks: string[];
  supportPeriod: { endsOn: string };
}

/** A valid maker's model: a thermostat. */
function thermostat(): Doc {
  return {
    schema: 'bulwark.model/v1',
    id: 'thermostat',
    name: 'Room Thermostat',
    serialPrefix: 'THM',
    riskClass: 'standard',
    privacyClass: 'standard',
    initialPasswordMode: 'sticker',
    capabilities: [
      {
        id: 'setpoint',
        name: 'Target temperature',
        kind: 'level',
        actions: ['set', 'get'],
        value: { type: 'number', min: 5, max: 30, step: 0.5 },
        unit: 'degC',
        description: 'Target temperature',
      },
      {
        id: 'temperature',
        kind: 'reading',
        actions: ['get'],
        value: { type: 'number', min: -20, max: 60 },
        unit: 'degC',
        description: 'Room temperature',
      },
    ],
    sensors: ['temperature'],
    actuators: ['heating'],
    networks: ['wifi'],
    supportPeriod: { endsOn: '2037-06-30' },
  };
}

/** Each rule broken once: the change, and the path and rule the error must name. */
const MISTAKES: ReadonlyArray<[string, (m: Doc) => void, string]> = [
  ['schema id', (m) => (m.schema = 'bulwark.model/v2'), 'schema: must be "bulwark.model/v1"'],
  ['required field', (m) => delete m.name, 'name: is required'],
  ['unknown field', (m) => (m.colour = 'red'), 'colour: is not allowed here'],
  ['id pattern', (m) => (m.id = 'Thermo Stat'), 'id: must match'],
  ['empty name', (m) => (m.name = ''), 'name: must not be empty'],
  ['name length', (m) => (m.name = 'x'.repeat(65)), 'name: must be at most 64 characters'],
  ['risk enum', (m) => (m.riskClass = 'extreme'), 'riskClass: must be one of'],
  ['type', (m) => (m.capabilities = 'all' as never), 'capabilities: must be a array'],
  ['no capability', (m) => (m.capabilities = []), 'capabilities: must have at least 1'],
  ['repeated sensor', (m) => (m.sensors = ['temperature', 'temperature']), 'sensors: must not repeat an item'],
  ['free sensor word', (m) => (m.sensors = ['temperature', 'thermometer']), 'sensors[1]: must be one of "camera"'],
  ['free actuator word', (m) => (m.actuators = ['relay']), 'actuators[0]: must be one of "lock"'],
  ['value type', (m) => (m.capabilities[0]!.value = { type: 'colour' }), 'capabilities[0].value.type: must be one of'],
  ['range', (m) => (m.capabilities[0]!.value.max = 1), 'capabilities[0].value.max: must be at least min'],
  ['step', (m) => (m.capabilities[0]!.value.step = 0), 'capabilities[0].value.step: must be more than 0'],
  [
    'kind and value',
    (m) => (m.capabilities[0]!.value = { type: 'boolean' }),
    'capabilities[0].value.type: a level takes number',
  ],
  ['repeated id', (m) => (m.capabilities[1]!.id = 'setpoint'), "capabilities[1].id: repeats 'setpoint'"],
  ['reserved id', (m) => (m.capabilities[0]!.id = 'people'), "capabilities[0].id: 'people' is reserved"],
  ['empty display name', (m) => (m.capabilities[0]!.name = ''), 'capabilities[0].name: must not be empty'],
  [
    'display name length',
    (m) => (m.capabilities[0]!.name = 'x'.repeat(41)),
    'capabilities[0].name: must be at most 40 characters',
  ],
  [
    'display name format character',
    (m) => (m.capabilities[0]!.name = 'Heat\u202e'),
    'capabilities[0].name: must match',
  ],
  ['display name spaces', (m) => (m.capabilities[0]!.name = ' Heat'), 'capabilities[0].name: must match'],
  [
    'repeated display name',
    (m) => (m.capabilities[1]!.name = 'target Temperature'),
    "capabilities[1].name: the pages would call it 'target Temperature', as capabilities[0]",
  ],
  ['privacy', (m) => (m.sensors = ['camera']), "privacyClass: must be 'sensitive' for a camera or microphone"],
  ['network', (m) => (m.networks = ['carrier-pigeon']), 'networks[0]: must be one of'],
  ['support date', (m) => (m.supportPeriod.endsOn = '2032-13-45'), 'supportPeriod.endsOn: must be a date'],
  [
    'too many',
    (m) => (m.capabilities = Array.from({ length: 33 }, () => m.capabilities[0]!)),
    'capabilities: must have at most 32',
  ],
];

test('a valid model file gives the model, without its schema fields', () => {
  const model = modelFromDocument(thermostat());
  assert.equal(model.id, 'thermostat');
  assert.equal((model as unknown as Record<string, unknown>).schema, undefined);
  assert.ok(Object.isFrozen(model.capabilities[0]!.value));
});

test('each mistake is refused with its path and rule', () => {
  for (const [what, change, expected] of MISTAKES) {
    const doc = structuredClone<Doc>(thermostat());
    change(doc);
    assert.throws(
      () => modelFromDocument(doc, 'thermostat.json'),
      (err: unknown) => hasCode(err, 'MODEL_FILE_INVALID') && (err as Error).message.includes(expected),
      `${what}: expected '${expected}'`,
    );
  }
});

test('YAML and JSON give the same model, and the digest does not depend on key order', () => {
  const yaml = [
    'schema: bulwark.model/v1',
    'id: thermostat',
    'name: Room Thermostat',
    'serialPrefix: THM',
    'riskClass: standard',
    'privacyClass: standard',
    'initialPasswordMode: sticker',
    'capabilities:',
    '  - { id: setpoint, name: Target temperature, kind: level, actions: [set, get],',
    '      value: { type: number, min: 5, max: 30, step: 0.5 },',
    '      unit: degC, description: Target temperature }',
    '  - { id: temperature, kind: reading, actions: [get], value: { type: number, min: -20, max: 60 },',
    '      unit: degC, description: Room temperature }',
    'sensors: [temperature]',
    'actuators: [heating]',
    'networks: [wifi]',
    'supportPeriod: { endsOn: "2037-06-30" }',
  ].join('\n');
  const fromYaml = parseModel(yaml, 'thermostat.yaml', true);
  const reordered = Object.fromEntries(Object.entries(thermostat()).reverse());
  assert.equal(modelDigest(fromYaml), modelDigest(modelFromDocument(reordered)));
  assert.match(modelDigest(fromYaml), /^sha256:[0-9a-f]{64}$/);
  assert.throws(
    () => parseModel('id: [unclosed', 'bad.yaml', true),
    (e: unknown) => hasCode(e, 'MODEL_FILE_INVALID'),
  );
  assert.throws(
    () => parseModel('a: &x 1\nb: *x', 'alias.yaml', true),
    (e: unknown) => hasCode(e, 'MODEL_FILE_INVALID'),
  );
});

test('the built-in models are model files read by the same code; --model takes an id or a file', () => {
  assert.deepEqual(
    listModels().map((m) => m.id),
    ['bulb', 'camera', 'lock', 'plug', 'sensor'],
  );
  const file = new URL('../../models/lock.model.json', import.meta.url).pathname;
  assert.deepEqual(resolveModel(file), getModel('lock'));
  assert.throws(
    () => resolveModel('./missing.model.json'),
    (e: unknown) => hasCode(e, 'MODEL_FILE_UNREADABLE'),
  );
});

test('the shipped JSON Schema, run by ajv, accepts and refuses the same documents as bulwark', () => {
  const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020') as new (o: object) => {
    compile(s: object): (d: unknown) => boolean;
  };
  const schemaUrl = new URL('../../schemas/model.v1.schema.json', import.meta.url);
  const schema = JSON.parse(readFileSync(schemaUrl, 'utf8')) as object;
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  for (const m of listModels()) {
    const doc = JSON.parse(
      readFileSync(new URL(`../../models/${m.id}.model.json`, import.meta.url), 'utf8'),
    ) as unknown;
    assert.ok(validate(doc), `${m.id} is valid for ajv`);
  }
  assert.ok(validate(thermostat()));
  // Every mistake the schema can express is refused by ajv too; the rest are bulwark's cross rules.
  const crossRules = new Set([
    'range',
    'kind and value',
    'repeated id',
    'repeated display name',
    'privacy',
    'support date',
  ]);
  for (const [what, change] of MISTAKES) {
    const doc = structuredClone<Doc>(thermostat());
    change(doc);
    assert.equal(validate(doc), crossRules.has(what), what);
  }
});

test("the shipped schema's sensor and actuator words are exactly the policy's vocabularies", () => {
  const props = modelSchema().properties!;
  assert.deepEqual(props.sensors!.items!.enum, SENSORS);
  assert.deepEqual(props.actuators!.items!.enum, ACTUATORS);
});

test('a model file that is not a regular file or is too large is refused before it is read whole', () => {
  assert.throws(
    () => readModelFile('/dev/zero'),
    (e: unknown) => hasCode(e, 'MODEL_FILE_UNREADABLE') && /not a regular file/.test((e as Error).message),
  );
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-model-'));
  try {
    const big = join(dir, 'big.model.json');
    writeFileSync(big, ' '.repeat(MAX_MODEL_FILE_BYTES + 1));
    assert.throws(
      () => readModelFile(big),
      (e: unknown) => hasCode(e, 'MODEL_FILE_INVALID') && /is over/.test((e as Error).message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
