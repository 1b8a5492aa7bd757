import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_NOTICE_CHARS, NoticeBox } from './notices.ts';

test('a notice is taken once, cut to its length, and forgotten after a minute', () => {
  let now = 0;
  const box = new NoticeBox(() => now);
  box.put('s1', 'x'.repeat(500));
  assert.equal(box.take('s1')?.text.length, MAX_NOTICE_CHARS);
  assert.equal(box.take('s1'), undefined);
  box.put('s1', 'late');
  now = 61_000;
  assert.equal(box.take('s1'), undefined);
});

test('the box holds at most 256 sessions, the oldest going first, so a flood of actions stays bounded', () => {
  const box = new NoticeBox(() => 0);
  for (let i = 0; i < 1000; i++) box.put(`s${i}`, `n${i}`);
  assert.equal(box.size, 256);
  assert.equal(box.take('s0'), undefined);
  assert.deepEqual(box.take('s999'), { text: 'n999', error: false });
});
