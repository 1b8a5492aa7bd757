import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../device/index.ts';
import {
  SERVICE_ENV,
  SERVICE_NODE_FLAGS,
  SERVICE_RUNTIME_MARK,
  isServiceCommand,
  logsInJson,
  serviceLaunch,
} from './service-runtime.ts';
import { chooseLogFormat } from './log-output.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

test('hub run and cloud run get the memory flags first, then the caller’s own, and the malloc settings', () => {
  for (const argv of [
    ['hub', 'run', '--state', 's'],
    ['cloud', 'run', '--factory', 'f', '--state', 's'],
  ]) {
    const launch = serviceLaunch('/b/bulwark.js', argv, ['--max-semi-space-size=4'], { PATH: '/bin' });
    assert.ok(launch);
    assert.deepEqual(launch.args, [...SERVICE_NODE_FLAGS, '--max-semi-space-size=4', '/b/bulwark.js', ...argv]);
    assert.equal(launch.env.MALLOC_ARENA_MAX, '2');
    assert.equal(launch.env.MALLOC_MMAP_THRESHOLD_, '131072');
    assert.equal(launch.env.PATH, '/bin');
    assert.equal(launch.env[SERVICE_RUNTIME_MARK], '1');
  }
});

test('a malloc setting already in the environment is kept', () => {
  const launch = serviceLaunch('b', ['hub', 'run'], [], { MALLOC_ARENA_MAX: '4' });
  assert.equal(launch?.env.MALLOC_ARENA_MAX, '4');
});

test('other commands, and a process already in the service runtime, are not relaunched', () => {
  for (const argv of [['device', 'run'], ['hub', 'devices'], ['factory', 'init'], ['run', 'hub'], ['hub'], []]) {
    assert.equal(isServiceCommand(argv), false, argv.join(' '));
    assert.equal(serviceLaunch('b', argv, [], {}), undefined, argv.join(' '));
  }
  assert.equal(serviceLaunch('b', ['hub', 'run'], [], { [SERVICE_RUNTIME_MARK]: '1' }), undefined);
});

test('the line written before commander parses has the format the service will use', () => {
  for (const tty of [true, false]) {
    for (const [argv, given] of [
      [['hub', 'run'], undefined],
      [['hub', 'run', '--log-format', 'json'], 'json'],
      [['hub', 'run', '--log-format', 'text'], 'text'],
      [['cloud', 'run', '--log-format=json'], 'json'],
      [['cloud', 'run', '--log-format=text', '--state', 's'], 'text'],
    ] as const) {
      assert.equal(logsInJson(argv, tty), chooseLogFormat(given, tty) === 'json', `${argv.join(' ')} tty ${tty}`);
    }
  }
});

test('the services get the device agent’s memory bounds, and V8’s size-over-speed mode', () => {
  const agentMemoryFlags = AGENT_NODE_FLAGS.filter((f) => /^--(max-semi-space-size|invocation-count-for-)/.test(f));
  assert.ok(agentMemoryFlags.includes('--max-semi-space-size=1'));
  for (const flag of agentMemoryFlags) assert.ok(SERVICE_NODE_FLAGS.includes(flag), flag);
  assert.ok(SERVICE_NODE_FLAGS.includes('--optimize-for-size'));
  assert.deepEqual(SERVICE_ENV, AGENT_ENV);
});

test(
  '`bulwark hub run` runs as one process with the memory flags and malloc settings',
  { skip: !existsSync('/proc/self/cmdline'), timeout: 60_000 },
  async () => {
    const work = mkdtempSync(join(tmpdir(), 'bulwark-service-runtime-'));
    const args = [BIN, 'hub', 'run', '--state', join(work, 'hub'), '--web-port', '0', '--log-format', 'text'];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, NODE_OPTIONS: '', [SERVICE_RUNTIME_MARK]: '' },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`hub exited with ${code}`)));
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.startsWith('hub ready:')) resolve();
        });
      });
      // The pid the caller holds is the service itself (replaced, not a wrapper around a child).
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of SERVICE_NODE_FLAGS) assert.ok(cmdline.includes(flag), flag);
      assert.ok(cmdline.indexOf(SERVICE_NODE_FLAGS[0]!) < cmdline.indexOf(BIN));
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes('MALLOC_ARENA_MAX=2'));
      assert.ok(environ.includes('MALLOC_MMAP_THRESHOLD_=131072'));
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(work, { recursive: true, force: true });
    }
  },
);
