/**
 * The device's HTTPS admin service: TLS 1.2/1.3 with ECDHE-AEAD only on the unit's own
 * certificate, authentication on every route but the login page, its assets and security.txt,
 * device cookies and lockout before any hash is computed (src/auth's LoginGuard: the owner's
 * browser is limited per cookie, never by a guesser's counters), argon2id, `__Host-` session
 * cookies, a CSRF token plus an Origin check on every state change, strict security headers,
 * and a journal entry for every TLS connection and login attempt.
 */
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { InvalidInputError } from '../errors/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import type { DamagedStateSink } from '../storage/index.ts';
import type { LockoutConfig, SessionConfig } from './auth-bridge.ts';
import type { DeviceCookieConfig } from '../auth/index.ts';
import { HttpError, Router, defaultHttpLimits, type HttpLimits, type WebRequest } from './http.ts';
import { createWebApp, journalRecorder, PreSessionForms, serveApp, type RunningSurface, type WebApp } from './app.ts';
import { addStaticRoutes } from './page-shell.ts';
import { WebStateStore, loadMonitoringChoice } from './owner-state.ts';
import { OWNER_NAME, OwnerLogin } from './owner-login.ts';
import {
  frame,
  sessionOf,
  setupPending,
  type DeviceCtx,
  type DeviceSite,
  type WebDeviceControl,
} from './device-site.ts';
import { addAccountRoutes, addControlRoutes, addPublicRoutes, addRecordRoutes } from './device-routes.ts';
import { addUpdateFileRoute } from './update-file-route.ts';
import { addMonitoringRoutes } from './monitoring-route.ts';
import { addPeopleRoutes } from './users-routes.ts';
import { authorizeDeviceRoute, deviceAccountOf, isRoleRefusal, removePersonAndSessions } from './users.ts';
import { openWebCertificate, type WebCertificate, type WebCertificateConfig } from './web-certificate.ts';
import * as pages from './pages.ts';
import type { JournalListOptions } from './journal-page.ts';
import type { AdmissionConfig, AdmissionRecord } from '../admission/index.ts';

export type { WebDeviceControl, WebUpdateFile, UpdateFileOutcome } from './device-site.ts';

/** What the web service records in the connection journal. */
export interface WebJournalEntry {
  readonly surface: 'web';
  readonly source: string;
  readonly event:
    | AdmissionRecord['event']
    | 'login'
    | 'login-unlock'
    | 'logout'
    | 'setup'
    | 'password-change'
    | 'csrf'
    | 'control'
    | 'update-file'
    | 'certificate-renewed'
    | 'monitoring-on'
    | 'monitoring-off'
    | 'user-added'
    | 'user-removed'
    | 'user-role-changed'
    | 'role-refused';
  readonly identity?: string;
  readonly result: 'success' | 'failure' | 'refused' | 'locked-out' | 'info';
  readonly detail?: string;
}

/** The journal as the web service needs it. */
export interface WebJournal {
  record(entry: WebJournalEntry): void;
  list(options: JournalListOptions): Promise<readonly pages.JournalRow[]> | readonly pages.JournalRow[];
  /** Turns the journal's non-essential monitoring on or off (the owner's choice); absent: always on. */
  setMonitoring?(on: boolean): void;
}

/** The listening limits of an HTTPS surface (the device's admin pages, the cloud's owner API). */
export interface HttpsSurfaceLimits {
  /** Idle keep-alive sockets are closed after this, ms. */
  readonly keepAliveTimeoutMs: number;
  /** A request must arrive whole within this, ms (slowloris). */
  readonly requestTimeoutMs: number;
  /** Most simultaneous connections. */
  readonly maxConnections: number;
  /** Per-source caps and the deadline to be past the headers (docs/connections.md). */
  readonly admission?: Partial<AdmissionConfig>;
}

/** Settings of the web service; every limit is named. */
export interface WebServiceConfig extends HttpsSurfaceLimits {
  readonly host: string;
  readonly port: number;
  readonly limits: HttpLimits;
  readonly lockout: Partial<LockoutConfig>;
  /** Device cookies: their life, the per-cookie lockout and the physical unlock (src/auth). */
  readonly deviceCookie: Partial<DeviceCookieConfig>;
  readonly sessions: Partial<SessionConfig>;
}

/** Safe defaults. */
export const defaultWebServiceConfig: WebServiceConfig = {
  host: '127.0.0.1',
  port: 8443,
  limits: defaultHttpLimits,
  lockout: {},
  deviceCookie: {},
  sessions: {},
  keepAliveTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  maxConnections: 128,
};

const LOGIN_COOKIE = '__Host-bulwark-login';

/** A running web service. */
export interface WebService extends RunningSurface<DeviceCtx> {
  readonly state: WebStateStore;
  /** The certificate served, renewed by the unit before it expires. */
  readonly certificate: WebCertificate;
  close(): Promise<void>;
  /** Factory reset of the web side: sticker password back, sessions and counters gone. */
  reset(): Promise<void>;
  /**
   * A physical act on the unit (the button): for `physicalUnlockMs` (5 min), new browsers are not
   * held back by the account-wide ceiling, so the owner can log in from one; returns what to tell.
   */
  unlockLogin(): string;
  /**
   * A person removed elsewhere in the household (a paired hub, the cloud): if this page has someone of that name who is
   * not the first owner, they are removed and every session of theirs ends at once. Resolves with the sessions ended,
   * or undefined when there was nobody to remove. Only removals travel between surfaces, never additions.
   */
  revokePerson(name: string, by: string): Promise<number | undefined>;
}

/** Options of {@link startWebService}. */
export interface WebServiceOptions {
  /** The unit's bundle: its web certificate and key, the label password's hash, the setup verifier. */
  readonly bundle: DeviceBundle;
  /** The agent's state folder; the owner's web state lives in its `web/` folder (0700). */
  readonly stateDir: string;
  /** The capabilities and facts the pages show and control. */
  readonly device: WebDeviceControl;
  /** The connection journal: every attempt, login and refusal is recorded there. */
  readonly journal: WebJournal;
  readonly config?: Partial<WebServiceConfig>;
  /** Where warnings go (never a secret). */
  readonly warn?: (message: string) => void;
  /** Where state files that cannot be used go (the agent journals them); default `<stateDir>/damaged`, warned. */
  readonly damaged?: DamagedStateSink;
  /** The unit's clock (src/clock), which the certificate's renewal reads; default the wall clock. */
  readonly clock?: { now(): number };
  /** The web certificate's renewal (web-certificate.ts): how often it is checked. */
  readonly certificate?: Partial<WebCertificateConfig>;
}

/**
 * The owner's monitoring choice as saved in `<stateDir>/web` (true, on, by default), for the agent
 * to apply to its journal before anything else is recorded.
 */
export function ownerMonitoringChoice(stateDir: string, damaged: DamagedStateSink): Promise<boolean> {
  return loadMonitoringChoice(join(stateDir, 'web'), damaged);
}

/** Builds the device's admin application: its routes, session port and pages. */
export function createDeviceApp(
  site: DeviceSite,
  config: WebServiceConfig,
  log: (m: string) => void,
  journal: WebJournal,
): WebApp<DeviceCtx> {
  const router = new Router<DeviceCtx>();
  addStaticRoutes(router);
  addPublicRoutes(router, site);
  addControlRoutes(router, site);
  addAccountRoutes(router, site);
  addRecordRoutes(router, site);
  addUpdateFileRoute(router, site);
  addMonitoringRoutes(router, site);
  addPeopleRoutes(router, site);
  return createWebApp<DeviceCtx>({
    router,
    limits: config.limits,
    journal,
    log,
    errorPage: (status, message) => pages.errorPage(frame(site, 'Error'), status, message),
    sessions: {
      anonymous: () => ({}),
      find: (req) => {
        if (setupPending(site)) {
          throw new HttpError(
            req.wantsJson ? 401 : 303,
            'SETUP_REQUIRED',
            'set the owner password first',
            req.wantsJson ? {} : { location: '/setup' },
          );
        }
        const session = sessionOf(site, req);
        return session ? { session, user: session.account } : undefined;
      },
      verifyCsrf: (ctx, token) => site.state.sessions.verifyCsrf(ctx.session!.id, token, Date.now()),
      noticeKey: (ctx) => ctx.session?.id,
      identityOf: (ctx) => ctx.user?.name,
      authorize: (ctx, req, route) => authorizeAndJournal(site, ctx, req, route),
    },
  });
}

/** Every session route's role check; a refusal is journalled with the person's name. */
function authorizeAndJournal(
  site: DeviceSite,
  ctx: DeviceCtx,
  req: WebRequest,
  route: { readonly method: string; readonly path: string },
): void {
  try {
    authorizeDeviceRoute(ctx.user!, req, route, site.bundle.model);
  } catch (err) {
    if (isRoleRefusal(err)) {
      site.record(req, {
        event: 'role-refused',
        result: 'refused',
        identity: ctx.user!.name,
        detail: `${req.method} ${req.path}`,
      });
    }
    throw err;
  }
}

/** The names a browser may use for this device in the Host header. */
function hostNames(host: string, serial: string): Set<string> {
  const names = new Set([`${serial.toLowerCase()}.local`]);
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address);
  }
  return names;
}

async function createSite(
  options: WebServiceOptions,
  config: WebServiceConfig,
  warn: (m: string) => void,
  certificate: WebCertificate,
): Promise<DeviceSite> {
  const { bundle, device, journal } = options;
  const unit = bundle.unit;
  const webDir = join(options.stateDir, 'web');
  await mkdir(webDir, { recursive: true, mode: 0o700 });
  const damaged = options.damaged ?? {
    dir: join(options.stateDir, 'damaged'),
    note: (e: { file: string; reason: string }) => warn(`${e.file} ${e.reason}: moved aside, its setup state used`),
  };
  const state = await WebStateStore.load(webDir, config.sessions, damaged);
  const applyMonitoring = (on: boolean): void => journal.setMonitoring?.(on);
  // The owner's choice holds from the first request on.
  applyMonitoring(state.monitoring);
  const record = journalRecorder(journal);
  return {
    bundle,
    device,
    journal,
    state,
    record,
    // Binds pre-session CSRF tokens to this process.
    forms: new PreSessionForms(LOGIN_COOKIE, randomBytes(32)),
    login: new OwnerLogin(
      state,
      bundle,
      (req, event, account, detail) => record(req, { event, result: 'locked-out', identity: account, detail }),
      config,
    ),
    userInputs: [unit.model, unit.modelName, unit.serial, OWNER_NAME, unit.maker],
    certificate: () => certificate.view(),
    applyMonitoring,
    ownerActions: device.ownerActions?.() ?? [],
  };
}

/**
 * Compiles node:net's IPv6 address pattern before anything listens. `listen(port, host)` runs it on the host's address
 * (node:net's lookupAndListen); compiled there, the megabyte of scratch memory V8 takes to compile it stayed in the C
 * heap in a third to a half of the plug's starts (+1 MiB idle RSS, bench/web.bench.ts); compiled here, it does not.
 */
function compileAddressPattern(): void {
  // Twice: the first use compiles the pattern to bytecode, the second to machine code (V8's regexp tier-up).
  isIPv6('::1');
  isIPv6('::1');
}

/** Starts the HTTPS admin service; resolves when it listens. */
export async function startWebService(options: WebServiceOptions): Promise<WebService> {
  compileAddressPattern();
  const config: WebServiceConfig = { ...defaultWebServiceConfig, ...options.config };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new InvalidInputError('port must be 0..65535');
  }
  const warn = options.warn ?? (() => undefined);
  const certificate = await openWebCertificate({
    bundle: options.bundle,
    stateDir: options.stateDir,
    journal: options.journal,
    log: warn,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.certificate ? { config: options.certificate } : {}),
  });
  const site = await createSite(options, config, warn, certificate);
  const app = createDeviceApp(site, config, warn, options.journal);
  const surface = await serveApp(
    app,
    {
      keyPem: options.bundle.webKeyPem,
      certPem: certificate.certPem(),
      host: config.host,
      port: config.port,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      admission: { maxConnections: config.maxConnections, ...config.admission },
    },
    () => hostNames(config.host, options.bundle.unit.serial),
  );
  certificate.start((certPem, keyPem) => surface.setCertificate(certPem, keyPem));
  return {
    ...surface,
    state: site.state,
    certificate,
    async close() {
      certificate.stop();
      await surface.close();
      await site.state.flush();
    },
    async reset() {
      await site.state.erase();
      site.applyMonitoring(site.state.monitoring);
    },
    unlockLogin: () => unlockLogin(site, options.journal),
    revokePerson: (name, by) => revokePerson(site, options.journal, name, by),
  };
}

async function revokePerson(
  site: DeviceSite,
  journal: WebJournal,
  name: string,
  by: string,
): Promise<number | undefined> {
  const who = deviceAccountOf(site.state, name);
  if (!who?.added) return undefined;
  const ended = await removePersonAndSessions(site.state, who.name);
  journal.record({
    surface: 'web',
    source: 'local',
    event: 'user-removed',
    result: 'success',
    identity: who.name,
    detail: `${who.name}: removed by ${by}; ${ended} session(s) ended`,
  });
  return ended;
}

function unlockLogin(site: DeviceSite, journal: WebJournal): string {
  const { login } = site;
  login.saveGuardState(login.guard.unlock(login.guardState(), Date.now()));
  site.state.markDirty('cookies', 0);
  const minutes = Math.round(login.guard.cookies.config.physicalUnlockMs / 60_000);
  journal.record({
    surface: 'web',
    source: 'local',
    event: 'login-unlock',
    result: 'info',
    detail: `physical act: a new browser may log in for ${minutes} min; per-address back-off still applies`,
  });
  return `login from a new browser allowed for ${minutes} minutes`;
}
