import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCallValue } from './hub-commands.ts';

test('a call value becomes a boolean, null or a number when it reads as one', () => {
  assert.equal(parseCallValue(undefined), undefined);
  assert.equal(parseCallValue('true'), true);
  assert.equal(parseCallValue('on'), true);
  assert.equal(parseCallValue('false'), false);
  assert.equal(parseCallValue('off'), false);
  assert.equal(parseCallValue('null'), null);
  assert.equal(parseCallValue('21'), 21);
  assert.equal(parseCallValue('-3.5'), -3.5);
});

test('a call value that is not plainly a number stays text', () => {
  for (const text of ['1e3', '0x10', '12abc', '1.1234567', '1234567890123456', 'Infinity', 'NaN', '', ' 1', 'TRUE']) {
    assert.equal(parseCallValue(text), text, JSON.stringify(text));
  }
});
