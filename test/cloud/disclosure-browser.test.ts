// The disclosure intake and the maker's pages in a real headless Chromium: a stranger sends a report
// full of markup and script through the form (no JavaScript needed) and gets a tracking id; the maker
// signs in with the maker token and sees the report as literal text: no script runs, no dialog opens,
// no CSP violation is reported.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startCloud, makerTokenSha256, type CloudService } from '../../src/cloud/index.ts';
import { makeUnits } from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
const TOKEN = 'maker-token-for-the-browser-test-0123456789';
const NASTY =
  '<script>alert("summary")</script><img src=x onerror="alert(1)"><svg onload=alert(2)>' +
  '<iframe src="javascript:alert(3)"></iframe>&lt;b&gt;';

let work: string;
let cloud: CloudService;
let browser: Browser | undefined;

before(async () => {
  const fleet = await makeUnits('plug', 1);
  work = fleet.work;
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(work, 'cloud'),
    broker: { port: 0 },
    api: { port: 0, makerTokenSha256: makerTokenSha256(TOKEN) },
  });
  if (toolAvailable('chromium')) {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  }
});

after(async () => {
  await browser?.close();
  await cloud?.close();
});

test('a report full of markup and script is inert on the maker page', { timeout: 120_000 }, async (t) => {
  if (!needTool(t, 'chromium')) return;
  const base = cloud.api.url;
  const context = await browser!.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
  const reporter = await context.newPage();
  await reporter.goto(base + '/security/report');
  await reporter.fill('#summary', NASTY.slice(0, 200));
  await reporter.fill('#product', 'Bulwark plug <b>bold</b>');
  await reporter.fill('#version', '1.4.1');
  await reporter.fill('#details', `${NASTY}\nline two`);
  await reporter.click('main button[type=submit]');
  const trackingId = ((await reporter.textContent('.tracking-id')) ?? '').trim();
  assert.match(trackingId, /^DR-[A-Za-z0-9_-]{16}$/, 'the form works without JavaScript and gives a tracking id');
  await context.close();

  // The maker's browser runs JavaScript: if anything from the report ran, a dialog would open.
  const maker = await browser!.newContext({ ignoreHTTPSErrors: true });
  const page = await maker.newPage();
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(base + '/maker/reports');
  await page.waitForURL(/\/maker\/login$/);
  await page.fill('#token', TOKEN);
  await page.click('main button[type=submit]');
  await page.waitForURL(/\/maker\/cra$/);
  await page.goto(base + '/maker/reports');
  const card = page.locator(`article[id="${trackingId}"]`);
  assert.equal(await card.locator('h2.summary').textContent(), NASTY.slice(0, 200), 'the summary shows literally');
  assert.equal(await card.locator('pre.details').textContent(), `${NASTY}\nline two`, 'the details show literally');
  assert.equal(
    await page.locator('main script, main img, main svg, main iframe, main b').count(),
    0,
    'no element from it',
  );
  await page.waitForTimeout(300);
  assert.deepEqual(dialogs, [], 'no alert or other dialog fired');
  assert.deepEqual(consoleErrors, [], 'no CSP violation or other error');
  await page.screenshot({ path: process.env.BULWARK_SCREENSHOT ?? join(work, 'maker-reports.png'), fullPage: true });
  await maker.close();
});
