import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoAfterword } from './demo.ts';

test("the demo's last paragraph names its folder, says its servers stopped, and how to look and to remove it", () => {
  const text = demoAfterword('/tmp/bulwark-demo-x1', { keptRunning: false, platform: 'linux' }).join('\n');
  assert.match(text, /stays in \/tmp\/bulwark-demo-x1:/);
  assert.match(text, /have stopped: the addresses printed above no longer answer \(`bulwark demo --keep-running`/);
  assert.match(text, /To look at the results: xdg-open \/tmp\/bulwark-demo-x1\/audit\/plug\.html/);
  assert.match(text, /To remove it all: rm -rf \/tmp\/bulwark-demo-x1$/);
});

test('after --keep-running the paragraph does not suggest the flag; on macOS it says open', () => {
  const text = demoAfterword('/tmp/d', { keptRunning: true, platform: 'darwin' }).join('\n');
  assert.doesNotMatch(text, /--keep-running/);
  assert.match(text, /To look at the results: open \/tmp\/d\/audit\/plug\.html/);
});

test('a folder with a space or a quote is printed so a shell reads it back as one word', () => {
  const text = demoAfterword("/home/a b/it's", { keptRunning: false, platform: 'linux' }).join('\n');
  assert.match(text, /rm -rf '\/home\/a b\/it'\\''s'$/);
  assert.match(text, /xdg-open '\/home\/a b\/it'\\''s\/audit\/plug\.html'/);
});
