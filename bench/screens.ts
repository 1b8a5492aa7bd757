// `npm run screens`: the pages a person sees, as pictures. Starts the same system as test/browser/pages.test.ts (a
// plug, a camera at its first-use setup, a hub with the plug paired, a cloud where an owner claimed it and let a member
// and a guest in), then writes a full-page PNG of every page of the device, the hub and the cloud, logged out and as
// each who signs in (owner, member, guest, maker), at 1280 and 390 px, into reports/screens/ with an index.html that
// shows them side by side. Nothing is judged here: the browser test does that. A failure, in a start, a picture or a
// close (each part's close is bounded), ends the run with the error and exit code 1, never a hang.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_FLAGS,
  CLOSE_TIMEOUT_MS,
  pageName,
  startPageSystem,
  visitSurface,
  withinTime,
  type PageSystem,
  type Surface,
  type Who,
} from '../test/browser/system.ts';

const OUT = resolve('reports', 'screens');
/** Widest first: the gallery reads like a laptop, then a phone. */
const SHOT_WIDTHS = [1280, 390] as const;

/** One picture of the gallery. */
interface Shot {
  readonly surface: string;
  readonly path: string;
  readonly state: Who;
  readonly width: number;
  readonly file: string;
}

function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The file of one picture: the owner's pages carry no suffix (as before there were other visitors). */
function shotFile(surface: string, path: string, who: Who, width: number): string {
  const suffix = who === 'owner' ? '' : who === 'logged out' ? '-out' : `-${who}`;
  return `${pageName(surface, path)}${suffix}-${width}.png`;
}

/** Photographs every page of `surface` at `width`, logged out then as each who signs in. */
async function shootSurface(browser: Browser, surface: Surface, width: number): Promise<Shot[]> {
  const shots: Shot[] = [];
  await visitSurface(browser, surface, width, async (page, v) => {
    const file = shotFile(surface.name, v.path, v.who, width);
    await page.screenshot({ path: join(OUT, file), fullPage: true });
    shots.push({ surface: surface.name, path: v.path, state: v.who, width, file });
    console.log(`  ${surface.name} ${v.path} (${v.who}, ${width} px) -> ${file}`);
  });
  return shots;
}

/** The gallery page: one row per page, its pictures at each width beside each other. */
function galleryHtml(shots: readonly Shot[]): string {
  const rows = new Map<string, Shot[]>();
  for (const s of shots) {
    const key = `${s.surface} ${s.path} (${s.state})`;
    rows.set(key, [...(rows.get(key) ?? []), s]);
  }
  const sections = [...rows]
    .map(
      ([title, list]) =>
        `<section><h2>${escapeText(title)}</h2><div class="row">` +
        list
          .map(
            (s) =>
              `<figure><figcaption>${s.width} px</figcaption><a href="${s.file}">` +
              `<img src="${s.file}" alt="${escapeText(title)} at ${s.width} px" width="${s.width / 2}"></a></figure>`,
          )
          .join('') +
        '</div></section>',
    )
    .join('\n');
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bulwark screens</title><style>' +
    'body{font:16px system-ui,sans-serif;margin:1rem}.row{display:flex;gap:1rem;align-items:flex-start}' +
    'img{border:1px solid #ccc;height:auto}figure{margin:0}</style></head><body><h1>Bulwark screens</h1>' +
    `<p>${shots.length} pictures, made ${new Date().toISOString()}.</p>\n${sections}\n</body></html>\n`
  );
}

/** Every picture, then the gallery page. */
async function shootAll(browser: Browser, system: PageSystem): Promise<void> {
  const shots: Shot[] = [];
  for (const surface of system.surfaces)
    for (const width of SHOT_WIDTHS) shots.push(...(await shootSurface(browser, surface, width)));
  await writeFile(join(OUT, 'index.html'), galleryHtml(shots));
  console.log(`\n${shots.length} pictures in ${OUT}\nopen ${join(OUT, 'index.html')}`);
}

async function main(): Promise<void> {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  console.log('starting a plug, a camera, a hub and a cloud...');
  const system = await startPageSystem();
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
    try {
      await shootAll(browser, system);
    } finally {
      await withinTime('closing Chromium', browser.close(), CLOSE_TIMEOUT_MS);
    }
  } finally {
    await system.close();
  }
}

try {
  await main();
} catch (err) {
  console.error(`npm run screens failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  // A part that failed to close may still hold the event loop: end here rather than hang.
  process.exit(1);
}
