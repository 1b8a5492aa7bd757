import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNodeRange, satisfiesNodeRange, nodeRangeOfTarget, DEFAULT_NODE_RANGE } from './node-range.ts';

test('a Node version is in a range only when every comparator holds', () => {
  assert.equal(satisfiesNodeRange(DEFAULT_NODE_RANGE, '24.0.0'), true);
  assert.equal(satisfiesNodeRange(DEFAULT_NODE_RANGE, '24.21.0'), true);
  assert.equal(satisfiesNodeRange(DEFAULT_NODE_RANGE, '23.11.1'), false);
  assert.equal(satisfiesNodeRange(DEFAULT_NODE_RANGE, '25.0.0'), false);
  assert.equal(satisfiesNodeRange('>24.1.0', '24.1.0'), false);
  assert.equal(satisfiesNodeRange('<=24.1.0', '24.1.0'), true);
  assert.equal(satisfiesNodeRange('=24.1.0', '24.1.1'), false);
});

test('refuses ranges outside the strict syntax, and a malformed range is never satisfied', () => {
  for (const bad of ['', '^24.0.0', '24', '>=24', '>=24.0.0  <25.0.0', '>=24.0.0 || <20.0.0', 'x'.repeat(65), 24]) {
    assert.equal(isNodeRange(bad), false, String(bad));
  }
  assert.equal(isNodeRange('>=1.0.0 <2.0.0 >=1.1.0 <1.9.0 >1.2.0'), false, 'at most four comparators');
  assert.equal(satisfiesNodeRange('^24.0.0', '24.1.0'), false);
  assert.equal(satisfiesNodeRange(DEFAULT_NODE_RANGE, 'v24.1.0'), false);
});

test('the range of an esbuild node target is that major', () => {
  assert.equal(nodeRangeOfTarget('node24'), DEFAULT_NODE_RANGE);
  assert.equal(nodeRangeOfTarget('node26'), '>=26.0.0 <27.0.0');
  assert.throws(() => nodeRangeOfTarget('es2024'), RangeError);
});
