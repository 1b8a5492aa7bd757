import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { ConfigError, exitCodeOf } from '../errors/index.ts';
import { isSecretKey, REDACTED } from '../journal/index.ts';
import {
  LOG_OUTPUT_LIMITS,
  addLogFormatOption,
  chooseLogFormat,
  createLogOutput,
  formatLogLine,
  logFormatArgument,
  relayedRecord,
  type LogFormat,
} from './log-output.ts';

const secrets = { isSecretKey, REDACTED };
const NOW = new Date('2026-03-01T12:00:00.000Z');

/** An output in `format` whose stdout and stderr lines are kept. */
function captured(format: LogFormat): { out: ReturnType<typeof createLogOutput>; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = createLogOutput(format, secrets, {
    stdout: { write: (t: string) => stdout.push(t) },
    stderr: { write: (t: string) => stderr.push(t) },
    now: () => NOW,
  });
  return { out, stdout, stderr };
}

/** True when `line` parses as JSON. */
function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

test('without --log-format, text when stdout is a terminal and json when it is not', () => {
  assert.equal(chooseLogFormat(undefined, true), 'text');
  assert.equal(chooseLogFormat(undefined, false), 'json');
});

test('a --log-format given wins over the terminal test', () => {
  assert.equal(chooseLogFormat('json', true), 'json');
  assert.equal(chooseLogFormat('text', false), 'text');
  assert.equal(logFormatArgument('text'), 'text');
  assert.equal(logFormatArgument('json'), 'json');
});

test('an unknown --log-format is a usage error (exit 2) naming the option', () => {
  for (const value of ['xml', 'JSON', '', ' text', 'text,json', 'x'.repeat(500)]) {
    assert.throws(
      () => logFormatArgument(value),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, value);
        assert.equal(err.code, 'USAGE');
        assert.equal(err.key, 'logFormat');
        assert.equal(exitCodeOf(err), 2);
        assert.ok(err.message.length < 100, 'the value shown is bounded');
        return true;
      },
    );
  }
});

test('a command with the option refuses a bad value while parsing, before its action runs', async () => {
  let ran = false;
  const program = new Command('bulwark').exitOverride().configureOutput({ outputError: () => {} });
  addLogFormatOption(program.command('run')).action(() => {
    ran = true;
  });
  await assert.rejects(program.parseAsync(['run', '--log-format', 'yaml'], { from: 'user' }), /USAGE|logFormat/);
  assert.equal(ran, false);
  let given: unknown;
  const ok = new Command('bulwark').exitOverride();
  addLogFormatOption(ok.command('run')).action((o: { logFormat?: string }) => {
    given = o.logFormat;
  });
  await ok.parseAsync(['run', '--log-format=json'], { from: 'user' });
  assert.equal(given, 'json');
});

test('json: an event is one object with at, level, event, msg and its fields, on stdout', () => {
  const { out, stdout, stderr } = captured('json');
  out.event('ready', 'hub ready: https://127.0.0.1:8444 control /s/hub.sock', { url: 'https://127.0.0.1:8444' });
  assert.equal(stderr.length, 0);
  assert.equal(stdout.length, 1);
  assert.ok(stdout[0]!.endsWith('\n') && !stdout[0]!.slice(0, -1).includes('\n'), 'one line');
  assert.deepEqual(JSON.parse(stdout[0]!), {
    at: NOW.toISOString(),
    level: 'info',
    event: 'ready',
    msg: 'hub ready: https://127.0.0.1:8444 control /s/hub.sock',
    url: 'https://127.0.0.1:8444',
  });
});

test('text: an event is the message alone, one line, no JSON, whatever its level', () => {
  const { out, stdout } = captured('text');
  out.event('ready', 'device PLG-1 ready: https://127.0.0.1:8443 hub port 5541', { serial: 'PLG-1', webPort: 8443 });
  out.event('update', 'update: rolled-back 1.1.0: not healthy within 3 boots', { decision: 'rolled-back' }, 'warn');
  assert.deepEqual(stdout, [
    'device PLG-1 ready: https://127.0.0.1:8443 hub port 5541\n',
    'update: rolled-back 1.1.0: not healthy within 3 boots\n',
  ]);
});

test('a log line goes to stderr: json with its source, text as `source: level: msg key=value`', () => {
  const json = captured('json');
  json.out.log('booting slot a', { source: 'supervisor' });
  json.out.log('disk low', { level: 'warn', fields: { freeMiB: 3 } });
  assert.equal(json.stdout.length, 0);
  assert.deepEqual(
    json.stderr.map((l) => JSON.parse(l) as unknown),
    [
      { at: NOW.toISOString(), level: 'info', source: 'supervisor', msg: 'booting slot a' },
      { at: NOW.toISOString(), level: 'warn', msg: 'disk low', freeMiB: 3 },
    ],
  );
  const text = captured('text');
  text.out.log('booting slot a', { source: 'supervisor' });
  text.out.log('disk low', { level: 'warn', fields: { freeMiB: 3, at: 'x', msg: 'not this' } });
  assert.deepEqual(text.stderr, ['supervisor: booting slot a\n', 'warn: disk low freeMiB=3\n']);
});

test('a field whose name says secret is never printed, in either format, at any depth', () => {
  for (const format of ['json', 'text'] as const) {
    const { out, stdout, stderr } = captured(format);
    out.event('update', 'update: found 1.1.0', {
      version: '1.1.0',
      token: 'tok-SECRET-1',
      nested: { password: 'pw-2' },
    });
    out.log('paired', { fields: { setupCode: '1234-5678-9012', details: { sessionId: 'sid-3' } } });
    out.relay(JSON.stringify({ level: 'info', msg: 'x', apiKey: 'key-4' }), 'agent');
    const all = stdout.join('') + stderr.join('');
    for (const secret of ['tok-SECRET-1', 'pw-2', '1234-5678-9012', 'sid-3', 'key-4']) {
      assert.ok(!all.includes(secret), `${format}: ${secret} printed`);
    }
  }
});

test("the agent's JSON log line is relayed with its own time and level; json keeps its fields", () => {
  const line = JSON.stringify({
    time: '2026-01-02T03:04:05.000Z',
    level: 'error',
    name: 'journal',
    msg: 'write failed',
  });
  const record = relayedRecord(line, 'agent');
  assert.equal(record.at, '2026-01-02T03:04:05.000Z');
  assert.equal(record.level, 'error');
  const json = captured('json');
  json.out.relay(line, 'agent');
  assert.deepEqual(JSON.parse(json.stderr[0]!), {
    at: '2026-01-02T03:04:05.000Z',
    level: 'error',
    source: 'agent',
    msg: 'write failed',
    name: 'journal',
  });
  const text = captured('text');
  text.out.relay(line, 'agent');
  text.out.relay(
    JSON.stringify({ at: '2026-01-02T03:04:05.000Z', level: 'info', msg: 'update: 1.1.0 on trial' }),
    'agent',
  );
  assert.deepEqual(text.stderr, ['agent: error: write failed name=journal\n', 'agent: update: 1.1.0 on trial\n']);
});

test('a relayed line that is not a JSON object is an error line, as JSON in json and as it is in text', () => {
  const json = captured('json');
  json.out.relay('bulwark device: BUNDLE_INCOMPLETE: unit.json is missing', 'agent');
  json.out.relay('[1,2]', 'agent');
  json.out.relay('   ', 'agent');
  assert.equal(json.stderr.length, 2, 'a blank line is not relayed');
  assert.deepEqual(JSON.parse(json.stderr[0]!), {
    at: NOW.toISOString(),
    level: 'error',
    source: 'agent',
    msg: 'bulwark device: BUNDLE_INCOMPLETE: unit.json is missing',
  });
  const text = captured('text');
  text.out.relay('{"broken', 'agent');
  assert.deepEqual(text.stderr, ['agent: error: {"broken\n']);
});

test('a relayed time that is not an ISO time is replaced by now, and an unknown level by info', () => {
  const r = relayedRecord(JSON.stringify({ at: 12, time: 'yesterday', level: 'loud', msg: 'm' }), 'agent');
  assert.equal(r.at, undefined);
  assert.equal(r.level, 'info');
  const line = JSON.parse(formatLogLine('json', r, NOW, secrets)) as { at: string; level: string };
  assert.deepEqual([line.at, line.level], [NOW.toISOString(), 'info']);
});

test('text never lets a control character through: no terminal escapes, no second line', () => {
  const { out, stderr } = captured('text');
  out.relay('evil \u001b]0;title\u0007 and \r carriage', 'agent');
  out.log('two\nlines');
  for (const l of stderr) {
    assert.doesNotMatch(l.slice(0, -1), /[\u0000-\u001f\u007f-\u009f]/); // eslint-disable-line no-control-regex
  }
  assert.equal(stderr.length, 2);
});

test('a message over the bound is cut, in either format', () => {
  for (const format of ['json', 'text'] as const) {
    const line = formatLogLine(format, { level: 'info', msg: 'a'.repeat(100_000) }, NOW, secrets);
    assert.ok(line.length < LOG_OUTPUT_LIMITS.maxMessageChars + 200, `${format}: ${line.length}`);
  }
});

test('every line of one output is JSON in json and none is in text', () => {
  for (const format of ['json', 'text'] as const) {
    const { out, stdout, stderr } = captured(format);
    out.event('ready', 'cloud 1 ready: devices mqtts://127.0.0.1:8883', { instance: '1' });
    out.event('update', 'update: refused 1.3.0 UPDATE_WRONG_MODEL', { decision: 'refused' }, 'warn');
    out.log('cloud 1 connected');
    out.relay('{"at":"2026-01-02T03:04:05.000Z","level":"info","msg":"{\\"looks\\":\\"like json\\"}"}', 'agent');
    out.relay('plain', 'agent');
    const lines = [...stdout, ...stderr].map((l) => l.slice(0, -1));
    assert.equal(lines.length, 5);
    for (const l of lines) assert.equal(isJson(l), format === 'json', `${format}: ${l}`);
  }
});
