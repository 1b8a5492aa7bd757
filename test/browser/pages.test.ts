// Every page of the device (and of a camera at its first-use setup), the hub and the cloud (the owner app, the
// security pages and the maker's) in a real headless Chromium, logged out and as each who signs in (owner, member,
// guest, maker), on a phone (390 px) and a laptop (1280 px): axe-core finds no serious or critical violation, nothing
// scrolls sideways, no table cell is clipped, and the console stays clean. Every control of the dashboard takes Tab.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { needTool, toolAvailable } from '../support/tools.ts';
import {
  CHROMIUM,
  CHROMIUM_FLAGS,
  CLOSE_TIMEOUT_MS,
  SURFACE_NAMES,
  WIDTHS,
  startPageSystem,
  visitSurface,
  withinTime,
  type PageSystem,
  type Surface,
} from './system.ts';

/** The few DOM types the in-page checks use (the project compiles without the DOM library). */
interface DomElement {
  readonly tagName: string;
  readonly className: string;
  readonly textContent: string | null;
  readonly scrollWidth: number;
  readonly clientWidth: number;
  readonly parentElement: DomElement | null;
  readonly disabled?: boolean;
  open?: boolean;
  checkVisibility(): boolean;
  getBoundingClientRect(): { readonly right: number };
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
}
declare const document: {
  readonly documentElement: DomElement;
  readonly activeElement: DomElement | null;
  querySelectorAll(selectors: string): Iterable<DomElement> & { forEach(f: (e: DomElement) => void): void };
};
declare function getComputedStyle(e: DomElement): { readonly overflowX: string };

let system: PageSystem;
let browser: Browser | undefined;

before(
  async () => {
    system = await startPageSystem();
    if (toolAvailable('chromium'))
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  },
  { timeout: 180_000 },
);
after(
  async () => {
    try {
      if (browser) await withinTime('closing Chromium', browser.close(), CLOSE_TIMEOUT_MS);
    } finally {
      await system?.close();
    }
  },
  { timeout: 6 * CLOSE_TIMEOUT_MS },
);

/** The serious and critical axe-core violations of the page, one line each (rule id and the elements). */
async function axeViolations(page: Page): Promise<string[]> {
  // Injected through the DevTools protocol, which the pages' CSP does not govern (no bypassCSP needed).
  await page.evaluate(axe.source);
  const found = await page.evaluate(async () => {
    const injected = (globalThis as unknown as { axe: typeof axe }).axe;
    const r = await injected.run({ resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.targets.slice(0, 5).join(', ')}`);
}

/**
 * Layout faults: the page scrolls sideways, or a table cell is clipped. The rule for a cell, kept simple: its content
 * must fit its own box (else it spills over its neighbour), and its box must lie inside the visible box of every
 * ancestor that does not show its overflow, and inside the viewport. A scrolling ancestor (the cards' table-wrap)
 * counts too: a column that needs a sideways scroll inside its card reads as cut off on a phone (issue 17's journal).
 */
function layoutFaults(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const faults: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth + 1)
      faults.push(`scrolls sideways: ${root.scrollWidth}/${root.clientWidth}`);
    const name = (e: DomElement): string => `${e.tagName.toLowerCase()} "${(e.textContent ?? '').trim().slice(0, 40)}"`;
    for (const cell of document.querySelectorAll('td, th')) {
      if (!cell.checkVisibility()) continue;
      if (cell.scrollWidth > cell.clientWidth + 1) {
        faults.push(`cell content wider than its cell (${cell.scrollWidth}/${cell.clientWidth}): ${name(cell)}`);
        continue;
      }
      const right = cell.getBoundingClientRect().right;
      for (let a = cell.parentElement; a; a = a.parentElement) {
        if (getComputedStyle(a).overflowX === 'visible') continue;
        if (right > a.getBoundingClientRect().right + 1) {
          faults.push(`cell cut off by ${a.tagName.toLowerCase()}.${a.className}: ${name(cell)}`);
          break;
        }
      }
      if (right > root.clientWidth + 1) faults.push(`cell past the viewport's edge: ${name(cell)}`);
    }
    return faults;
  });
}

/** Opens every disclosure (the journal's raw records), so what a reader can open is checked too. */
async function openDisclosures(page: Page): Promise<void> {
  await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
}

/** Every fault of one page: accessibility, then layout as loaded and with its disclosures open. */
async function pageFaults(page: Page): Promise<string[]> {
  const faults = [...(await axeViolations(page)), ...(await layoutFaults(page))];
  await openDisclosures(page);
  return [...faults, ...(await layoutFaults(page)).map((f) => `opened: ${f}`)];
}

/** Visits every page of `surface` at `width`, logged out then as each who signs in; each fault with its page. */
async function surfaceFaults(surface: Surface, width: number): Promise<string[]> {
  const faults: string[] = [];
  // Console errors wait here until the page that caused them is judged, which knows the status it should answer.
  let logged: Array<{ url: string; at: string; text: string }> = [];
  const watch = (page: Page): void => {
    page.on('console', (m) => {
      if (m.type() === 'error') logged.push({ url: page.url(), at: m.location().url, text: m.text() });
    });
    page.on('pageerror', (e) => faults.push(`${page.url()} script error: ${e.message}`));
  };
  await visitSurface(
    browser!,
    surface,
    width,
    async (page, v) => {
      const where = `${surface.name} ${v.path} (${v.who}, ${width} px)`;
      if (v.status !== v.expected) faults.push(`${where}: answered ${v.status} at ${page.url()}, not ${v.expected}`);
      // Chromium logs a page that answers an error status as a failed load: that status is the one checked above.
      const expectedLoad = `Failed to load resource: the server responded with a status of ${v.expected} `;
      for (const l of logged)
        if (v.expected === 200 || l.at !== page.url() || !l.text.startsWith(expectedLoad))
          faults.push(`${l.url} console error: ${l.text}`);
      logged = [];
      for (const f of await pageFaults(page)) faults.push(`${where}: ${f}`);
    },
    watch,
  );
  for (const l of logged) faults.push(`${l.url} console error: ${l.text}`);
  return faults;
}

for (const name of SURFACE_NAMES)
  test(
    `every ${name} page, logged out and as each who signs in, at 390 and 1280 px: no serious axe violation, ` +
      'no sideways scroll, no clipped cell, no console error',
    { timeout: 600_000 },
    async (t) => {
      if (!needTool(t, 'chromium')) return;
      const surface = system.surfaces.find((s) => s.name === name)!;
      const faults: string[] = [];
      for (const width of WIDTHS) faults.push(...(await surfaceFaults(surface, width)));
      assert.deepEqual(faults, [], `${faults.length} fault(s):\n${faults.join('\n')}`);
    },
  );

test("every link, button and field of the device's dashboard is reached with the Tab key", async (t) => {
  if (!needTool(t, 'chromium')) return;
  const device = system.surfaces.find((s) => s.name === 'device')!;
  const context = await browser!.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await device.signedIn.find((v) => v.who === 'owner')!.logIn(page);
  await page.goto(device.base + '/');
  const controls = await page.evaluate(() => {
    const all = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary');
    const shown = [...all].filter((e) => e.checkVisibility() && !e.disabled);
    shown.forEach((e, i) => e.setAttribute('data-tab-order', String(i)));
    return shown.map((e) => `${e.tagName.toLowerCase()} "${(e.textContent ?? '').trim().slice(0, 40)}"`);
  });
  assert.ok(controls.length >= 5, `the dashboard has its controls: ${controls.join(', ')}`);
  const reached = new Set<number>();
  for (let i = 0; i < controls.length + 5; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => document.activeElement?.getAttribute('data-tab-order'));
    if (at) reached.add(Number(at));
  }
  const missed = controls.filter((_c, i) => !reached.has(i));
  assert.deepEqual(missed, [], 'every control takes the focus in turn');
  await context.close();
});
