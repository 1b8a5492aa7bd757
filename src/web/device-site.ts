/**
 * What the device's admin routes share: the unit, its state, the owner's login checks, the
 * journal and the page frame. The routes themselves live in device-routes.ts; the server around
 * them in service.ts.
 */
import type { DeviceBundle } from '../bundle/index.ts';
import type { SessionView } from './auth-bridge.ts';
import { hostCookie, type WebRequest, type WebResponse } from './http.ts';
import type { PreSessionForms, SurfaceEvent } from './app.ts';
import type { WebStateStore } from './owner-state.ts';
import { OWNER_NAME, type OwnerLogin } from './owner-login.ts';
import type * as pages from './pages.ts';
import type { DashboardCard, DashboardFact } from './dashboard-page.ts';
import type { JournalListOptions } from './journal-page.ts';
import type { WebCertificateView } from './web-certificate.ts';
import { liveAccountOf, type DeviceAccount } from './users.ts';

/** The session cookie of the device's admin page. */
export const SESSION_COOKIE = '__Host-bulwark-session';

/** What a device route's handler gets besides the request. */
export interface DeviceCtx {
  session?: SessionView & { id: string };
  /** Who is signed in: their name, role and account. */
  user?: DeviceAccount;
}

/** The device as the web service controls it. */
export interface WebDeviceControl {
  readonly firmwareVersion: string;
  /** The last day of security updates as the unit knows it now (YYYY-MM-DD); absent: its bundle's date. */
  supportEndsOn?(): string;
  readonly startedAt: number;
  capabilities(): readonly pages.CapabilityView[];
  /** Runs an action; throws a BulwarkError with a code on bad input. */
  invoke(capability: string, action: string, value: unknown): Promise<unknown>;
  /** Extra controls the owner may use on the admin page (pairing window and the like), by name. */
  ownerActions?(): ReadonlyArray<OwnerAction>;
  /** Extra facts for the dashboard (e.g. the hub pairing window's state), read on every view. */
  facts?(): ReadonlyArray<DashboardFact>;
  /** The running image and the components its SBOM lists (GET /software); absent: no such page. */
  software?(): Promise<pages.SoftwareView>;
  /** Installing an update from a file the owner uploads (POST /update/file); absent: no such form. */
  readonly updateFile?: WebUpdateFile;
  /** More of the owner's data for GET /api/export (paired hubs, update choices), never a secret. */
  exportData?(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The owner removed a person on this page: the agent passes it on to the paired hubs. */
  personRemoved?(name: string): void;
}

/** What an installation from a file ended in (src/update's CheckOutcome). */
export interface UpdateFileOutcome {
  readonly outcome: string;
  readonly version?: string;
  readonly code?: string;
  readonly detail?: string;
}

/** The updater as the upload of an update file needs it. */
export interface WebUpdateFile {
  /** The largest update file the unit accepts, bytes. */
  readonly maxBytes: number;
  /** The folder uploads are written to (the web service's alone: it removes what it finds there). */
  readonly dir: string;
  /** Verifies and installs `file` as an online update would; never deletes it. */
  install(file: string): Promise<UpdateFileOutcome>;
}

/** The journal as the web service reads it. */
export interface WebJournalReader {
  list(options: JournalListOptions): Promise<readonly pages.JournalRow[]> | readonly pages.JournalRow[];
}

/** One of the owner's controls on the dashboard (its route is POST /api/actions/<id>). */
export interface OwnerAction {
  readonly id: string;
  readonly label: string;
  run(): Promise<string>;
  /** Whether the dashboard shows it now (one control per setting: "turn off" only while it is on); default yes. */
  shown?(): boolean;
  /**
   * For an action that cannot be undone from the page: what it does, in the owner's words. The dashboard then links to
   * a page that asks for the password again, and the route refuses the action without it.
   */
  readonly confirm?: string;
  /** The dashboard card it sits on (the hubs, the updates, the device, starting again); default the device's. */
  readonly card?: DashboardCard;
}

/** Everything the device's routes need. */
export interface DeviceSite {
  readonly bundle: DeviceBundle;
  readonly device: WebDeviceControl;
  readonly journal: WebJournalReader;
  readonly state: WebStateStore;
  readonly login: OwnerLogin;
  readonly forms: PreSessionForms;
  /** Words a password must not lean on: the model, serial, maker and user name. */
  readonly userInputs: readonly string[];
  readonly ownerActions: ReadonlyArray<OwnerAction>;
  /** The certificate this page is served with now. */
  certificate(): WebCertificateView;
  /** Applies the owner's monitoring choice to the journal (monitoring-route.ts). */
  applyMonitoring(on: boolean): void;
  record(req: WebRequest, event: SurfaceEvent): void;
}

/** True while a setup-mode unit has no owner password yet. */
export function setupPending(site: DeviceSite): boolean {
  return site.bundle.unit.initialPasswordMode === 'setup' && site.state.owner === undefined;
}

/**
 * The live session the request's cookie names and its user, if any (touching it extends its idle
 * time). A session whose user was removed, or whose guest access ended, is ended here, at once.
 */
export function sessionOf(
  site: DeviceSite,
  req: WebRequest,
): (SessionView & { id: string; account: DeviceAccount }) | undefined {
  const id = req.cookies.get(SESSION_COOKIE);
  if (!id) return undefined;
  const now = Date.now();
  const { session, changed } = site.state.sessions.touch(id, now);
  if (changed) site.state.markDirty('sessions', 5_000);
  if (!session) return undefined;
  const account = liveAccountOf(site.state, session.user, now);
  if (account) return { ...session, id, account };
  site.state.sessions.destroyAllFor(session.user);
  site.state.markDirty('sessions', 0);
  return undefined;
}

/** The name of whoever the request's session belongs to, without extending it; undefined without one. */
export function signedInName(site: DeviceSite, req: Pick<WebRequest, 'cookies'>): string | undefined {
  const id = req.cookies.get(SESSION_COOKIE);
  return id ? (site.state.sessions.validate(id, Date.now())?.user ?? undefined) : undefined;
}

/** The page frame: the device's name, the title and, when logged in, the CSRF token and who is signed in. */
export function frame(site: DeviceSite, title: string, csrf?: string, user?: DeviceAccount): pages.PageFrame {
  const unit = site.bundle.unit;
  return {
    deviceName: `${unit.modelName} ${unit.serial}`,
    title,
    ...(csrf ? { csrf } : {}),
    ...(user ? { user: { name: user.name, role: user.role } } : {}),
  };
}

/** Journals an event about `req`, naming the signed-in person (or `identity` when given). */
export function recordOwner(
  site: DeviceSite,
  req: WebRequest,
  event: string,
  result: SurfaceEvent['result'],
  detail?: string,
  identity?: string,
): void {
  const who = identity ?? signedInName(site, req) ?? OWNER_NAME;
  site.record(req, { event, result, identity: who, ...(detail ? { detail } : {}) });
}

/** Starts `name`'s session: the session cookie, the login form's cookie cleared, their device cookie. */
export async function startSession(site: DeviceSite, deviceCookie: string, name = OWNER_NAME): Promise<WebResponse> {
  await site.state.saveDeviceCookieKey();
  const s = site.state.sessions.create(name, Date.now());
  await site.state.flush().catch(() => undefined);
  site.state.markDirty('sessions', 0);
  const cookies = [hostCookie(SESSION_COOKIE, s.id), site.forms.clear(), deviceCookie];
  return { kind: 'redirect', location: '/', headers: { 'set-cookie': cookies } };
}
