// `npm run screens`: the pages a person sees, as pictures. Starts the same system as test/browser/pages.test.ts (a
// plug, a hub with it paired, a cloud where an owner claimed it), then writes a full-page PNG of every page of the
// device, the hub and the owner app, logged out and as the owner, at 1280 and 390 px, into reports/screens/ with an
// index.html that shows them side by side. Nothing is judged here: the browser test does that.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, pageName, startPageSystem, type Surface } from '../test/browser/system.ts';

const OUT = resolve('reports', 'screens');
/** Widest first: the gallery reads like a laptop, then a phone. */
const SHOT_WIDTHS = [1280, 390] as const;

/** One picture of the gallery. */
interface Shot {
  readonly surface: string;
  readonly path: string;
  readonly state: 'logged out' | 'owner';
  readonly width: number;
  readonly file: string;
}

function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Photographs every page of `surface` at `width`, logged out then as the owner. */
async function shootSurface(browser: Browser, surface: Surface, width: number): Promise<Shot[]> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height: 844 } });
  const page = await context.newPage();
  const shots: Shot[] = [];
  const shoot = async (path: string, state: Shot['state']): Promise<void> => {
    await page.goto(surface.base + path);
    const file = `${pageName(surface.name, path)}${state === 'owner' ? '' : '-out'}-${width}.png`;
    await page.screenshot({ path: join(OUT, file), fullPage: true });
    shots.push({ surface: surface.name, path, state, width, file });
    console.log(`  ${surface.name} ${path} (${state}, ${width} px) -> ${file}`);
  };
  for (const path of surface.publicPaths) await shoot(path, 'logged out');
  await surface.logIn(page);
  for (const path of await surface.sessionPaths(page)) await shoot(path, 'owner');
  await context.close();
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

async function main(): Promise<void> {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  console.log('starting a plug, a hub and a cloud...');
  const system = await startPageSystem();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  try {
    const shots: Shot[] = [];
    for (const surface of system.surfaces)
      for (const width of SHOT_WIDTHS) shots.push(...(await shootSurface(browser, surface, width)));
    await writeFile(join(OUT, 'index.html'), galleryHtml(shots));
    console.log(`\n${shots.length} pictures in ${OUT}\nopen ${join(OUT, 'index.html')}`);
  } finally {
    await browser.close();
    await system.close();
  }
}

await main();
