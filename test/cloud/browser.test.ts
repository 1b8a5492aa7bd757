// The owner web app in a real headless Chromium: register, claim a plug (after its button), switch
// it from the cloud, and see the chart of its telemetry; no CSP violation on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { startDeviceAgent, pressButton, type DeviceAgent } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, waitFor, waitForMail } from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

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

let work: string;
let unit: ProvisionedUnit;
let cloud: CloudService;
let agent: DeviceAgent;
let browser: Browser | undefined;

before(async () => {
  const fleet = await makeUnits('plug', 1);
  work = fleet.work;
  unit = fleet.units[0]!;
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  agent = await startDeviceAgent({
    bundleDir: unit.dir,
    stateDir: join(work, 'dev'),
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    cloudUrl: cloud.brokerUrl,
    cloudTelemetryIntervalMs: 200,
  });
  await waitFor(() => agent.cloud?.connected, 15_000, 'the plug to connect');
  if (toolAvailable('chromium')) {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  }
});

after(async () => {
  await browser?.close();
  await agent?.close();
  await cloud?.close();
});

test(
  'register, claim the plug, switch it from the cloud and see its telemetry chart',
  { timeout: 120_000 },
  async (t) => {
    if (!needTool(t, 'chromium')) return;
    const base = cloud.api.url;
    const context = await browser!.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });

    await page.goto(base + '/');
    await page.waitForURL(/\/login$/);
    await page.click('a[href="/register"] >> nth=0');
    await page.fill('#email', 'browser@example.com');
    await page.fill('#password', 'password1234');
    await page.click('main button[type=submit]');
    assert.match(
      (await page.textContent('main')) ?? '',
      /stronger password/i,
      'a weak password is refused with reasons',
    );
    await page.fill('#password', 'marble falcon tundra 42 softly');
    await page.click('main button[type=submit]');
    assert.match((await page.textContent('main')) ?? '', /Check your mail/);

    // The confirmation link from the cloud's maildir: one button confirms, then the owner logs in.
    const mail = await waitForMail(cloud.mail.maildir, 'browser@example.com', /\/verify\?token=/);
    await page.goto(/https:\S+\/verify\?token=\S+/.exec(mail.text)![0]);
    await page.click('main button[type=submit]');
    assert.match((await page.textContent('[role=status]')) ?? '', /address is confirmed/);
    await page.fill('#email', 'browser@example.com');
    await page.fill('#password', 'marble falcon tundra 42 softly');
    await page.click('main button[type=submit]');
    await page.waitForURL(base + '/app');

    // The claim form refuses the serial alone, and the right code before the button.
    await page.fill('#serial', unit.serial);
    await page.fill('#claim-code', unit.claimCode);
    await page.click('main button[type=submit]');
    assert.match((await page.textContent('[role=alert]')) ?? '', /press the button/i);

    assert.match(await pressButton(join(work, 'dev'), 'press'), /claim window open/);
    await waitFor(
      async () => ((await cloud.store.getDevice(unit.serial))?.claimWindowUntil ?? 0) > Date.now(),
      5_000,
      'the claim window',
    );
    await page.fill('#serial', unit.serial.toLowerCase());
    await page.fill('#claim-code', unit.claimCode);
    await page.click('main button[type=submit]');
    await page.waitForURL(new RegExp(`/app/devices/${unit.serial}`));
    assert.match((await page.textContent('[role=status]')) ?? '', /Claimed/);

    const power = (): Promise<string | undefined> =>
      page
        .locator('[data-value-of=power]')
        .textContent()
        .then((x) => x?.trim());
    const before = await power();
    const target = before === 'On' ? 'Off' : 'On';
    await page.click(`button[aria-label="Power: Turn ${target.toLowerCase()}"]`);
    await page.waitForLoadState('load');
    assert.match(
      (await page.textContent('[role=status]')) ?? '',
      new RegExp(`Power is now ${target.toLowerCase()}\\.`),
    );
    assert.equal(await power(), target, 'the page shows the new state');
    assert.equal(
      agent.capabilities.list().find((c) => c.id === 'power')!.value,
      target === 'On',
      'the plug itself switched',
    );

    // Telemetry keeps arriving every 200 ms: reload until the chart has a few points.
    await waitFor(
      async () => {
        await page.goto(base + `/app/devices/${unit.serial}`);
        return Number(await page.getAttribute('svg.chart', 'data-points').catch(() => '0')) >= 3;
      },
      20_000,
      'the chart to have points',
      300,
    );
    const lines = await page.locator('svg.chart polyline').count();
    assert.ok(lines >= 1, 'at least one series is drawn');
    assert.match((await page.textContent('svg.chart desc')) ?? '', /Energy use: \d+ readings, latest \d+ W/);
    await page.screenshot({ path: process.env.BULWARK_SCREENSHOT ?? join(work, 'cloud-device.png'), fullPage: true });

    // Releasing cannot be undone: the page asks for the password again, and a wrong one keeps the device.
    await page.fill('#rel-password', 'not my password at all');
    await page.click('button.danger:has-text("Release this device")');
    await page.waitForLoadState('load');
    assert.match((await page.textContent('[role=alert]')) ?? '', /Wrong password: the device is still yours\./);
    assert.notEqual((await cloud.store.getDevice(unit.serial))?.ownerId ?? null, null, 'still claimed');
    await page.fill('#rel-password', 'marble falcon tundra 42 softly');
    await page.click('button.danger:has-text("Release this device")');
    await page.waitForURL(/\/app$/);
    assert.match((await page.textContent('[role=status]')) ?? '', /Released/);
    assert.equal((await cloud.store.getDevice(unit.serial))?.ownerId, null, 'released');

    assert.deepEqual(
      errors.filter((e) => /Content Security Policy|Refused to|Uncaught/.test(e)),
      [],
      'no CSP violation or script error',
    );
    await context.close();
  },
);
