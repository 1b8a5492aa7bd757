import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getModel } from '../models/index.ts';
import { capabilityRow, offeredActions, type CapabilityView } from './capability-view.ts';

const viewOf = (model: string, id: string, value: unknown): CapabilityView => {
  const c = getModel(model).capabilities.find((x) => x.id === id)!;
  return { ...c, value };
};

test("a dashboard row names the capability as the model does, with its value in words and the model's unit", () => {
  const energy = capabilityRow(viewOf('plug', 'energy', 12), 'tok');
  assert.match(energy, /<strong>Energy use<\/strong>/);
  assert.match(energy, /<span class="value" data-value-of="energy">12 W<\/span>/);
  assert.doesNotMatch(energy, /<form/, 'a reading has no control');
  const unknown = capabilityRow(
    { id: 'air-quality', kind: 'reading', description: 'd', actions: [], value: null },
    't',
  );
  assert.match(unknown, /<strong>Air quality<\/strong>/);
  assert.match(unknown, /data-value-of="air-quality">—</);
});

test('each action is a form of its own with a labelled button whose accessible name stays stable', () => {
  const row = capabilityRow(viewOf('plug', 'power', null), 'tok"en');
  const forms = row.match(/<form method="post" action="\/api\/capabilities\/power\/[a-z]+">[^]*?<\/form>/g) ?? [];
  assert.deepEqual(
    forms.map((f) => /aria-label="([^"]*)">([^<]*)</.exec(f)!.slice(1)),
    [
      ['Power: Turn on', 'Turn on'],
      ['Power: Turn off', 'Turn off'],
      ['Power: Switch over', 'Switch over'],
    ],
  );
  for (const f of forms) assert.match(f, /name="csrf" value="tok&#34;en"/);
});

test('a known state offers the one action that changes it, as a setting does; an unknown state offers them all', () => {
  const labels = (c: CapabilityView): string[] =>
    [...capabilityRow(c, 't').matchAll(/">([^<]*)<\/button>/g)].map((m) => m[1]!);
  assert.deepEqual(offeredActions(viewOf('plug', 'power', false)), ['on']);
  assert.deepEqual(labels(viewOf('plug', 'power', false)), ['Turn on']);
  assert.deepEqual(labels(viewOf('plug', 'power', true)), ['Turn off']);
  assert.match(capabilityRow(viewOf('plug', 'power', false), 't'), /data-value-of="power">Off</);
  assert.deepEqual(offeredActions(viewOf('lock', 'bolt', 'locked')), ['unlock']);
  assert.deepEqual(offeredActions(viewOf('lock', 'bolt', 'unlocked')), ['lock']);
  assert.deepEqual(offeredActions(viewOf('plug', 'power', null)), ['on', 'off', 'toggle']);
});

test('a level gets a labelled field with its unit; a lock shows its state in words; every value is escaped', () => {
  const level = capabilityRow(viewOf('bulb', 'brightness', 40), 'c');
  assert.match(level, /<label for="set-brightness">Brightness: new value \(%\)<\/label>/);
  assert.match(level, /aria-label="Brightness: Set">Set</);
  assert.match(level, />40%</);
  assert.match(capabilityRow(viewOf('lock', 'bolt', 'locked'), 'c'), /data-value-of="bolt">Locked</);
  const hostile = capabilityRow(
    { id: 'x', name: '<b>', kind: 'reading', description: '<i>', actions: ['<s>'], value: '<img>', unit: '<u>' },
    'c',
  );
  assert.doesNotMatch(hostile, /<b>|<i>|<s>|<img>|<u>/);
});
