import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FloodCounter, describeFlood } from './flood.ts';

const config = { floodWindowMs: 60_000, floodThreshold: 3, maxTrackedSources: 2 };

test('a source writes its first records one by one and the rest become one summary when the window ends', () => {
  const flood = new FloodCounter(config);
  const writes = Array.from(
    { length: 10 },
    (_, i) => flood.note('a', i % 2 ? 'tls-error refused' : 'tcp-connect failure', i).write,
  );
  assert.deepEqual(writes.filter(Boolean).length, 3);
  assert.deepEqual(flood.due(59_999), []);
  const [summary] = flood.due(60_000);
  assert.equal(summary?.count, 7);
  assert.equal(summary?.kinds.get('tls-error refused'), 4);
  assert.match(
    describeFlood(summary),
    /^7 more in 60 s \(00:00:00-00:01:00 UTC\): 4 tls-error refused, 3 tcp-connect failure$/,
  );
});

test('a quiet source is never summarised and starts a fresh window', () => {
  const flood = new FloodCounter(config);
  flood.note('a', 'k', 0);
  assert.deepEqual(flood.due(120_000), []);
  assert.equal(flood.note('a', 'k', 120_001).write, true);
});

test('tracking more sources than the bound summarises the oldest early, losing no count', () => {
  const flood = new FloodCounter(config);
  for (let i = 0; i < 5; i++) flood.note('a', 'k', i);
  flood.note('b', 'k', 10);
  const { due } = flood.note('c', 'k', 20);
  assert.equal(due.length, 1);
  assert.equal(due[0]?.source, 'a');
  assert.equal(due[0]?.count, 2);
});

test('drain returns every counted window, ended or not', () => {
  const flood = new FloodCounter(config);
  for (let i = 0; i < 4; i++) flood.note('a', 'k', i);
  assert.equal(flood.drain(5)[0]?.count, 1);
  assert.deepEqual(flood.drain(6), []);
});
