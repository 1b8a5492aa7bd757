import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCheckProgress, type ProgressStream } from './progress.ts';

/** A stream that keeps what is written, as a terminal of `columns` or (without) as a pipe. */
function capture(columns?: number): ProgressStream & { text: string } {
  const out = {
    text: '',
    isTTY: columns !== undefined,
    ...(columns !== undefined ? { columns } : {}),
    write(t: string) {
      out.text += t;
      return true;
    },
  };
  return out;
}

test('off a terminal, a plain line at most every interval naming done of total and the running check', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const stream = capture();
  const line = createCheckProgress('auditing the plug', { stream, now: Date.now, config: { plainIntervalMs: 2000 } });
  line.update(0, 4, 'tls.versions');
  t.mock.timers.tick(500);
  line.update(1, 4);
  line.update(1, 4, 'tls.ciphers');
  line.update(2, 4);
  line.update(2, 4, 'login.lockout');
  assert.equal(stream.text.split('\n').length, 2, 'nothing more before the interval is up');
  // login.lockout runs long: once the interval is up, the line names it rather than a check long finished.
  t.mock.timers.tick(1500);
  t.mock.timers.tick(30_000);
  line.update(3, 4);
  line.update(3, 4, 'http.csrf');
  line.update(4, 4);
  line.update(4, 4);
  line.finish();
  t.mock.timers.tick(10_000);
  assert.deepEqual(stream.text.split('\n'), [
    'auditing the plug: 0 of 4 checks done, now tls.versions',
    'auditing the plug: 2 of 4 checks done, now login.lockout',
    'auditing the plug: 3 of 4 checks done, now http.csrf',
    'auditing the plug: 4 of 4 checks done',
    '',
  ]);
  assert.ok(!stream.text.includes('\r') && !stream.text.includes('\u001b'), 'no control characters');
});

test('on a terminal, one line rewritten in place, cut to the width so it never wraps, and cleared at the end', () => {
  const stream = capture(40);
  const line = createCheckProgress('auditing the plug', { stream });
  line.update(0, 40, 'tls.versions');
  line.update(1, 40);
  line.update(1, 40, 'tls.unique-certificates');
  line.finish();
  const draws = stream.text.split('\r\x1b[2K');
  assert.deepEqual(draws, [
    '',
    'auditing the plug: 0 of 40 checks done,',
    'auditing the plug: 1 of 40 checks done',
    'auditing the plug: 1 of 40 checks done,',
    '',
  ]);
  assert.ok(!stream.text.includes('\n'), 'a terminal line never ends in a newline');
});

test('off a terminal, a check that runs on says so every heartbeat, with how long, until the next line', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const stream = capture();
  const config = { plainIntervalMs: 2000, heartbeatMs: 10_000 };
  const line = createCheckProgress('   plug audit', { stream, now: Date.now, config });
  line.update(0, 2, 'build.sbom');
  for (const ms of [10_000, 10_000, 5_000]) t.mock.timers.tick(ms);
  line.update(1, 2);
  line.update(1, 2, 'tls.versions');
  t.mock.timers.tick(5_000);
  line.update(2, 2);
  line.finish();
  t.mock.timers.tick(30_000);
  assert.deepEqual(stream.text.split('\n'), [
    '   plug audit: 0 of 2 checks done, now build.sbom',
    '   plug audit: 0 of 2 checks done, now build.sbom (running for 10 s)',
    '   plug audit: 0 of 2 checks done, now build.sbom (running for 20 s)',
    '   plug audit: 1 of 2 checks done, now tls.versions',
    '   plug audit: 2 of 2 checks done',
    '',
  ]);
});
