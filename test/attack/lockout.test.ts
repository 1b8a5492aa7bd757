// Issue 14 (1): a guesser spread over addresses must not lock the owner out. The owner logs in once
// (the browser gets a device cookie), then 24 source addresses (127.0.0.10..33) guess 5 times each:
// 120 wrong passwords, past the account-wide ceiling. The owner's browser with its device cookie
// still logs in at once, from its own address and from a guessing one; a new browser is held back
// (429) until a physical act on the unit (the device's button, the hub's control socket). On the
// device's admin page, the hub's and the cloud's owner login. Bounded: 120 guesses per surface.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { makeFleet, startAgent, WebClient, type Answer } from '../support/device.ts';
import { pressButton } from '../../src/device/index.ts';
import { startHubService, callHubControl, HUB_INITIAL_PASSWORD_FILE } from '../../src/hub/index.ts';
import { startCloud } from '../../src/cloud/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, ApiClient } from '../cloud/support.ts';

const GUESSERS = Array.from({ length: 24 }, (_, i) => `127.0.0.${10 + i}`);
const GUESSES_EACH = 5;
const OWNER_ADDRESS = '127.0.0.2';
const NEW_BROWSER_ADDRESS = '127.0.0.40';
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** 24 addresses x 5 wrong guesses, four addresses at a time (the hash limiter runs two hashes at once anyway). */
async function spreadGuessing(guess: (from: string, i: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  for (let a = 0; a < GUESSERS.length; a += 4) {
    const batch = await Promise.all(
      GUESSERS.slice(a, a + 4).map(async (from) => {
        const mine: number[] = [];
        for (let i = 0; i < GUESSES_EACH; i++) mine.push(await guess(from, i));
        return mine;
      }),
    );
    statuses.push(...batch.flat());
  }
  return statuses;
}

function assertCeilingReached(statuses: number[], admitted: number): void {
  assert.equal(statuses.length, GUESSERS.length * GUESSES_EACH);
  assert.equal(statuses.filter((s) => s === 401).length, admitted, `guesses checked: ${statuses.join(',')}`);
  assert.ok(statuses.includes(429) && statuses.every((s) => s === 401 || s === 429), statuses.join(','));
}

/** The same browser at another address: its cookie jar copied. */
function sameBrowserAt(browser: WebClient, other: WebClient): WebClient {
  for (const [k, v] of browser.cookies) other.cookies.set(k, v);
  return other;
}

test("device: the owner's browser gets in at once; a new one after a button press", { timeout: 180_000 }, async () => {
  const fleet = await makeFleet(['plug']);
  const unit = fleet.units.plug!;
  const stateDir = join(fleet.work, 'state');
  const agent = await startAgent(unit, stateDir);
  closers.push(() => agent.close());
  const password = unit.adminPassword!;
  const client = (from: string): Promise<WebClient> => WebClient.for(agent.web.url, unit, from);
  const owner = await client(OWNER_ADDRESS);
  assert.equal((await owner.login(password)).status, 303);
  owner.cookies.delete('__Host-bulwark-session'); // the session ends; the browser keeps its other cookies

  const guess = async (from: string, i: number): Promise<number> =>
    (await (await client(from)).login(`wrong-${from}-${i}`)).status;
  const statuses = await spreadGuessing(guess);
  assertCeilingReached(statuses, 100);

  const started = Date.now();
  const again = await owner.login(password);
  assert.equal(again.status, 303, "the owner's browser with its device cookie logs in at once");
  assert.ok(Date.now() - started < 5_000, `the owner waited ${Date.now() - started} ms`);
  assert.ok(owner.cookies.has('__Host-bulwark-device'), 'the browser holds a device cookie');
  const roaming = sameBrowserAt(owner, await client(GUESSERS[0]!));
  roaming.cookies.delete('__Host-bulwark-session');
  assert.equal((await roaming.login(password)).status, 303, "the owner's browser gets in from a guessing address too");

  const stranger = await client(NEW_BROWSER_ADDRESS);
  const refused: Answer = await stranger.login(password);
  assert.equal(refused.status, 429, 'a new browser is held back by the account-wide ceiling');
  assert.match(await pressButton(stateDir, 'press'), /new browser/);
  assert.equal((await (await client(GUESSERS[1]!)).login(password)).status, 429, 'a guessing address stays slowed');
  assert.equal((await stranger.login(password)).status, 303, 'after a button press the new browser gets in');

  const journal = await agent.journal.list({ limit: 500 });
  const logged = (event: string, result: string, detail: RegExp): boolean =>
    journal.some((e) => e.event === event && e.result === result && detail.test(e.detail ?? ''));
  assert.ok(logged('login', 'success', /device cookie/), 'trusted logins are journalled');
  assert.ok(logged('login-unlock', 'info', /physical act/), 'the physical unlock is journalled');
  assert.ok(logged('login', 'locked-out', /account-wide/), "the ceiling's refusals are journalled");
});

test("hub: the owner's browser gets in at once; a new one after `hub unlock`", { timeout: 180_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-attack-hub-'));
  const state = join(work, 'hub');
  const service = await startHubService({ stateDir: state, web: { port: 0 } });
  closers.push(() => service.close());
  const password = (await readFile(join(state, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  // WebClient trusts exactly one certificate, read as <dir>/web-cert.pem: here the hub's.
  await mkdir(join(work, 'trust'));
  await copyFile(join(state, 'hub-cert.pem'), join(work, 'trust', 'web-cert.pem'));
  const trust: ProvisionedUnit = { serial: 'hub', dir: join(work, 'trust'), setupCode: '', claimCode: '' };
  const client = (from: string): Promise<WebClient> => WebClient.for(service.web!.url, trust, from);
  const login = async (c: WebClient, pw: string): Promise<number> => {
    const page = await c.get('/login');
    return (await c.send('POST', '/login', { form: { password: pw, csrf: WebClient.csrfOf(page.body) } })).status;
  };
  const owner = await client(OWNER_ADDRESS);
  assert.equal(await login(owner, password), 303);
  owner.cookies.delete('__Host-bulwark-hub-session');

  const statuses = await spreadGuessing(async (from, i) => login(await client(from), `wrong-guess-${from}-${i}`));
  assertCeilingReached(statuses, 100);

  assert.equal(await login(owner, password), 303, "the owner's browser with its device cookie logs in at once");
  const stranger = await client(NEW_BROWSER_ADDRESS);
  assert.equal(await login(stranger, password), 429, 'a new browser is held back by the account-wide ceiling');
  const r = (await callHubControl(state, 'unlock')) as { unlockedUntil: string };
  assert.ok(Date.parse(r.unlockedUntil) > Date.now());
  assert.equal(await login(await client(GUESSERS[1]!), password), 429, 'a guessing address stays slowed');
  assert.equal(await login(stranger, password), 303, 'after the unlock the new browser gets in');
});

test("cloud: the owner's app or browser with its device cookie gets in at once", { timeout: 180_000 }, async () => {
  const fleet = await makeUnits('plug', 1);
  const cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  closers.push(() => cloud.close());
  const email = 'owner@example.com',
    password = 'marble falcon tundra 42 softly';
  const api = (from: string): ApiClient => new ApiClient(cloud.api.url, cloud.credentials.caCertPem, from);
  const owner = api(OWNER_ADDRESS);
  assert.equal((await owner.signUp(cloud.mail.maildir, email, password)).status, 200);
  assert.equal((await owner.login(email, password)).status, 200);

  const statuses = await spreadGuessing(async (from, i) => (await api(from).login(email, `wrong ${from} ${i}`)).status);
  // The ceiling is 20; the owner's own first login counted once (the cloud refunds only the source).
  assertCeilingReached(statuses, 19);

  const again = await owner.login(email, password);
  assert.equal(again.status, 200, 'the owner with the device cookie logs in at once');
  assert.ok(owner.cookies.has('__Host-bulwark-cloud-device'));
  const stranger = await api(NEW_BROWSER_ADDRESS).login(email, password);
  assert.equal(stranger.status, 429, 'a new browser is held back by the account-wide ceiling');
});
