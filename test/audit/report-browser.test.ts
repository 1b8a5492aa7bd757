// The HTML audit report in headless Chromium: it renders with no script and no request beyond
// the file itself, a screenshot is taken, and every control links to each of its provisions
// (and each provision back to its controls).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { runAudit, renderAuditHtml, reportAnchor, type AuditReport } from '../../src/audit/index.ts';
import { startWeakDevice, WEAK_PROFILE, type WeakDevice } from './weak-device.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

/** What the page functions read of an element (the DOM types are not in this project's lib). */
interface Attributed {
  getAttribute(name: string): string | null;
}

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let work: string;
let weak: WeakDevice;
let report: AuditReport;
let browser: Browser | undefined;

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'bulwark-audit-html-'));
    await writeFile(join(work, 'weak.yaml'), WEAK_PROFILE);
    weak = await startWeakDevice();
    // A report with every verdict in it: fails (the weak device), passes, not tested and not applicable.
    report = await runAudit({ profile: join(work, 'weak.yaml'), urls: [weak.url] });
    await writeFile(join(work, 'audit.html'), renderAuditHtml(report));
    if (toolAvailable('chromium')) {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    }
  },
  { timeout: 180_000 },
);
after(async () => {
  await browser?.close();
  await weak?.close();
});

test(
  'the report renders in headless Chromium, self-contained, and every control links to its provisions',
  { timeout: 120_000 },
  async (t) => {
    if (!needTool(t, 'chromium')) return;
    const context = await browser!.newContext({ viewport: { width: 1200, height: 900 }, javaScriptEnabled: true });
    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const url = pathToFileURL(join(work, 'audit.html')).href;
    await page.goto(url);

    assert.deepEqual(requests, [url], 'the report loads nothing but itself');
    assert.deepEqual(problems, []);
    assert.equal(await page.locator('script').count(), 0);
    assert.match(await page.title(), /Security audit: Weak Smart Switch/);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /FAILED: 6 required controls failed/);
    const chart = page.locator('svg[role=img]');
    assert.equal(await chart.count(), 1);
    const box = await chart.boundingBox();
    assert.ok(box !== null && box.width > 400 && box.height > 50, 'the summary chart is drawn');

    const shot = join(work, 'audit-report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await stat(shot)).size > 20_000, 'the screenshot has content');
    t.diagnostic(`screenshot: ${shot}`);

    // Each control row links to each of its EN 303 645 and PSTI provisions, and each link resolves.
    for (const c of report.controls) {
      const row = page.locator(`tr[data-control="${c.id}"]`);
      assert.equal(await row.count(), 1, c.id);
      assert.equal(await row.getAttribute('data-status'), c.status, c.id);
      const hrefs = await row
        .locator('a[data-provision]')
        .evaluateAll((as: readonly Attributed[]) => as.map((a) => a.getAttribute('href')));
      const expected = [
        ...c.provisions.etsi.map((id) => `#${reportAnchor('etsi', id)}`),
        ...(c.provisions.psti ?? []).map((id) => `#${reportAnchor('psti', id)}`),
      ];
      assert.deepEqual(hrefs, expected, `${c.id} links to its provisions`);
      for (const href of expected) assert.equal(await page.locator(href).count(), 1, `${c.id}: ${href} exists`);
    }
    // And each met provision links back to its controls.
    for (const p of report.etsi.filter((x) => x.controls.length > 0)) {
      const links = await page
        .locator(`#${reportAnchor('etsi', p.id)} a[data-control-link]`)
        .evaluateAll((as: readonly Attributed[]) => as.map((a) => a.getAttribute('data-control-link')));
      assert.deepEqual(links, [...p.controls], p.id);
    }
    // Following a link works like in a browser: the provision row becomes the target.
    const first = report.controls.find((c) => c.required && c.provisions.etsi.length > 0)!;
    await page.locator(`tr[data-control="${first.id}"] a[data-provision]`).first().click();
    assert.equal(new URL(page.url()).hash, `#${reportAnchor('etsi', first.provisions.etsi[0]!)}`);
    // A failed check's evidence is open without any script.
    const failed = report.checks.find((c) => c.status === 'fail')!;
    assert.ok(
      await page
        .locator(`#${reportAnchor('check', failed.id)} details[open] tr.finding`)
        .first()
        .isVisible(),
    );
    await context.close();
  },
);

test(
  'the EN 18031 section shows each requirement with its decision path, captured in a screenshot',
  { timeout: 120_000 },
  async (t) => {
    if (!needTool(t, 'chromium')) return;
    const context = await browser!.newContext({ viewport: { width: 1200, height: 900 }, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(pathToFileURL(join(work, 'audit.html')).href);
    const section = page.locator('#en18031-1');
    assert.equal(await section.count(), 1);
    // AUM-5-1 failed on admin/admin: its row shows the path node by node, ending FAIL.
    const row = page.locator('tr[data-en18031="AUM-5-1"][data-part="1"]');
    assert.equal(await row.getAttribute('data-outcome'), 'fail');
    const steps = await row.locator('ol.path li').allTextContents();
    const expected = report.en18031.requirements.find((r) => r.id === 'AUM-5-1' && r.part === 1)!.path;
    assert.equal(steps.length, expected.length);
    assert.match(steps[0]!, /EN 18031-1 Is it radio equipment that can reach the internet\?.*→ yes → DN-1/);
    assert.match(
      steps.at(-1)!,
      /DN-2 Is every well-known default password refused\?.*login\.default-credentials = fail.*→ no → FAIL/,
    );
    assert.ok(await row.isVisible());
    await section.scrollIntoViewIfNeeded();
    const shot = join(work, 'audit-en18031.png');
    await page.locator('table', { has: row }).screenshot({ path: shot });
    assert.ok((await stat(shot)).size > 20_000, 'the screenshot of the EN 18031 table has content');
    t.diagnostic(`screenshot: ${shot}`);
    await context.close();
  },
);
