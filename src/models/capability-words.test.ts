import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NO_VALUE,
  actionAccessibleName,
  actionLabel,
  afterAction,
  capabilityName,
  getModel,
  valueInWords,
} from './index.ts';

const capabilityOf = (model: string, id: string) => getModel(model).capabilities.find((c) => c.id === id)!;

test("the display name is the model's name, else the id with its first letter capitalised and dashes as spaces", () => {
  assert.equal(capabilityName(capabilityOf('plug', 'energy')), 'Energy use');
  assert.equal(capabilityName(capabilityOf('bulb', 'power')), 'Light');
  assert.equal(capabilityName({ id: 'air-quality' }), 'Air quality');
  assert.equal(capabilityName({ id: 'bolt', name: '  ' }), 'Bolt', 'a blank name is no name');
});

test('a value reads in words with the model unit, and no value is a dash', () => {
  const energy = capabilityOf('plug', 'energy');
  assert.equal(valueInWords(energy, 12), '12 W');
  assert.equal(valueInWords(energy, 12.3456), '12.35 W');
  assert.equal(valueInWords(capabilityOf('bulb', 'brightness'), 40), '40%');
  assert.equal(valueInWords(capabilityOf('sensor', 'temperature'), -0.001), '0°C');
  assert.equal(valueInWords(capabilityOf('plug', 'power'), true), 'On');
  assert.equal(valueInWords(capabilityOf('plug', 'power'), false), 'Off');
  assert.equal(valueInWords(capabilityOf('lock', 'bolt'), 'unlocked'), 'Unlocked');
  assert.equal(valueInWords({ id: 'door', kind: 'lock' }, 'half-open'), 'Half open');
  for (const none of [undefined, null, Number.NaN, ''])
    assert.equal(valueInWords(energy, none), NO_VALUE, String(none));
});

test("a driver's text keeps its capitals and a long one is cut; a snapshot's picture is never printed", () => {
  assert.equal(valueInWords({ id: 'firmware' }, 'OK: v2'), 'OK: v2');
  const long = 'x'.repeat(500);
  assert.equal(valueInWords({ id: 'note' }, long), `${'x'.repeat(64)}…`);
  assert.equal(valueInWords(capabilityOf('camera', 'snapshot'), long), 'Picture ready');
});

test('each action has a button label in words; an unknown one is its name capitalised', () => {
  const power = capabilityOf('plug', 'power');
  assert.deepEqual(
    power.actions.map((a) => actionLabel(power, a)),
    ['Turn on', 'Turn off', 'Switch over', 'Read now'],
  );
  const bolt = capabilityOf('lock', 'bolt');
  assert.deepEqual(
    ['lock', 'unlock'].map((a) => actionLabel(bolt, a)),
    ['Lock', 'Unlock'],
  );
  assert.equal(actionLabel(capabilityOf('camera', 'snapshot'), 'get'), 'Take a snapshot');
  assert.equal(actionLabel({ id: 'valve' }, 'flush-twice'), 'Flush twice');
  assert.equal(actionLabel({ id: 'valve' }, 'constructor'), 'Constructor', 'no inherited property is a label');
  assert.equal(actionAccessibleName(power, 'on'), 'Power: Turn on');
});

test('the sentence after an action states the new value, or what was done when the device gave none', () => {
  assert.equal(afterAction(capabilityOf('plug', 'power'), 'on', true), 'Power is now on.');
  assert.equal(afterAction(capabilityOf('bulb', 'power'), 'toggle', false), 'Light is now off.');
  assert.equal(afterAction(capabilityOf('bulb', 'brightness'), 'set', 40), 'Brightness is now 40%.');
  assert.equal(afterAction(capabilityOf('lock', 'bolt'), 'lock', 'locked'), 'Bolt: locked.');
  assert.equal(afterAction(capabilityOf('camera', 'snapshot'), 'get', 'x'.repeat(100)), 'Snapshot: picture taken.');
  assert.equal(afterAction(capabilityOf('plug', 'power'), 'off'), 'Power: turned off.');
  assert.equal(afterAction({ id: 'valve' }, 'flush-twice', null), 'Valve: flush twice done.');
  assert.equal(afterAction({ id: 'status' }, 'get', 'OK'), 'Status: OK.');
});

test('every built-in capability has a name of its own, at most 40 characters', () => {
  for (const id of ['bulb', 'camera', 'lock', 'plug', 'sensor']) {
    for (const c of getModel(id).capabilities) {
      assert.ok(c.name !== undefined && c.name.length <= 40, `${id}.${c.id}`);
    }
  }
});
