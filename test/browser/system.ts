// The whole system people look at, for the page checks (pages.test.ts) and the gallery (bench/screens.ts): a plug, a
// camera still waiting for its owner's password (its first-use /setup), a hub with the plug paired, and a cloud where
// an owner has claimed the plug and a member and a guest joined the household, with the maker's pages on. Each surface
// lists its pages for each visitor (logged out, owner, member, guest, maker) from the GET routes its routers add
// (src/web/device-routes.ts, users-routes.ts; src/hub/web.ts, users-routes.ts; src/cloud/app-routes.ts,
// security-routes.ts, maker-routes.ts); JSON, plain text, downloads and redirects are left out, they are not pages.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { makerTokenSha256, startCloud, type CloudService } from '../../src/cloud/index.ts';
import { startDeviceAgent, pressButton, type DeviceAgent } from '../../src/device/index.ts';
import { startHubService, HUB_INITIAL_PASSWORD_FILE, type HubService } from '../../src/hub/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeFleet, WebClient } from '../support/device.ts';
import { ApiClient, waitFor, waitForMail } from '../cloud/support.ts';

/** The headless Chromium the browser tests use. */
export const CHROMIUM = '/usr/bin/chromium';
/** Its flags: headless, no sandbox (containers), nothing that calls out. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
/** The widths every page is looked at: a phone and a laptop (CSS pixels). */
export const WIDTHS = [390, 1280] as const;
/** Longest one part of the system (or the browser) may take to close, ms: a close that never settles fails. */
export const CLOSE_TIMEOUT_MS = 20_000;

const OWNER_EMAIL = 'owner@example.com';
const OWNER_CLOUD_PASSWORD = 'marble falcon tundra 42 softly';

/** Someone the owner let in: on the plug and the hub by name, in the cloud's household by address. */
interface Person {
  readonly name: string;
  readonly role: 'member' | 'guest';
  readonly password: string;
  readonly email: string;
}
/** A member and a guest: their own views, and the owner's pages that list and remove them. */
const PEOPLE: readonly Person[] = [
  { name: 'bea', role: 'member', password: 'copper-meadow-lantern-47', email: 'bea@example.com' },
  { name: 'cal', role: 'guest', password: 'violet-harbour-ember-83', email: 'cal@example.com' },
];

/** The surfaces, in the order they are checked and drawn. */
export const SURFACE_NAMES = ['device', 'camera', 'hub', 'cloud'] as const;
export type SurfaceName = (typeof SURFACE_NAMES)[number];
/** Who looks at a page. */
export type Who = 'logged out' | 'owner' | 'member' | 'guest' | 'maker';

/** A page to open: its path, or its path and the status it answers when that is not 200 (a refusal, a wrong link). */
export type PagePath = string | { readonly path: string; readonly status: number };

/** Someone who signs in to a surface, and the pages they can then open. */
export interface SignedIn {
  readonly who: Exclude<Who, 'logged out'>;
  /** Signs `page` in through the surface's own form. */
  logIn(page: Page): Promise<void>;
  /** Their pages; some are found on the pages themselves (the confirmations the dashboard links). */
  paths(page: Page): Promise<PagePath[]>;
}

/** One web surface: where it is, its pages open without a session, and who signs in. */
export interface Surface {
  readonly name: SurfaceName;
  readonly base: string;
  readonly publicPaths: readonly PagePath[];
  readonly signedIn: readonly SignedIn[];
}

/** The running system and its surfaces. */
export interface PageSystem {
  readonly work: string;
  readonly surfaces: readonly Surface[];
  /** Closes every part, each within CLOSE_TIMEOUT_MS; rejects naming the parts that failed or took too long. */
  close(): Promise<void>;
}

interface Parts {
  readonly work: string;
  readonly plugUnit: ProvisionedUnit;
  readonly cameraUnit: ProvisionedUnit;
  readonly makerToken: string;
  cloud?: CloudService;
  plug?: DeviceAgent;
  camera?: DeviceAgent;
  hub?: HubService;
  hubPassword?: string;
}

/**
 * `work`, or a rejection naming `what` once `ms` have passed. Its timer keeps the event loop alive meanwhile: a close
 * that waits on an unref'd worker (the cloud's SQLite telemetry writer) is then seen through to its end, where with
 * nothing else left running Node would stop with "unsettled top-level await" (exit 13) before the worker's exit.
 */
export async function withinTime<T>(what: string, work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes what has started, each part bounded; every part is tried even when one fails. */
async function closeParts(parts: Parts): Promise<void> {
  const failures: string[] = [];
  const named = [
    ['the hub', parts.hub],
    ['the plug', parts.plug],
    ['the camera', parts.camera],
    ['the cloud', parts.cloud],
  ] as const;
  for (const [what, part] of named) {
    if (!part) continue;
    await withinTime(`closing ${what}`, part.close(), CLOSE_TIMEOUT_MS).catch((err: unknown) =>
      failures.push(err instanceof Error ? err.message : String(err)),
    );
  }
  if (failures.length > 0) throw new Error(`the page system did not close cleanly: ${failures.join('; ')}`);
}

/** Starts the cloud, the plug (linked to it), the camera and the hub; pairs, claims and lets the people in. */
export async function startPageSystem(): Promise<PageSystem> {
  const fleet = await makeFleet(['plug', 'camera']);
  const parts: Parts = {
    work: fleet.work,
    plugUnit: fleet.units.plug!,
    cameraUnit: fleet.units.camera!,
    makerToken: randomBytes(32).toString('base64url'),
  };
  try {
    await startParts(parts, fleet.factoryDir);
    await letPeopleIn(parts);
    const surfaces = [deviceSurface(parts), cameraSurface(parts), hubSurface(parts), cloudSurface(parts)];
    return { work: fleet.work, surfaces, close: () => closeParts(parts) };
  } catch (err) {
    await closeParts(parts).catch((closing: unknown) => console.error(closing));
    throw err;
  }
}

/** Each part is kept in `parts` as soon as it runs, so a later failure still closes it. */
async function startParts(parts: Parts, factoryDir: string): Promise<void> {
  const { work } = parts;
  parts.cloud = await startCloud({
    factoryDir,
    stateDir: join(work, 'cloud'),
    manifests: [join(work, 'units', 'manifest.json')],
    broker: { port: 0 },
    api: { port: 0, makerTokenSha256: makerTokenSha256(parts.makerToken) },
  });
  parts.plug = await startUnit(parts.plugUnit, join(work, 'plug'), parts.cloud.brokerUrl);
  await waitFor(() => parts.plug!.cloud?.connected, 15_000, 'the plug to reach the cloud');
  // Never set up: its page stays on the first-use form (the camera's model sets the password at install).
  parts.camera = await startUnit(parts.cameraUnit, join(work, 'camera'));
  parts.hub = await startHubService({ stateDir: join(work, 'hub'), web: { port: 0 } });
  parts.hubPassword = await pairHub(parts.hub, parts.plug, work);
}

/** The people on the plug and the hub, the claimed plug and its household in the cloud, and the maker's records. */
async function letPeopleIn(parts: Parts): Promise<void> {
  const hubTrusted = await hubTrust(parts.work);
  for (const person of PEOPLE) {
    await addPerson(parts.plug!.web.url, parts.plugUnit, parts.plugUnit.adminPassword!, person);
    await addPerson(parts.hub!.web!.url, hubTrusted, parts.hubPassword!, person);
  }
  const owner = await claimedAccount(parts.cloud!, parts.plugUnit, join(parts.work, 'plug'));
  for (const person of PEOPLE) await joinHousehold(parts.cloud!, owner, person);
  await makerRecords(parts.cloud!, parts.makerToken);
}

async function startUnit(unit: ProvisionedUnit, stateDir: string, cloudUrl?: string): Promise<DeviceAgent> {
  return startDeviceAgent({
    bundleDir: unit.dir,
    stateDir,
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    ...(cloudUrl ? { cloudUrl } : {}),
  });
}

/** The hub's certificate where WebClient looks for a unit's, so a client can pin it. */
async function hubTrust(work: string): Promise<ProvisionedUnit> {
  const dir = join(work, 'hub-trust');
  await mkdir(dir, { recursive: true });
  await copyFile(join(work, 'hub', 'hub-cert.pem'), join(dir, 'web-cert.pem'));
  return { serial: 'hub', dir, setupCode: '', claimCode: '' };
}

/** Pairs the plug with the hub by its button window; returns the hub owner's initial password. */
async function pairHub(hub: HubService, plug: DeviceAgent, work: string): Promise<string> {
  const password = (await readFile(join(work, 'hub', HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  const c = await WebClient.for(hub.web!.url, await hubTrust(work));
  if ((await c.login(password)).status !== 303) throw new Error('the hub owner could not log in');
  const csrf = WebClient.csrfOf((await c.get('/')).body);
  plug.hub.openPairingWindow('button');
  const r = await c.send('POST', '/devices/pair', { json: { address: `127.0.0.1:${plug.hub.port}`, csrf } });
  if (r.status !== 200) throw new Error(`pairing failed: ${r.status} ${r.body}`);
  return password;
}

/** A day a month from now (YYYY-MM-DD): the guest's end date. */
function inAMonth(): string {
  return new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
}

/** Adds `person` on a device's or the hub's People page (a guest with an end date). */
async function addPerson(url: string, unit: ProvisionedUnit, ownerPassword: string, person: Person): Promise<void> {
  const c = await WebClient.for(url, unit);
  if ((await c.login(ownerPassword)).status !== 303) throw new Error(`the owner could not log in at ${url}`);
  const csrf = WebClient.csrfOf((await c.get('/people')).body);
  const { name, role, password } = person;
  const form = { name, role, password, csrf, ...(role === 'guest' ? { expiresOn: inAMonth() } : {}) };
  const r = await c.send('POST', '/people', { form });
  if (r.status !== 303) throw new Error(`adding ${name} at ${url} failed: ${r.status}`);
}

/** A confirmed cloud account that has claimed the plug; its signed-in client. */
async function claimedAccount(cloud: CloudService, unit: ProvisionedUnit, plugState: string): Promise<ApiClient> {
  const c = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
  const signedUp = await c.signUp(cloud.mail.maildir, OWNER_EMAIL, OWNER_CLOUD_PASSWORD);
  if (signedUp.status !== 200) throw new Error(`the owner's sign-up failed: ${signedUp.status} ${signedUp.body}`);
  await pressButton(plugState, 'press');
  const claimed = await waitFor(
    async () => ((await c.claim(unit.serial, unit.claimCode)).status === 201 ? true : undefined),
    5_000,
    'the claim',
  );
  if (!claimed) throw new Error('claim failed');
  return c;
}

/** The owner invites `person`, who signs up with the invited address and accepts the mailed link. */
async function joinHousehold(cloud: CloudService, owner: ApiClient, person: Person): Promise<void> {
  const { email, role, name } = person;
  const invite = { email, role, name, ...(role === 'guest' ? { until: inAMonth() } : {}) };
  const invited = await owner.send('POST', '/v1/household/invitations', { json: invite });
  if (invited.status !== 202) throw new Error(`inviting ${email} failed: ${invited.status} ${invited.body}`);
  const c = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
  const signedUp = await c.signUp(cloud.mail.maildir, email, person.password);
  if (signedUp.status !== 200) throw new Error(`${email}'s sign-up failed: ${signedUp.status} ${signedUp.body}`);
  const mail = await waitForMail(cloud.mail.maildir, email, /\/invitations\/accept\?token=/);
  const token = decodeURIComponent(/\/invitations\/accept\?token=([A-Za-z0-9._%-]+)/.exec(mail.text)![1]!);
  const accepted = await c.send('POST', '/v1/household/accept', { json: { token } });
  if (accepted.status !== 200) throw new Error(`${email} could not join: ${accepted.status} ${accepted.body}`);
}

/** A researcher's report through the public API and an exploited vulnerability's CRA case, for the maker's pages. */
async function makerRecords(cloud: CloudService, makerToken: string): Promise<void> {
  const c = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
  const report = {
    summary: 'The pairing window stays open after a failed setup code',
    details: 'Steps to reproduce:\n1. Open the pairing window.\n2. Send a wrong setup code three times.',
    product: 'Bulwark plug',
    version: '1.4.1',
    contact: 'researcher@example.org',
  };
  const sent = await c.send('POST', '/v1/security/reports', { json: report });
  if (sent.status !== 201) throw new Error(`the disclosure report was refused: ${sent.status} ${sent.body}`);
  const knownAt = new Date(Date.now() - 30 * 3_600_000).toISOString();
  const opened = await c.send('POST', '/v1/maker/cra/exploited', {
    json: { vuln: 'CVE-2026-4242', knownAt, product: 'Bulwark plug', memberStates: 'NL' },
    headers: { authorization: `Bearer ${makerToken}` },
  });
  if (opened.status !== 201) throw new Error(`the CRA case was refused: ${opened.status} ${opened.body}`);
}

/** Fills a login form and waits until it has left `loginPath`. */
async function submitLogin(page: Page, loginPath: string, fields: Record<string, string>): Promise<void> {
  for (const [selector, value] of Object.entries(fields)) await page.fill(selector, value);
  await Promise.all([page.waitForURL((u) => u.pathname !== loginPath), page.click('main button[type=submit]')]);
}

/** Signs in by name and password on a device's or the hub's login form. */
function byName(base: string, username: string, password: string): (page: Page) => Promise<void> {
  return async (page) => {
    await page.goto(base + '/login');
    await submitLogin(page, '/login', { '#username': username, '#password': password });
  };
}

function deviceSurface(parts: Parts): Surface {
  const base = parts.plug!.web.url;
  const owner: SignedIn = {
    who: 'owner',
    logIn: byName(base, 'admin', parts.plugUnit.adminPassword!),
    paths: async (page) => {
      await page.goto(base + '/');
      const links = await page.locator('a[href^="/confirm/"]').all();
      const confirms = await Promise.all(links.map(async (a) => (await a.getAttribute('href'))!));
      const removals = PEOPLE.map((p) => `/people/${p.name}/remove`);
      return [
        '/',
        ...confirms,
        '/password',
        '/people',
        ...removals,
        '/journal',
        '/journal?tier=connection',
        '/software',
      ];
    },
  };
  const people = PEOPLE.map((p): SignedIn => ({
    who: p.role,
    logIn: byName(base, p.name, p.password),
    // A member may see the software page, a guest only the dashboard and their own password; the People page,
    // the owner's, answers them with the refusal.
    paths: () =>
      Promise.resolve(
        p.role === 'member'
          ? ['/', '/password', '/software', { path: '/people', status: 403 }]
          : ['/', '/password', { path: '/software', status: 403 }],
      ),
  }));
  // Setup is done on the plug: the first-use address answers so.
  const publicPaths = ['/login', { path: '/setup', status: 404 }, { path: '/no-such-page', status: 404 }];
  return { name: 'device', base, publicPaths, signedIn: [owner, ...people] };
}

/** The camera before its owner has set a password: every address leads to the first-use form. */
function cameraSurface(parts: Parts): Surface {
  return { name: 'camera', base: parts.camera!.web.url, publicPaths: ['/setup'], signedIn: [] };
}

function hubSurface(parts: Parts): Surface {
  const base = parts.hub!.web!.url;
  const owner: SignedIn = {
    who: 'owner',
    logIn: byName(base, 'admin', parts.hubPassword!),
    paths: () => Promise.resolve(['/', '/password', '/people', ...PEOPLE.map((p) => `/people/${p.name}/remove`)]),
  };
  const people = PEOPLE.map((p): SignedIn => ({
    who: p.role,
    logIn: byName(base, p.name, p.password),
    paths: () => Promise.resolve(['/', '/password', { path: '/people', status: 403 }]),
  }));
  return {
    name: 'hub',
    base,
    publicPaths: ['/login', { path: '/no-such-page', status: 404 }],
    signedIn: [owner, ...people],
  };
}

function cloudSurface(parts: Parts): Surface {
  const base = parts.cloud!.api.url;
  const serial = parts.plugUnit.serial;
  const byEmail = (email: string, password: string) => async (page: Page) => {
    await page.goto(base + '/login');
    await submitLogin(page, '/login', { '#email': email, '#password': password });
  };
  // A link's page renders its form whatever the token; the token is checked when the form is sent.
  const appPaths = ['/app', `/app/devices/${serial}`, '/app/household', '/app/account', '/invitations/accept?token=t'];
  const household = [
    { who: 'owner' as const, logIn: byEmail(OWNER_EMAIL, OWNER_CLOUD_PASSWORD) },
    ...PEOPLE.map((p) => ({ who: p.role, logIn: byEmail(p.email, p.password) })),
  ].map((v): SignedIn => ({ ...v, paths: () => Promise.resolve(appPaths) }));
  const maker: SignedIn = {
    who: 'maker',
    logIn: async (page) => {
      await page.goto(base + '/maker/login');
      await submitLogin(page, '/maker/login', { '#token': parts.makerToken });
    },
    paths: () => Promise.resolve(['/maker/cra', '/maker/reports']),
  };
  const publicPaths = [
    ...['/login', '/register', '/verify?token=t', '/reset', '/reset?token=t', '/invitations/accept?token=t'],
    ...['/security/policy', '/security/report', '/maker/login', { path: '/no-such-page', status: 404 }],
  ];
  return { name: 'cloud', base, publicPaths, signedIn: [...household, maker] };
}

/** One page as it was opened. */
export interface Visit {
  readonly who: Who;
  readonly path: string;
  /** The status the page should answer (200 unless its PagePath says otherwise), and the one it did. */
  readonly expected: number;
  readonly status: number | undefined;
}

/**
 * Opens every page of `surface` at `width`: logged out, then as each who signs in, each in a browser context of its
 * own (no session carries over). `watch` sees each new tab before anything loads; `look` each page once it has loaded.
 */
export async function visitSurface(
  browser: Browser,
  surface: Surface,
  width: number,
  look: (page: Page, visit: Visit) => Promise<void>,
  watch: (page: Page) => void = () => undefined,
): Promise<void> {
  const loggedOut = { who: 'logged out' as const, logIn: () => Promise.resolve(), paths: () => surface.publicPaths };
  for (const v of [loggedOut, ...surface.signedIn]) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height: 844 } });
    try {
      const page = await context.newPage();
      watch(page);
      await v.logIn(page);
      for (const p of await v.paths(page)) {
        const [path, expected] = typeof p === 'string' ? [p, 200] : [p.path, p.status];
        const answer = await page.goto(surface.base + path);
        await look(page, { who: v.who, path, expected, status: answer?.status() });
      }
    } finally {
      await context.close();
    }
  }
}

/** A file-name-safe name for a page: surface, state and path. */
export function pageName(surface: string, path: string): string {
  const slug = path
    .replace(/^\//, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/-$/, '');
  return `${surface}-${slug || 'home'}`;
}
