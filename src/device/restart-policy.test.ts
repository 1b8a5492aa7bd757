import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REBOOT_EXIT_CODE } from '../update/index.ts';
import { CRASH_LOOP_PAUSE_MS, RestartPolicy, CONFIG_REFUSED_EXIT_CODE, type AgentExit } from './restart-policy.ts';

const crash: AgentExit = { code: 1, signal: null, trial: false, healthy: false, firmware: '1.0.0' };
const limits = { maxRestarts: 3, windowMs: 60_000 };

test('a crash restarts the agent, waiting longer after each crash in the window', () => {
  const policy = new RestartPolicy(limits);
  const delays = [0, 1, 2].map((i) => policy.afterExit(crash, 1_000 + i));
  assert.deepEqual(
    delays.map((d) => d.kind),
    ['boot', 'boot', 'boot'],
  );
  assert.deepEqual(
    delays.map((d) => (d.kind === 'boot' ? d.delayMs : -1)),
    [250, 500, 750],
  );
  assert.equal(delays[0]!.message, 'agent exited (1); restarting');
});

test('one crash more than maxRestarts within the window pauses a minute, and the supervisor stays up', () => {
  const policy = new RestartPolicy(limits);
  for (let i = 0; i < 3; i++) assert.equal(policy.afterExit(crash, i).kind, 'boot');
  const last = policy.afterExit(crash, 3);
  assert.deepEqual(last, {
    kind: 'boot',
    delayMs: CRASH_LOOP_PAUSE_MS,
    message: 'agent died 4 times within 60000 ms; trying again in 60 s (a hold of the button still resets the unit)',
  });
  policy.forget();
  const fresh = policy.afterExit(crash, 4);
  assert.equal(fresh.kind === 'boot' && fresh.delayMs, 250, 'after a reset the count starts again');
});

test('crashes older than the window are forgotten', () => {
  const policy = new RestartPolicy(limits);
  for (let i = 0; i < 3; i++) policy.afterExit(crash, i);
  const later = policy.afterExit(crash, 60_000 + 10);
  assert.equal(later.kind, 'boot');
  assert.equal(later.kind === 'boot' && later.delayMs, 250, 'only this crash is in the window');
});

test('an agent that refused its configuration is not restarted', () => {
  const decision = new RestartPolicy(limits).afterExit({ ...crash, code: CONFIG_REFUSED_EXIT_CODE }, 0);
  assert.deepEqual(decision, {
    kind: 'stop',
    exitCode: 78,
    message: 'agent refused its configuration; not restarting',
  });
});

test('a failed trial boot boots again at once and does not count as a crash', () => {
  const policy = new RestartPolicy(limits);
  const trial: AgentExit = { code: null, signal: 'SIGKILL', trial: true, healthy: false, firmware: '1.2.0' };
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(policy.afterExit(trial, i), {
      kind: 'boot',
      delayMs: 250,
      message: 'trial boot of firmware 1.2.0 failed (SIGKILL)',
    });
  }
  assert.equal(policy.afterExit(crash, 11).kind === 'boot' && policy.afterExit(crash, 12).kind, 'boot');
});

test('a healthy trial that crashes later is a crash like any other', () => {
  const decision = new RestartPolicy(limits).afterExit({ ...crash, trial: true, healthy: true, code: 3 }, 0);
  assert.deepEqual(decision, { kind: 'boot', delayMs: 250, message: 'agent exited (3); restarting' });
});

test('a requested reboot boots quickly, and twice maxRestarts of them in the window is a loop that stops', () => {
  const policy = new RestartPolicy(limits);
  const reboot: AgentExit = { ...crash, code: REBOOT_EXIT_CODE };
  for (let i = 0; i < 6; i++) {
    assert.deepEqual(policy.afterExit(reboot, i), {
      kind: 'boot',
      delayMs: 50,
      message: 'the agent asked for a reboot',
    });
  }
  assert.deepEqual(policy.afterExit(reboot, 6), {
    kind: 'stop',
    exitCode: 1,
    message: 'the agent asked for 7 reboots within 60000 ms; giving up',
  });
});

test('reboots and crashes are counted apart', () => {
  const policy = new RestartPolicy(limits);
  for (let i = 0; i < 6; i++) policy.afterExit({ ...crash, code: REBOOT_EXIT_CODE }, i);
  const decision = policy.afterExit(crash, 7);
  assert.equal(decision.kind === 'boot' && decision.delayMs, 250, 'the first crash after six reboots');
});
