import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError, type Command } from 'commander';
import { describeCliError, formatCliError } from './errors.ts';
import { buildProgram, main } from './main.ts';
import { BulwarkError, ConfigError } from '../errors/index.ts';

/** Runs `main` in this process and returns its exit code and what it wrote to stderr. */
async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(argv, {
    write: (text: string) => {
      stderr += text;
    },
  });
  return { code, stderr };
}

test('a BulwarkError prints its code and message, a hint where one helps, and exits by the table', () => {
  const report = describeCliError(new BulwarkError('HUB_NOT_RUNNING', 'no hub is running with state /x (ENOENT)'));
  assert.deepEqual(report, {
    code: 'HUB_NOT_RUNNING',
    message: 'no hub is running with state /x (ENOENT)',
    exitCode: 69,
    hint: 'start the hub with `bulwark hub run --state <dir>`, and pass the same folder to --hub',
  });
  assert.equal(
    formatCliError(report),
    'bulwark: error HUB_NOT_RUNNING: no hub is running with state /x (ENOENT)\n' +
      'hint: start the hub with `bulwark hub run --state <dir>`, and pass the same folder to --hub\n',
  );
});

test('a code without a hint prints one line', () => {
  const report = describeCliError(new ConfigError('RELEASE_CONFIG_INVALID', 'port', 'must be 0..65535'))!;
  assert.equal(report.exitCode, 78);
  assert.equal(formatCliError(report), 'bulwark: error RELEASE_CONFIG_INVALID: port: must be 0..65535\n');
});

test('a message over several lines is printed on one, and no stack is ever printed', () => {
  const err = new BulwarkError('BUNDLE_INVALID', 'unit.json:\n  serial is missing');
  const text = formatCliError(describeCliError(err)!);
  assert.equal(text, 'bulwark: error BUNDLE_INVALID: unit.json: serial is missing\n');
  assert.doesNotMatch(text, /^\s+at /m);
});

test('a Node.js system error prints its errno code; anything else is INTERNAL and exits 1', () => {
  const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080'), {
    code: 'EADDRINUSE',
  });
  const report = describeCliError(inUse)!;
  assert.equal(report.code, 'EADDRINUSE');
  assert.equal(report.exitCode, 69);
  assert.match(report.hint!, /another program listens on that port/);
  const bug = describeCliError(new TypeError('cannot read properties of undefined'))!;
  assert.deepEqual([bug.code, bug.exitCode], ['INTERNAL', 1]);
  const bugText = formatCliError(bug);
  assert.match(bugText, /^bulwark: error INTERNAL: cannot read properties of undefined\n/);
  assert.match(bugText, /\nhint: this is a bug in bulwark/);
  assert.equal(describeCliError('thrown text')!.message, 'thrown text');
});

test("commander's refusals are USAGE with exit code 2; help and version are not errors", () => {
  const unknownOption = new CommanderError(1, 'commander.unknownOption', "error: unknown option '--bogus'");
  const unknown = describeCliError(unknownOption)!;
  assert.deepEqual([unknown.code, unknown.message, unknown.exitCode], ['USAGE', "unknown option '--bogus'", 2]);
  assert.equal(describeCliError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), undefined);
  assert.equal(describeCliError(new CommanderError(0, 'commander.version', '1.0.0')), undefined);
  const helpOnError = describeCliError(new CommanderError(1, 'commander.help', '(outputHelp)'))!;
  assert.equal(helpOnError.exitCode, 2, 'no subcommand: the help printed is the usage message');
  assert.equal(formatCliError(helpOnError), '');
});

test("a command's own exit status through command.error keeps its text and code", () => {
  const text = 'bulwark audit: incomplete: 2 required control(s) not tested';
  const report = describeCliError(new CommanderError(3, 'bulwark.audit', text))!;
  assert.equal(report.exitCode, 3);
  assert.equal(formatCliError(report), `${text}\n`);
});

test('main prints one USAGE line for an unknown option or a missing one, and exits 2', async () => {
  const bogus = await run(['device', 'run', '--bundle', 'b', '--state', 's', '--bogus']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /^bulwark: error USAGE: unknown option '--bogus'\nhint: /);
  const missing = await run(['release', 'status']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^bulwark: error USAGE: required option '--repo <dir>' not specified\n/);
  const command = await run(['no-such-command']);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /^bulwark: error USAGE: unknown command 'no-such-command'/);
});

test("main prints a refused option by its code and exits with the table's code", async () => {
  const r = await run(['factory', 'provision', '--dir', 'f', '--model', 'plug', '--out', 'o', '--password', 'admin']);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /^bulwark: error PROVISION_SHARED_SECRET_REFUSED: password: refused: /);
});

test('every command of the program throws to main instead of exiting or printing its own errors', () => {
  const visit = (c: Command): void => {
    const thrown = (e: unknown): boolean => e instanceof CommanderError && e.exitCode === 5;
    assert.throws(() => c.error('x', { exitCode: 5, code: 'test.probe' }), thrown, c.name());
    for (const sub of c.commands) visit(sub);
  };
  visit(buildProgram());
});
