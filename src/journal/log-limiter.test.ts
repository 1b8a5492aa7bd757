import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { LogLimiter } from './index.ts';

test('the first line of a cause is written at once', () => {
  const limiter = new LogLimiter();
  assert.deepEqual(limiter.admit('REQUEST_ABORTED', 'client hung up', 0), ['client hung up']);
  assert.deepEqual(limiter.admit('HPE_INVALID_METHOD', 'bad method', 1), ['bad method']);
});

test('later lines of a cause wait for the interval, then one line carries the count held back', () => {
  const limiter = new LogLimiter({ intervalMs: 60_000 });
  assert.deepEqual(limiter.admit('HPE_INVALID_METHOD', 'bad method', 0), ['bad method']);
  for (let i = 1; i <= 1_234; i++) assert.deepEqual(limiter.admit('HPE_INVALID_METHOD', 'bad method', i), []);
  assert.deepEqual(limiter.admit('HPE_INVALID_METHOD', 'bad method', 59_999), []);
  assert.deepEqual(limiter.admit('HPE_INVALID_METHOD', 'bad method', 60_000), [
    'bad method (1,235 more like this in 60 s)',
  ]);
  // A new interval starts with the line written: the next one is held again.
  assert.deepEqual(limiter.admit('HPE_INVALID_METHOD', 'bad method', 60_001), []);
});

test('a cause that went quiet for an interval writes its next line plain', () => {
  const limiter = new LogLimiter({ intervalMs: 1_000 });
  limiter.admit('ECONNRESET', 'reset', 0);
  assert.deepEqual(limiter.admit('ECONNRESET', 'reset', 5_000), ['reset']);
});

test('causes are limited apart: one cause held back does not hold back another', () => {
  const limiter = new LogLimiter();
  limiter.admit('A', 'a', 0);
  assert.deepEqual(limiter.admit('A', 'a', 1), []);
  assert.deepEqual(limiter.admit('B', 'b', 2), ['b']);
});

test('a flood of 100,000 lines of one cause over 10 minutes writes at most one line a minute', () => {
  const limiter = new LogLimiter({ intervalMs: 60_000 });
  let written = 0;
  let counted = 0;
  for (let i = 0; i < 100_000; i++) {
    for (const line of limiter.admit('REQUEST_ABORTED', 'x', i * 6)) {
      written += 1;
      counted += 1 + Number(/\(([\d,]+) more/.exec(line)?.[1]?.replace(/,/g, '') ?? 0);
    }
  }
  counted += limiter
    .drain(600_000)
    .reduce((n, line) => n + 1 + Number(/\(([\d,]+) more/.exec(line)?.[1]?.replace(/,/g, '') ?? 0), 0);
  assert.ok(written <= 11, `${written} lines written`);
  assert.equal(counted, 100_000, 'every line is either written or counted in one that is');
});

test('the tracked causes are bounded: the oldest is dropped and its held count written', () => {
  const limiter = new LogLimiter({ maxCauses: 2 });
  limiter.admit('A', 'a', 0);
  limiter.admit('A', 'a again', 1);
  limiter.admit('A', 'a last', 2);
  limiter.admit('B', 'b', 3);
  assert.deepEqual(limiter.admit('C', 'c', 4), ['a last (1 more like this in 1 s)', 'c']);
  assert.equal(limiter.size, 2);
  // 'A' was forgotten: its next line counts as a first one.
  assert.deepEqual(limiter.admit('A', 'a', 5), ['a']);
});

test('a cause is the code, cut to a bounded length: a client cannot make every line a new cause', () => {
  const limiter = new LogLimiter({ maxCauses: 4 });
  const long = 'X'.repeat(10_000);
  limiter.admit(`${long}1`, 'one', 0);
  assert.deepEqual(limiter.admit(`${long}2`, 'two', 1), []);
  assert.equal(limiter.size, 1);
});

test('drain writes the counts still held and forgets every cause', () => {
  const limiter = new LogLimiter();
  limiter.admit('A', 'a', 0);
  limiter.admit('A', 'a', 1);
  limiter.admit('B', 'b', 2);
  assert.deepEqual(limiter.drain(3_000), ['a']);
  assert.equal(limiter.size, 0);
  assert.deepEqual(limiter.admit('A', 'a', 3_001), ['a']);
});

test('a config that would disable the limit is refused, naming the key', () => {
  assert.throws(
    () => new LogLimiter({ intervalMs: 0 }),
    (err: unknown) => hasCode(err, 'LOGGER_CONFIG_INVALID') && /intervalMs/.test((err as Error).message),
  );
  assert.throws(() => new LogLimiter({ maxCauses: 0.5 }), /maxCauses/);
});
