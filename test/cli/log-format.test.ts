// `--log-format` on the long-running commands as real processes: `bulwark hub run` and `bulwark device run`
// (its supervisor relaying the agent's log lines) print JSON lines and nothing else with json, lines a
// person reads and no JSON with text, and JSON when their output is a pipe and no format is given.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { makeFleet, type TestFleet } from '../support/device.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
let fleet: TestFleet;

before(async () => {
  fleet = await makeFleet(['plug']);
});

after(async () => {
  await rm(fleet.work, { recursive: true, force: true });
});

/** What a command printed from its start until it was stopped, line by line, and how it ended. */
interface Printed {
  readonly stdout: string[];
  readonly stderr: string[];
  readonly code: number | null;
}

/** Runs `bulwark <args>` through pipes until it prints its ready line, then stops it with SIGTERM. */
async function runUntilReady(args: string[]): Promise<Printed> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const outLines = createInterface({ input: child.stdout });
  const closed = new Promise((resolve) => outLines.once('close', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line; stderr:\n${stderr.join('\n')}`)), 60_000);
      outLines.on('line', (l) => {
        stdout.push(l);
        // The ready line's words are the same in both formats (json's msg is text's line).
        if (l.includes(' ready: ')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`exited ${code}; stderr:\n${stderr.join('\n')}`)));
    });
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exited;
  await closed;
  return { stdout, stderr, code };
}

/** The line as a JSON object, or undefined when it is not one. */
function asJson(line: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Asserts every line is a JSON object with an ISO time, a level and a message or event; returns them. */
function allJson(lines: readonly string[], what: string): Record<string, unknown>[] {
  return lines.map((l) => {
    const o = asJson(l);
    assert.ok(o, `${what}: not a JSON object: ${l}`);
    assert.match(String(o.at), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, `${what}: at: ${l}`);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(String(o.level)), `${what}: level: ${l}`);
    assert.ok(typeof o.msg === 'string' || typeof o.event === 'string', `${what}: msg or event: ${l}`);
    return o;
  });
}

/** Asserts no line parses as JSON (a value of any kind, not only an object). */
function noJson(lines: readonly string[], what: string): void {
  for (const l of lines) {
    let parsed = true;
    try {
      JSON.parse(l);
    } catch {
      parsed = false;
    }
    assert.equal(parsed, false, `${what}: a JSON line in text: ${l}`);
  }
}

test('hub run --log-format json: every stdout and stderr line is JSON, the ready event with its fields', async () => {
  const state = join(fleet.work, 'hub-json');
  const r = await runUntilReady(['hub', 'run', '--state', state, '--web-port', '0', '--log-format', 'json']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.ok(r.stdout.length >= 1);
  const lines = allJson(r.stdout, 'stdout');
  allJson(r.stderr, 'stderr');
  const ready = lines.find((o) => o.event === 'ready');
  assert.ok(ready, r.stdout.join('\n'));
  assert.match(String(ready.url), /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(ready.control, join(state, 'hub.sock'));
  assert.match(String(ready.fingerprint), /^sha256:[0-9a-f]{64}$/);
  assert.equal(
    ready.msg,
    `hub ready: ${String(ready.url)} control ${String(ready.control)} key ${String(ready.fingerprint)}`,
  );
});

test('hub run --log-format text: no line is JSON, and the ready line reads as before', async () => {
  const state = join(fleet.work, 'hub-text');
  const r = await runUntilReady(['hub', 'run', '--state', state, '--web-port', '0', '--log-format', 'text']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  noJson(r.stdout, 'stdout');
  noJson(r.stderr, 'stderr');
  assert.match(
    r.stdout.at(-1)!,
    /^hub ready: https:\/\/127\.0\.0\.1:\d+ control \S+hub\.sock key sha256:[0-9a-f]{64}$/,
  );
});

test('hub run through a pipe and without --log-format prints JSON lines', async () => {
  const r = await runUntilReady(['hub', 'run', '--state', join(fleet.work, 'hub-default'), '--web-port', '0']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  assert.ok(allJson(r.stdout, 'stdout').some((o) => o.event === 'ready'));
  allJson(r.stderr, 'stderr');
});

test('device run --log-format json: the supervisor and the relayed agent lines are JSON, nothing else', async () => {
  const unit = fleet.units.plug!;
  const args = ['device', 'run', '--log-format', 'json', '--bundle', unit.dir, '--state', join(fleet.work, 'dev-json')];
  const r = await runUntilReady([...args, '--web-port', '0', '--hub-port', '0']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  const ready = allJson(r.stdout, 'stdout').find((o) => o.event === 'ready');
  assert.ok(ready, r.stdout.join('\n'));
  assert.equal(ready.serial, unit.serial);
  assert.equal(ready.slot, 'factory');
  assert.equal(typeof ready.hubPort, 'number');
  const logs = allJson(r.stderr, 'stderr');
  assert.ok(
    logs.some((o) => o.source === 'supervisor' && /^booting /.test(String(o.msg))),
    r.stderr.join('\n'),
  );
  assert.ok(
    logs.some((o) => o.source === 'agent' && String(o.msg).includes(unit.serial)),
    r.stderr.join('\n'),
  );
});

test('device run --log-format text: no JSON on either stream, the agent lines relayed as text', async () => {
  const unit = fleet.units.plug!;
  const args = ['device', 'run', '--log-format', 'text', '--bundle', unit.dir, '--state', join(fleet.work, 'dev-text')];
  const r = await runUntilReady([...args, '--web-port', '0', '--hub-port', '0']);
  assert.equal(r.code, 0, r.stderr.join('\n'));
  noJson(r.stdout, 'stdout');
  noJson(r.stderr, 'stderr');
  assert.match(
    r.stdout.at(-1)!,
    new RegExp(`^device ${unit.serial} ready: https://\\S+ hub port \\d+ firmware \\S+ \\(factory image\\)$`),
  );
  assert.ok(
    r.stderr.some((l) => l.startsWith('supervisor: booting ')),
    r.stderr.join('\n'),
  );
  assert.ok(
    r.stderr.some((l) => l.startsWith('agent: ') && l.includes(unit.serial)),
    r.stderr.join('\n'),
  );
});

test('an unknown --log-format is refused with exit 2 before anything starts', async () => {
  const state = join(fleet.work, 'hub-refused');
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'hub', 'run', '--state', state, '--log-format', 'xml']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^bulwark: error USAGE: logFormat: must be text or json, not "xml"\nhint: /);
  assert.equal(existsSync(state), false, 'the hub never started');
});
