// `npm run before-after -- --root <tree>`: the pictures for issue 17's closing note, one tree at a time. Starts a plug
// from the tree at --root (its own factory and device agent, imported from that tree's src/), makes the journal
// entries an owner would (a wrong password, a login, switching the power on), then photographs in headless Chromium
// the dashboard, the journal and what one press of 'Unpair every hub' shows, at 1280 and 390 px, and renders the
// unit's sticker with the tree's own sticker renderer. Pictures go to reports/before-after/<label>-<page>-<width>.png;
// shots.json lists them and index.html shows each before beside its after. --docs also shoots the pairs the closing
// note links again, at a smaller device scale so each can be committed, into docs/screens/before-after/. The label
// is 'after' for this tree and 'before' for any other. Only the pages are compared: the agent and factory APIs used
// here are the same in both trees, and where the pages differ (the journal's tabs, the unpairing's confirmation) the
// script goes by what the page offers.
//
//   git clone -q /work/main /tmp/before && git -C /tmp/before checkout -q a8f850c~1
//   ln -s "$PWD/node_modules" /tmp/before/node_modules     # or npm ci there
//   npm run before-after -- --root /tmp/before --docs     # before
//   npm run before-after -- --docs                        # after: this working tree
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type * as deviceApi from '../src/device/index.ts';
import type * as identityApi from '../src/identity/index.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(REPO, 'reports', 'before-after');
const DOCS = join(REPO, 'docs', 'screens', 'before-after');
const CHROMIUM = '/usr/bin/chromium';
/** Headless, no sandbox (containers), nothing that calls out: the gist of test/browser/system.ts's flags. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
];
/** A laptop, then a phone (CSS pixels). */
const WIDTHS = [1280, 390] as const;
/** Bounds: one page step, and the whole run (a stuck browser or agent must not outlive it). */
const STEP_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 300_000;
/** Each docs copy's budget in bytes, so the pairs can be committed and linked. */
const DOCS_MAX_BYTES = 150_000;
const VIEWPORT_HEIGHT = 844;

type Label = 'before' | 'after';

/** One picture: a page of one tree at one width (CSS px; the sticker's in px), in one album. */
interface Shot {
  readonly album: Album['name'];
  readonly label: Label;
  readonly page: PageName;
  readonly width: number;
  /** The file's name in its album's folder. */
  readonly file: string;
  readonly bytes: number;
}

/** Where pictures go and how big: the gallery's full pictures, or the closing note's smaller copies. */
interface Album {
  readonly name: 'reports' | 'docs';
  readonly dir: string;
  /** Chromium's device scale factor at a page width: below 1 it draws the text crisp in fewer bytes. */
  scale(width: number): number;
  keeps(page: PageName, width: number): boolean;
  /** The sticker's rendering width, px. */
  readonly stickerPx: number;
}

/** Every picture, full size; the sticker at twice the factory's 591 px print, so its small type reads on a screen. */
const REPORTS: Album = { name: 'reports', dir: OUT, scale: () => 1, keeps: () => true, stickerPx: 1000 };

/** The six pairs the closing note links, each small enough to commit (a laptop page at 0.75, a phone's at 0.8). */
const DOCS_ALBUM: Album = {
  name: 'docs',
  dir: DOCS,
  scale: (width) => (width > 640 ? 0.75 : 0.8),
  keeps: (page, width) =>
    page === 'dashboard' || page === 'journal' || (page === 'unpair' && width === 390) || page === 'sticker',
  stickerPx: 640,
};

/** What this script needs of a tree: its factory (and sticker renderer) and its device agent. */
interface Tree {
  readonly root: string;
  /** Its commit, and whether it is that commit's checkout or a working tree (this one, still changing). */
  readonly version: string;
  readonly identity: typeof identityApi;
  readonly device: typeof deviceApi;
}

/** The pages photographed, in order, with the caption the gallery gives each pair. */
const PAGES = {
  dashboard: "The owner's dashboard (power switched on from it).",
  journal: "The journal after a wrong password, the owner's login and switching the power on.",
  connections: "The journal's connection records (before: on the journal page itself, no tab of their own).",
  unpair: "What one press of 'Unpair every hub' on the dashboard leads to.",
  sticker: "The unit's sticker, rendered by the tree's own sticker renderer (resvg, DejaVu fonts).",
} as const;
type PageName = keyof typeof PAGES;

/** The commit a tree has checked out (for the gallery's captions; read only). */
async function headCommit(root: string): Promise<string> {
  const { stdout } = await promisify(execFile)('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  return stdout.trim();
}

/** Imports the tree's own modules by path, so the pictures show that tree's code and not this one's. */
async function loadTree(root: string): Promise<Tree> {
  const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(root, path)).href)) as T;
  const [identity, device, commit] = await Promise.all([
    load<typeof identityApi>('src/identity/index.ts'),
    load<typeof deviceApi>('src/device/index.ts'),
    headCommit(root),
  ]);
  const version = resolve(root) === resolve(REPO) ? `working tree on ${commit}` : commit;
  return { root, version, identity, device };
}

/** A new factory, one provisioned plug and its running agent, as the tree's test support makes them. */
async function startPlug(tree: Tree, work: string): Promise<Plug> {
  const factoryDir = join(work, 'factory');
  await tree.identity.initFactory(factoryDir);
  const [unit] = await tree.identity.provisionUnits({
    factoryDir,
    model: 'plug',
    count: 1,
    outDir: join(work, 'units'),
  });
  const agent = await tree.device.startDeviceAgent({
    bundleDir: unit!.dir,
    stateDir: join(work, 'plug'),
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
  });
  return { unit: unit!, url: agent.web.url, close: () => agent.close() };
}

/** A running plug: its unit (with the sticker password) and the address of its admin page. */
interface Plug {
  readonly unit: identityApi.ProvisionedUnit;
  readonly url: string;
  close(): Promise<void>;
}

/** Clicks `target` and waits until the page it leads to (through any redirect) has loaded. */
async function clickThrough(page: Page, target: Locator): Promise<void> {
  const navigated = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame());
  await target.click();
  await navigated;
  await page.waitForLoadState();
}

/** Submits the login form with `password`. */
async function submitLogin(page: Page, base: string, password: string): Promise<void> {
  await page.goto(base + '/login');
  await page.fill('#username', 'admin');
  await page.fill('#password', password);
  await clickThrough(page, page.locator('main button[type=submit]'));
}

/** The owner's few steps the journal then shows: a wrong password, the right one, and the power switched on. */
async function makeJournalEntries(page: Page, base: string, password: string): Promise<void> {
  await submitLogin(page, base, `${password}-wrong`);
  if (!page.url().includes('/login')) throw new Error('a wrong password was let in');
  await submitLogin(page, base, password);
  if (page.url().includes('/login')) throw new Error(`the owner could not log in at ${base}`);
  await page.goto(base + '/');
  await clickThrough(page, page.locator('form[action="/api/capabilities/power/on"] button'));
}

/** Photographs the current page whole into the album, if the album keeps that picture. */
async function shoot(page: Page, album: Album, label: Label, name: PageName, width: number): Promise<Shot[]> {
  if (!album.keeps(name, width)) return [];
  const file = `${label}-${name}-${width}.png`;
  const png = await page.screenshot({ path: join(album.dir, file), fullPage: true });
  return [noted({ album: album.name, label, page: name, width, file, bytes: png.length })];
}

/** The dashboard and the journal, and the connection records' own tab where the tree has one. */
async function shootPages(page: Page, base: string, album: Album, label: Label, width: number): Promise<Shot[]> {
  await page.goto(base + '/');
  const shots = await shoot(page, album, label, 'dashboard', width);
  await page.goto(base + '/journal');
  shots.push(...(await shoot(page, album, label, 'journal', width)));
  // Since issue 17 the journal shows one tier at a time; before, both tiers were on the journal page above.
  const tab = page.locator('a[href*="tier=connection"]');
  if (album.keeps('connections', width) && (await tab.count()) > 0) {
    await clickThrough(page, tab.first());
    shots.push(...(await shoot(page, album, label, 'connections', width)));
  }
  return shots;
}

/** Presses 'Unpair every hub' (a button that acts, or a link to a confirmation) and photographs what follows. */
async function shootUnpair(page: Page, base: string, album: Album, label: Label, width: number): Promise<Shot[]> {
  if (!album.keeps('unpair', width)) return [];
  await page.goto(base + '/');
  const name = 'Unpair every hub';
  await clickThrough(page, page.getByRole('button', { name }).or(page.getByRole('link', { name })).first());
  return shoot(page, album, label, 'unpair', width);
}

/** Runs `steps` in a new browser context at `width` and the album's scale, signed in with `session`. */
async function atWidth<T>(
  browser: Browser,
  session: Session | undefined,
  album: Album,
  width: number,
  steps: (page: Page) => Promise<T>,
): Promise<T> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    ...(session ? { storageState: session } : {}),
    viewport: { width, height: VIEWPORT_HEIGHT },
    deviceScaleFactor: album.scale(width),
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  try {
    return await steps(await context.newPage());
  } finally {
    await context.close();
  }
}

type Session = Awaited<ReturnType<BrowserContext['storageState']>>;

/** The owner's journal entries, made once; then every page picture; the unpairing last, as it may act. */
async function shootTree(browser: Browser, plug: Plug, albums: readonly Album[], label: Label): Promise<Shot[]> {
  const session = await atWidth(browser, undefined, REPORTS, WIDTHS[0], async (page) => {
    await makeJournalEntries(page, plug.url, plug.unit.adminPassword!);
    return page.context().storageState();
  });
  const shots: Shot[] = [];
  for (const album of albums)
    for (const width of WIDTHS)
      shots.push(
        ...(await atWidth(browser, session, album, width, (p) => shootPages(p, plug.url, album, label, width))),
      );
  for (const album of albums)
    for (const width of WIDTHS)
      shots.push(
        ...(await atWidth(browser, session, album, width, (p) => shootUnpair(p, plug.url, album, label, width))),
      );
  return shots;
}

/** The factory's sticker SVG for the unit, rendered to PNG by the tree's own renderer (as the sticker tests do). */
async function shootSticker(tree: Tree, plug: Plug, album: Album, label: Label): Promise<Shot> {
  const svg = await readFile(join(plug.unit.dir, 'sticker.svg'), 'utf8');
  const file = `${label}-sticker-${album.stickerPx}.png`;
  const png = await tree.identity.renderStickerPng(svg, album.stickerPx);
  await writeFile(join(album.dir, file), png);
  return noted({ album: album.name, label, page: 'sticker', width: album.stickerPx, file, bytes: png.length });
}

/** Logs a picture as it is written, with a warning when a docs copy is over its budget. */
function noted(shot: Shot): Shot {
  const over = shot.album === 'docs' && shot.bytes > DOCS_MAX_BYTES ? ` OVER the ${DOCS_MAX_BYTES}-byte budget` : '';
  console.log(`  ${shot.album}/${shot.file}: ${Math.round(shot.bytes / 1024)} KiB${over}`);
  return shot;
}

/** shots.json: where each tree came from, each album's folder and every picture so far, of both labels. */
interface ShotList {
  trees: Partial<Record<Label, { root: string; version: string; madeAt: string }>>;
  albums: Record<Album['name'], string>;
  shots: Shot[];
}

/** Replaces this run's entries (its label, its albums) in shots.json, keeping the others. */
async function recordShots(tree: Tree, label: Label, albums: readonly Album[], shots: readonly Shot[]) {
  const path = join(OUT, 'shots.json');
  const old = await readFile(path, 'utf8').then(
    (text) => JSON.parse(text) as ShotList,
    (): ShotList => ({ trees: {}, albums: { reports: '', docs: '' }, shots: [] }),
  );
  const replaced = (s: Shot): boolean => s.label === label && albums.some((a) => a.name === s.album);
  const list: ShotList = {
    trees: { ...old.trees, [label]: { root: tree.root, version: tree.version, madeAt: new Date().toISOString() } },
    albums: { reports: relative(REPO, OUT), docs: relative(REPO, DOCS) },
    shots: [...old.shots.filter((s) => !replaced(s)), ...shots],
  };
  await writeFile(path, JSON.stringify(list, null, 2) + '\n');
  return list;
}

function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One side of a pair: the picture at most 640 px wide, or why there is none. */
function figure(list: ShotList, label: Label, page: PageName, width: number): string {
  const shot = list.shots.find(
    (s) => s.album === 'reports' && s.label === label && s.page === page && s.width === width,
  );
  const tree = list.trees[label];
  const head = `<figcaption>${label}${tree ? ` (${escapeText(tree.version)})` : ''}</figcaption>`;
  if (!shot)
    return `<figure>${head}<p class="none">${tree ? 'no such page in this tree' : 'not taken yet'}</p></figure>`;
  const img = `<img src="${shot.file}" alt="${label}: ${page} at ${width} px" width="${Math.min(width, 640)}">`;
  return `<figure>${head}<a href="${shot.file}">${img}</a></figure>`;
}

/** index.html: each page at each width, before beside after, with its caption. */
function galleryHtml(list: ShotList): string {
  const full = list.shots.filter((s) => s.album === 'reports');
  const sections = (Object.keys(PAGES) as PageName[]).flatMap((page) =>
    [...new Set(full.filter((s) => s.page === page).map((s) => s.width))]
      .sort((a, b) => b - a)
      .map(
        (width) =>
          `<section><h2>${page}, ${width} px</h2><p>${escapeText(PAGES[page])}</p><div class="row">` +
          `${figure(list, 'before', page, width)}${figure(list, 'after', page, width)}</div></section>`,
      ),
  );
  const trees = Object.entries(list.trees)
    .map(([label, t]) => `<li>${label}: ${escapeText(t.root)} (${escapeText(t.version)}), taken ${t.madeAt}</li>`)
    .join('');
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Issue 17: before and after</title><style>' +
    'body{font:16px system-ui,sans-serif;margin:1rem}.row{display:flex;gap:1rem;align-items:flex-start}' +
    'img{border:1px solid #ccc;height:auto}figure{margin:0}.none{color:#666;width:20rem}</style></head><body>' +
    `<h1>Issue 17: before and after</h1><ul>${trees}</ul>\n${sections.join('\n')}\n</body></html>\n`
  );
}

/** Starts the tree's plug, takes every picture of each album in `browser`, and stops the plug whatever happens. */
async function takeShots(tree: Tree, browser: Browser, albums: readonly Album[], label: Label): Promise<Shot[]> {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-before-after-'));
  let plug: Plug | undefined;
  try {
    plug = await startPlug(tree, work);
    const shots = await shootTree(browser, plug, albums, label);
    for (const album of albums) shots.push(await shootSticker(tree, plug, album, label));
    return shots;
  } finally {
    await plug?.close();
    await rm(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { root: { type: 'string' }, docs: { type: 'boolean' } } });
  const root = resolve(values.root ?? REPO);
  const label: Label = root === resolve(REPO) ? 'after' : 'before';
  // Whatever hangs (a page that never answers, an agent that never closes), the run ends; Playwright's exit
  // handler then kills Chromium.
  setTimeout(() => {
    console.error(`before-after: gave up after ${RUN_TIMEOUT_MS / 1000} s`);
    process.exit(1);
  }, RUN_TIMEOUT_MS).unref();
  console.log(`${label}: the plug of ${root}`);
  const tree = await loadTree(root);
  const albums = values.docs === true ? [REPORTS, DOCS_ALBUM] : [REPORTS];
  for (const album of albums) await mkdir(album.dir, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  try {
    const shots = await takeShots(tree, browser, albums, label);
    const list = await recordShots(tree, label, albums, shots);
    await writeFile(join(OUT, 'index.html'), galleryHtml(list));
    console.log(`${shots.length} pictures (${label}) in ${OUT}\nopen ${join(OUT, 'index.html')}`);
  } finally {
    await browser.close();
  }
}

await main();
