// The admin page in a real headless Chromium: log in, control, change password, log out; and a
// page from another origin that tries to change the password through the owner's browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import { needTool, toolAvailable } from '../support/tools.ts';
import type { DeviceAgent } from '../../src/device/index.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

let fleet: TestFleet;
let agent: DeviceAgent;
let browser: Browser | undefined;
let evil: Server | undefined;

before(async () => {
  fleet = await makeFleet(['plug']);
  agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
  if (toolAvailable('chromium')) {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  }
});
after(async () => {
  await browser?.close();
  await agent?.close();
  evil?.close();
});

test(
  'log in, switch the plug, refuse a weak password with its reason, change it, log out',
  { timeout: 120_000 },
  async (t) => {
    if (!needTool(t, 'chromium')) return;
    const context = await browser!.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(agent.web.url + '/');
    assert.match(page.url(), /\/login$/);
    await page.fill('#password', fleet.units.plug!.adminPassword!);
    await page.click('button[type=submit]');
    await page.waitForURL(agent.web.url + '/');
    assert.match((await page.textContent('main')) ?? '', new RegExp(fleet.units.plug!.serial));

    const power = page.locator('[data-value-of=power]');
    const before = (await power.textContent())?.trim();
    await page.click(`button[aria-label="Power: ${before === 'On' ? 'Turn off' : 'Turn on'}"]`);
    await page.waitForLoadState('load');
    assert.equal((await page.locator('[data-value-of=power]').textContent())?.trim(), before === 'On' ? 'Off' : 'On');

    await page.click('a[href="/password"]');
    await page.fill('#current-password', fleet.units.plug!.adminPassword!);
    await page.fill('#new-password', 'password1234');
    await page
      .locator('#strength-text')
      .filter({ hasText: /Not accepted/ })
      .waitFor({ timeout: 10_000 });
    await page.fill('#confirm-password', 'password1234');
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/password')),
      page.click('main button[type=submit]'),
    ]);
    await page.waitForLoadState('load');
    assert.match((await page.textContent('main')) ?? '', /not accepted/i, (await page.textContent('main')) ?? '');
    assert.match((await page.textContent('.reasons')) ?? '', /common|guess/i);
    await page.screenshot({ path: join(fleet.work, 'password-refused.png'), fullPage: true });

    const strong = 'marble falcon tundra 42 softly';
    await page.fill('#current-password', fleet.units.plug!.adminPassword!);
    await page.fill('#new-password', strong);
    await page
      .locator('#strength-text')
      .filter({ hasText: /Strong enough/ })
      .waitFor({ timeout: 10_000 });
    await page.fill('#confirm-password', strong);
    await page.click('main button[type=submit]');
    await page.waitForURL(/\/login\?changed=1$/);
    await page.fill('#password', strong);
    await page.click('button[type=submit]');
    await page.waitForURL(agent.web.url + '/');
    await page.click('header button[type=submit]');
    await page.waitForURL(/\/login$/);
    await page.goto(agent.web.url + '/');
    assert.match(page.url(), /\/login$/, 'logged out for real');
    // 'Failed to load resource' lines are the expected 422 of the refused password; nothing is missing (404).
    assert.deepEqual(
      errors.filter((e) => /Content Security Policy|Refused to|Uncaught|404/.test(e)),
      [],
      'no CSP violation, script error or missing resource',
    );
    await context.close();
  },
);

test('a page from another origin cannot change the password by form or by fetch', { timeout: 120_000 }, async (t) => {
  if (!needTool(t, 'chromium')) return;
  const unit = fleet.units.plug!;
  // The owner's password at this point (the first test may have changed it): find one that logs in.
  let password = unit.adminPassword!;
  const probe = await WebClient.for(agent.web.url, unit);
  if ((await probe.login(password)).status !== 303) password = 'marble falcon tundra 42 softly';
  const ownerBefore = await readFile(join(fleet.work, 'state', 'web', 'owner.json'), 'utf8').catch(() => '(sticker)');

  const target = agent.web.url;
  const attack = `<!doctype html><html><body>
<form id="f" method="post" action="${target}/password">
<input name="currentPassword" value="${password}"><input name="newPassword" value="attacker owns 1t now!"><input\
 name="confirmPassword" value="attacker owns 1t now!">
</form>
<script src="/attack.js"></script></body></html>`;
  const attackJs =
    `fetch(${JSON.stringify(target + '/password')}, { method: 'POST', mode: 'no-cors',` +
    ` credentials: 'include',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: 'currentPassword=${encodeURIComponent(password)}&newPassword=attacker%20owns%201t%20now!\
&confirmPassword=attacker%20owns%201t%20now!' })
  .catch(function () {}).finally(function () { document.title = 'fetched'; document.getElementById('f').submit(); });`;
  const tls = {
    key: await readFile(join(unit.dir, 'web-key.pem')),
    cert: await readFile(join(unit.dir, 'web-cert.pem')),
  };
  evil = createServer(tls, (req, res) => {
    if (req.url === '/attack.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(attackJs);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(attack);
  });
  await new Promise<void>((r) => evil!.listen(0, '127.0.0.1', () => r()));
  const evilUrl = `https://127.0.0.1:${(evil.address() as AddressInfo).port}/`;

  const context = await browser!.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(target + '/login');
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(target + '/');
  const sessionCookie = (await context.cookies()).find((c) => c.name === '__Host-bulwark-session');
  assert.ok(sessionCookie, 'logged in');

  const attackPage = await context.newPage();
  // The page fires a credentialed fetch, then auto-submits its form: wait for the form's answer.
  const formAnswer = attackPage.waitForResponse(
    (r) => r.url().endsWith('/password') && r.request().isNavigationRequest(),
    { timeout: 20_000 },
  );
  await attackPage.goto(evilUrl);
  assert.equal((await formAnswer).status(), 403, 'the forged form post is refused');
  await attackPage.waitForURL(/\/password$/);
  await attackPage.waitForLoadState('load');
  assert.match((await attackPage.textContent('main')) ?? '', /403/);

  const ownerAfter = await readFile(join(fleet.work, 'state', 'web', 'owner.json'), 'utf8').catch(() => '(sticker)');
  assert.equal(ownerAfter, ownerBefore, 'the password is unchanged');
  const check = await WebClient.for(agent.web.url, unit, '127.0.0.5');
  assert.equal((await check.login(password)).status, 303, 'the old password still works');
  const check2 = await WebClient.for(agent.web.url, unit, '127.0.0.5');
  assert.equal((await check2.login('attacker owns 1t now!')).status, 401);
  await context.close();
});
