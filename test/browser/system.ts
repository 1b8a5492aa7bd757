// The whole system an owner looks at, for the page checks (pages.test.ts) and the gallery (bench/screens.ts): a plug,
// a hub with the plug paired, and a cloud where an owner has claimed the plug. Each surface lists its pages, logged
// out and logged in, from the GET routes its routers add (src/web/device-routes.ts, users-routes.ts; src/hub/web.ts,
// users-routes.ts; src/cloud/app-routes.ts); JSON, downloads and 404s are left out, they are not pages.
import { join } from 'node:path';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
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

const OWNER_EMAIL = 'owner@example.com';
const OWNER_CLOUD_PASSWORD = 'marble falcon tundra 42 softly';
/** A second person on the device and the hub, so their removal pages exist. */
const PERSON = { name: 'bea', role: 'member', password: 'copper-meadow-lantern-47' };

/** One web surface: where it is, its pages and how the owner logs in. */
export interface Surface {
  readonly name: 'device' | 'hub' | 'cloud';
  readonly base: string;
  /** Pages open without a session. */
  readonly publicPaths: readonly string[];
  /** Logs `page` in as the owner through the login form. */
  logIn(page: Page): Promise<void>;
  /** The owner's pages; some are found on the pages themselves (the confirmations the dashboard links). */
  sessionPaths(page: Page): Promise<string[]>;
}

/** The running system and its surfaces. */
export interface PageSystem {
  readonly work: string;
  readonly surfaces: readonly Surface[];
  close(): Promise<void>;
}

interface Parts {
  work: string;
  unit: ProvisionedUnit;
  cloud?: CloudService;
  plug?: DeviceAgent;
  hub?: HubService;
}

/** Starts the cloud, the plug (linked to it) and the hub; pairs, claims and adds a person everywhere. */
export async function startPageSystem(): Promise<PageSystem> {
  const fleet = await makeFleet(['plug']);
  const parts: Parts = { work: fleet.work, unit: fleet.units.plug! };
  const close = async (): Promise<void> => {
    await parts.hub?.close();
    await parts.plug?.close();
    await parts.cloud?.close();
  };
  try {
    parts.cloud = await startCloud({
      factoryDir: fleet.factoryDir,
      stateDir: join(fleet.work, 'cloud'),
      manifests: [join(fleet.work, 'units', 'manifest.json')],
      broker: { port: 0 },
      api: { port: 0 },
    });
    parts.plug = await startPlug(parts.unit, join(fleet.work, 'plug'), parts.cloud.brokerUrl);
    parts.hub = await startHubService({ stateDir: join(fleet.work, 'hub'), web: { port: 0 } });
    const hubPassword = await pairHub(parts.hub, parts.plug, fleet.work);
    await addPerson(parts.plug.web.url, parts.unit);
    await addPerson(parts.hub.web!.url, await hubTrust(fleet.work), hubPassword);
    await claimedAccount(parts.cloud, parts.unit, join(fleet.work, 'plug'));
    const surfaces = [deviceSurface(parts), hubSurface(parts.hub, hubPassword), cloudSurface(parts.cloud, parts.unit)];
    return { work: fleet.work, surfaces, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function startPlug(unit: ProvisionedUnit, stateDir: string, cloudUrl: string): Promise<DeviceAgent> {
  const plug = await startDeviceAgent({
    bundleDir: unit.dir,
    stateDir,
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    cloudUrl,
  });
  await waitFor(() => plug.cloud?.connected, 15_000, 'the plug to reach the cloud');
  return plug;
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

/** Adds PERSON on a device's or the hub's People page. */
async function addPerson(url: string, unit: ProvisionedUnit, password = unit.adminPassword!): Promise<void> {
  const c = await WebClient.for(url, unit);
  if ((await c.login(password)).status !== 303) throw new Error(`the owner could not log in at ${url}`);
  const csrf = WebClient.csrfOf((await c.get('/people')).body);
  const r = await c.send('POST', '/people', { form: { ...PERSON, csrf } });
  if (r.status !== 303) throw new Error(`adding ${PERSON.name} at ${url} failed: ${r.status}`);
}

/** A confirmed cloud account that has claimed the plug and invited someone to its household. */
async function claimedAccount(cloud: CloudService, unit: ProvisionedUnit, plugState: string): Promise<void> {
  const c = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
  if ((await c.register(OWNER_EMAIL, OWNER_CLOUD_PASSWORD)).status !== 202) throw new Error('sign-up failed');
  const mail = await waitForMail(cloud.mail.maildir, OWNER_EMAIL, /\/verify\?token=/);
  const token = decodeURIComponent(/\/verify\?token=([A-Za-z0-9._%-]+)/.exec(mail.text)![1]!);
  if ((await c.send('POST', '/v1/accounts/verify', { json: { token } })).status !== 200) throw new Error('verify');
  if ((await c.login(OWNER_EMAIL, OWNER_CLOUD_PASSWORD)).status !== 200) throw new Error('cloud login failed');
  await pressButton(plugState, 'press');
  const claimed = await waitFor(
    async () => ((await c.claim(unit.serial, unit.claimCode)).status === 201 ? true : undefined),
    5_000,
    'the claim',
  );
  if (!claimed) throw new Error('claim failed');
  const invite = { email: 'bea@example.com', role: 'member', name: PERSON.name };
  if ((await c.send('POST', '/v1/household/invitations', { json: invite })).status !== 202) throw new Error('invite');
}

/** Fills a login form and waits until it has left the login page. */
async function submitLogin(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [selector, value] of Object.entries(fields)) await page.fill(selector, value);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('main button[type=submit]')]);
}

function deviceSurface(parts: Parts): Surface {
  const base = parts.plug!.web.url;
  return {
    name: 'device',
    base,
    publicPaths: ['/login'],
    logIn: async (page) => {
      await page.goto(base + '/login');
      await submitLogin(page, { '#username': 'admin', '#password': parts.unit.adminPassword! });
    },
    sessionPaths: async (page) => {
      await page.goto(base + '/');
      const links = await page.locator('a[href^="/confirm/"]').all();
      const confirms = await Promise.all(links.map(async (a) => (await a.getAttribute('href'))!));
      return [
        '/',
        ...confirms,
        '/password',
        '/people',
        `/people/${PERSON.name}/remove`,
        '/journal',
        '/journal?tier=connection',
        '/software',
      ];
    },
  };
}

function hubSurface(hub: HubService, password: string): Surface {
  const base = hub.web!.url;
  return {
    name: 'hub',
    base,
    publicPaths: ['/login'],
    logIn: async (page) => {
      await page.goto(base + '/login');
      await submitLogin(page, { '#username': 'admin', '#password': password });
    },
    sessionPaths: () => Promise.resolve(['/', '/password', '/people', `/people/${PERSON.name}/remove`]),
  };
}

function cloudSurface(cloud: CloudService, unit: ProvisionedUnit): Surface {
  const base = cloud.api.url;
  return {
    name: 'cloud',
    base,
    // A link's page renders its form whatever the token; the token is checked when the form is sent.
    publicPaths: ['/login', '/register', '/verify?token=t', '/reset', '/reset?token=t', '/invitations/accept?token=t'],
    logIn: async (page) => {
      await page.goto(base + '/login');
      await submitLogin(page, { '#email': OWNER_EMAIL, '#password': OWNER_CLOUD_PASSWORD });
    },
    sessionPaths: () =>
      Promise.resolve([
        '/app',
        `/app/devices/${unit.serial}`,
        '/app/household',
        '/app/account',
        '/invitations/accept?token=t',
      ]),
  };
}

/** A file-name-safe name for a page: surface, state and path. */
export function pageName(surface: string, path: string): string {
  const slug = path
    .replace(/^\//, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/-$/, '');
  return `${surface}-${slug || 'home'}`;
}
