// `bulwark demo --keep-running`, run once as a person runs it but with stdout a pipe (as in CI or a log): the story
// with a progress line per audit, the addresses and passwords to try while the home stays up, then Ctrl-C and the
// last paragraph. One run serves every test here: the full demo takes minutes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OwnerApiClient } from '../../src/cloud/index.ts';
import { HUB_INITIAL_PASSWORD_FILE } from '../../src/hub/index.ts';
import { WebClient } from '../support/device.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
/** How long the story may take before the addresses are printed: about 10 minutes on 2 busy cores. */
const STORY_MS = 1_200_000;
/** How long Ctrl-C may take to close every server and end the process. */
const CLOSE_MS = 30_000;
const AUDITED = ['plug', 'lock', 'camera'];

let work: string;
let demo: ChildProcess;
let stdout = '';
let stderr = '';
/** The longest time stdout was silent during step 7 (the audits), and what came after it. */
let silence = { ms: 0, before: '' };
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

/** Resolves once stdout has `text`; fails when the demo ends first or `ms` pass. */
function printed(text: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${text}" within ${ms} ms:\n${stdout}\n${stderr}`)), ms);
    const check = (): void => {
      if (stdout.includes(text)) done();
    };
    const ended = (): void => done(new Error(`the demo ended before "${text}":\n${stdout}\n${stderr}`));
    const done = (err?: Error): void => {
      clearTimeout(timer);
      demo.stdout!.off('data', check);
      demo.off('exit', ended);
      if (err) reject(err);
      else resolve();
    };
    demo.stdout!.on('data', check);
    demo.once('exit', ended);
    check();
  });
}

/** The one line of the open house that starts with `what`, split into its address and what to type. */
function door(what: string): { url: string; how: string } {
  const m = new RegExp(`^ {3}${what}\\s+(https://\\S+)\\s+(.+)$`, 'm').exec(stdout);
  assert.ok(m, `no line for ${what} in:\n${stdout}`);
  return { url: m[1]!, how: m[2]! };
}

/** A client that trusts exactly the PEM certificate in `certFile` (WebClient reads <dir>/web-cert.pem). */
async function trusting(url: string, certFile: string, name: string): Promise<WebClient> {
  const dir = join(work, 'test-trust', name);
  await mkdir(dir, { recursive: true });
  await copyFile(certFile, join(dir, 'web-cert.pem'));
  return WebClient.for(url, { serial: name, dir, setupCode: '', claimCode: '' });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-demo-test-'));
  const started = performance.now();
  demo = spawn(process.execPath, [BIN, 'demo', '--keep-running', '--dir', work], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lastOutput = performance.now();
  demo.stdout!.setEncoding('utf8').on('data', (c: string) => {
    const gap = performance.now() - lastOutput;
    lastOutput += gap;
    if (stdout.includes('\n7. ') && gap > silence.ms) silence = { ms: gap, before: c.split('\n')[0]! };
    stdout += c;
  });
  demo.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  exited = new Promise((resolve) => demo.once('exit', (code, signal) => resolve({ code, signal })));
  await printed('Press Ctrl-C to stop everything.', STORY_MS);
  console.log(`# the story took ${Math.round((performance.now() - started) / 1000)} s`);
  console.log(`# the longest silence in step 7: ${Math.round(silence.ms / 1000)} s, before "${silence.before}"`);
});

after(() => {
  if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
});

test('bulwark demo: end to end, renders every policy, each audited device passes its required controls', async () => {
  assert.match(stdout, /all steps succeeded/);
  for (const model of ['plug', 'bulb', 'lock', 'sensor', 'camera']) {
    assert.match(stdout, new RegExp(`\\b${model}\\b`));
    assert.ok((await stat(join(work, 'policy', `${model}.html`))).size > 1000, `the ${model}'s policy document`);
  }
  for (const model of AUDITED) {
    const report = JSON.parse(await readFile(join(work, 'audit', `${model}.json`), 'utf8')) as {
      summary: { fail: number; notTested: number; exitCode: number };
      controls: Array<{ required: boolean; status: string }>;
    };
    assert.equal(report.summary.exitCode, 0, `the ${model}'s audit`);
    assert.equal(report.summary.fail + report.summary.notTested, 0);
    // What the maker declares (a commitment, not a test) is shown apart from a pass; neither is a finding.
    const open = report.controls.filter((c) => c.required && c.status !== 'pass' && c.status !== 'declared');
    assert.deepEqual(open, [], `the ${model}'s required controls`);
    assert.match(
      stdout,
      new RegExp(`${model}\\s+\\S+\\s+tier \\d: \\d+ required controls pass, 0 fail, 0 not tested; exit code 0`),
    );
  }
});

test('off a terminal, each audit prints plain lines: checks done of total, the running check, then all', () => {
  assert.ok(!stdout.includes('\r') && !stdout.includes('\u001b'), 'no control characters off a terminal');
  for (const model of AUDITED) {
    for (const n of [1, 2]) {
      const label = `^ {3}${model} audit ${n} of 2: `;
      const running = [...stdout.matchAll(new RegExp(`${label}(\\d+) of (\\d+) checks done, now [a-z.-]+$`, 'gm'))];
      assert.ok(running.length >= 1, `a progress line while the ${model}'s audit ${n} runs`);
      const total = Number(running[0]![2]);
      assert.ok(total > 10, `${total} checks`);
      assert.match(stdout, new RegExp(`${label}${total} of ${total} checks done$`, 'm'));
      const counts = running.map((m) => Number(m[1]));
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => a - b),
        'the count only grows',
      );
    }
  }
});

/** The unit folder of the demo's unit whose serial starts with `prefix` (PLG-, LCK-...). */
async function unitDir(prefix: string): Promise<string> {
  return join(
    work,
    'units',
    (await readdir(join(work, 'units'))).find((e) => e.startsWith(prefix))!,
  );
}

/**
 * The demo's plug names one maker and one support end in its policy, its audit report, its sticker, its page and its
 * security.txt (issue 17: the demo's policy once named another maker and date than its factory and sticker).
 */
async function oneMakerEverywhere(plugDir: string): Promise<void> {
  const printed = door("the plug's page");
  const password = /^user admin, password (\S+) /.exec(printed.how)![1]!;
  const device = await trusting(printed.url, join(plugDir, 'web-cert.pem'), 'plug-one-maker');
  const txt = (await device.get('/.well-known/security.txt')).body;
  const about = /^# (.+) Smart Plug: security updates until (\d{4}-\d{2}-\d{2})$/m.exec(txt);
  assert.ok(about, txt);
  const [, maker, end] = about as unknown as [string, string, string];
  assert.equal((await device.login(password)).status, 303);
  const page = (await device.get('/')).body;
  assert.ok(page.includes(`<dt>Maker</dt><dd>${maker}</dd>`), 'the page names the maker');
  assert.ok(page.includes(`<dt>Security updates until</dt><dd>${end}</dd>`), 'the page names the support end');
  const policy = await readFile(join(work, 'policy', 'plug.html'), 'utf8');
  assert.ok(policy.includes(maker) && policy.includes(end), 'the policy names both');
  const report = JSON.parse(await readFile(join(work, 'audit', 'plug.json'), 'utf8')) as {
    profile: { maker: string; supportPeriodEnd: string };
  };
  assert.deepEqual([report.profile.maker, report.profile.supportPeriodEnd], [maker, end], 'the audit names both');
  const sticker = await readFile(join(plugDir, 'sticker.svg'), 'utf8');
  assert.ok(sticker.includes(`>${maker}</text>`), 'the sticker names the maker');
  assert.ok(sticker.includes(`Security updates until ${end}.`), 'the sticker names the support end');
}

test('with --keep-running the printed device, hub and owner-app addresses answer and the passwords work', async () => {
  for (const [model, prefix] of [
    ['plug', 'PLG-'],
    ['lock', 'LCK-'],
  ] as const) {
    const printed = door(`the ${model}'s page`);
    const password = /^user admin, password (\S+) /.exec(printed.how)![1]!;
    const device = await trusting(printed.url, join(await unitDir(prefix), 'web-cert.pem'), model);
    assert.equal((await device.get('/login')).status, 200);
    assert.equal((await device.login(password)).status, 303, `the ${model}'s sticker password printed logs in`);
    assert.equal((await device.get('/')).status, 200);
  }
  const plugDir = await unitDir('PLG-');
  assert.match(door("the camera's page").how, /^first use: the setup code \S+ from its label/);
  await oneMakerEverywhere(plugDir);

  const hubDoor = door("the hub's page");
  const hubState = join(work, 'audit-hub');
  const hubPassword = /^password (\S+) /.exec(hubDoor.how)![1]!;
  assert.equal(hubPassword, (await readFile(join(hubState, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim());
  const hub = await trusting(hubDoor.url, join(hubState, 'hub-cert.pem'), 'hub');
  const form = { password: hubPassword, csrf: WebClient.csrfOf((await hub.get('/login')).body) };
  assert.equal((await hub.send('POST', '/login', { form })).status, 303, 'the hub password printed logs in');

  const app = door('the owner app');
  const [, email, password] = /^(\S+), password (\S+) /.exec(app.how)!;
  const owner = new OwnerApiClient(new URL(app.url).origin, await readFile(join(work, 'audit-cloud-ca.pem'), 'utf8'));
  assert.equal((await owner.login(email!, password!)).status, 200, 'the owner account printed logs in');
  const devices = (await owner.devices()).body.devices.map((d) => d.serial);
  assert.ok(devices.includes(plugDir.split('/').pop()), `the plug is the owner's: ${devices.join(', ')}`);
});

test('Ctrl-C closes everything in bounded time, exits 0, then names the folder and how to look', async () => {
  const plugUrl = door("the plug's page").url;
  const plugDir = await unitDir('PLG-');
  const started = performance.now();
  demo.kill('SIGINT');
  const timeout = new Promise<never>((_r, reject) =>
    setTimeout(() => reject(new Error(`still running ${CLOSE_MS} ms after SIGINT:\n${stdout}`)), CLOSE_MS).unref(),
  );
  const end = await Promise.race([exited, timeout]);
  console.log(`# closed in ${Math.round(performance.now() - started)} ms after SIGINT`);
  assert.deepEqual(end, { code: 0, signal: null }, stderr);
  const tail = stdout.slice(stdout.indexOf('Press Ctrl-C to stop everything.'));
  assert.match(tail, /SIGINT: closing the demo's devices, hub, cloud and release server/);
  assert.match(tail, new RegExp(`Everything this demo made stays in ${work}:`));
  assert.match(tail, /have stopped: the addresses printed above no longer answer\./);
  assert.match(tail, new RegExp(`To look at the results: (xdg-)?open ${join(work, 'audit', 'plug.html')}`));
  assert.match(tail, new RegExp(`To remove it all: rm -rf ${work}\\n$`));
  const device = await trusting(plugUrl, join(plugDir, 'web-cert.pem'), 'plug-after');
  await assert.rejects(device.get('/login'), /ECONNREFUSED/, 'the printed address is dead once the demo ends');
});
