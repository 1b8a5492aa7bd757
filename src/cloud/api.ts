/**
 * The owner API (HTTPS, JSON, `/v1`) and the owner web app on the same server, with the
 * device page's rules: the manufacturer-CA certificate, security headers and strict CSP on every
 * answer, argon2id passwords under the same strength policy, device cookies (a browser that
 * logged in before is limited per cookie only) and, for other browsers, back-off per source and
 * per account, all before any hash is computed, `__Host-` session cookies, a CSRF token plus an Origin
 * check on every cookie-authenticated state change. API clients may instead send the session
 * token as `Authorization: Bearer` (not ambient, so no CSRF). Another owner's device answers
 * 404 exactly like a device that does not exist.
 *
 * Wrong claim codes count against the account and the source that sent them, never against the
 * serial: a stranger who knows a serial cannot keep its owner from claiming it. A flood against
 * one serial is logged and flagged to the maker in the store.
 *
 * Sessions, attempt counters, the pre-login CSRF key and the device cookie key live in the
 * store, so any instance answers any request.
 *
 * The server is src/web's application core (Host allow-list, routing, sessions through the port
 * below, bodies, CSRF, security headers, error answers). This file holds the settings and puts
 * the parts together: owner-accounts.ts (logins, sessions), owner-devices.ts (claims, commands),
 * api-routes.ts (`/v1`), app-routes.ts and app-pages.ts (the web app).
 */
import type { JournalRecordInput } from '../journal/index.ts';
import {
  Router,
  PreSessionForms,
  addStaticRoutes,
  constantTimeEqual,
  createWebApp,
  journalRecorder,
  serveApp,
  type HttpLimits,
  type RunningSurface,
  type WebApp,
} from '../web/index.ts';
import { validateOwnerApiConfig, type OwnerApiConfig } from './owner-api-config.ts';
import type { OwnerSite } from './owner-site.ts';
import type { CloudStore } from './store.ts';
import type { CommandCenter } from './commands.ts';
import { PersonRemovals } from './person-removals.ts';
import { LOGIN_COOKIE, OwnerAccounts, type OwnerCtx } from './owner-accounts.ts';
import { OwnerDevices } from './owner-devices.ts';
import { parseRevocationRequest } from './revocation.ts';
import {
  addAccountApiRoutes,
  addDeviceApiRoutes,
  addHouseholdApiRoutes,
  addMakerApiRoutes,
  addMeApiRoutes,
} from './api-routes.ts';
import {
  addAppAccountRoutes,
  addAppDeviceRoutes,
  addAppHouseholdRoutes,
  addAppLoginRoutes,
  addAppRecoveryRoutes,
  frameOf,
} from './app-routes.ts';
import { addSecurityRoutes, REPORT_FORM_COOKIE } from './security-routes.ts';
import { addFactsRoutes } from './facts-records.ts';
import { addMakerPageRoutes, addMakerSecurityApiRoutes } from './maker-routes.ts';
import { MakerSessions, MAKER_LOGIN_COOKIE } from './maker-session.ts';
import { validateSecurityConfig } from './security-config.ts';
import * as pages from './app-pages.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mailer, validateMailConfig } from './mail.ts';
import { defaultAccountLinkConfig, type AccountLinkConfig } from './account-links.ts';
import { Households } from './household.ts';

export { remoteControls } from './owner-devices.ts';
export { defaultOwnerApiConfig, validateOwnerApiConfig, makerTokenSha256 } from './owner-api-config.ts';
export type { OwnerApiConfig } from './owner-api-config.ts';
export type { OwnerSite } from './owner-site.ts';
export type { OwnerCtx } from './owner-accounts.ts';

/** Options of {@link startOwnerApi}. */
export interface OwnerApiOptions {
  readonly store: CloudStore;
  readonly commands: CommandCenter;
  /** Household removals to the owner's devices (the service shares it with its device traffic); made here if absent. */
  readonly removals?: PersonRemovals;
  /** The server certificate (issued by the manufacturer CA). */
  readonly certPem: string;
  readonly keyPem: string;
  readonly config?: Partial<OwnerApiConfig>;
  /** The service log (registrations, claims, refusals); silent by default. */
  readonly log?: (msg: string) => void;
  /** The cloud's connection journal: every connection attempt, login and CSRF refusal. */
  readonly journal?: {
    /** Appends one entry to the journal. */
    record(entry: JournalRecordInput): void;
  };
  /**
   * Revokes and enforces at once (the cloud's RevocationEnforcer); absent: written to the store and
   * enforced at the next poll.
   */
  readonly revoke?: OwnerSite['revoke'];
  /** The folder of published security facts records (`<state>/facts`); absent: `/facts/` answers 404. */
  readonly factsDir?: string;
  /** The cloud's outgoing mail; absent: a maildir in the system's temporary folder. */
  readonly mailer?: Mailer;
  /** The origin links in messages point to; absent: this API's own URL. */
  readonly linkBase?: string | null;
  /** How long mailed links work. */
  readonly links?: Partial<AccountLinkConfig>;
}

/** A running owner API. */
export type OwnerApi = RunningSurface<OwnerCtx>;

/**
 * What the routes share, from the store: the device cookie key and the login forms' CSRF key are
 * the store's shared secrets, so any instance answers any request.
 */
export async function openOwnerSite(o: {
  store: CloudStore;
  commands: CommandCenter;
  removals?: PersonRemovals;
  config: OwnerApiConfig;
  log: (message: string) => void;
  journal?: OwnerApiOptions['journal'];
  revoke?: OwnerSite['revoke'];
  factsDir?: string;
  mailer?: Mailer;
  linkBase?: () => string;
  links?: Partial<AccountLinkConfig>;
}): Promise<OwnerSite> {
  const { store, commands, config, log } = o;
  const deviceCookieKey = await store.sharedSecret('device-cookie');
  const mailer =
    o.mailer ??
    new Mailer({ config: validateMailConfig(), maildir: join(tmpdir(), `bulwark-cloud-mail-${process.pid}`), log });
  const links = { ...defaultAccountLinkConfig, ...o.links };
  const linkBase = o.linkBase ?? (() => `https://${config.publicHosts[0] ?? `localhost:${config.port}`}`);
  const accounts = new OwnerAccounts({
    store,
    config,
    deviceCookieKey,
    record: journalRecorder(o.journal),
    log,
    mailer,
    linkBase,
    links,
  });
  const devices = new OwnerDevices({ store, commands, config, log });
  const removals = o.removals ?? new PersonRemovals({ store, commands, log });
  const households = new Households({ store, accounts, inviteMs: links.inviteMs, removals });
  const forms = new PreSessionForms(LOGIN_COOKIE, await store.sharedSecret('login-csrf'));
  const security = {
    security: validateSecurityConfig(config.security),
    publicHosts: config.publicHosts,
    maker: new MakerSessions(store, config),
    makerForms: new PreSessionForms(MAKER_LOGIN_COOKIE, await store.sharedSecret('maker-login-csrf')),
    reportForms: new PreSessionForms(REPORT_FORM_COOKIE, await store.sharedSecret('report-form-csrf')),
    record: journalRecorder(o.journal),
  };
  const revoke: OwnerSite['revoke'] =
    o.revoke ??
    ((input, by) => {
      const { target, reason } = parseRevocationRequest(input);
      return store.revoke(target, reason, by, Date.now());
    });
  const facts = o.factsDir === undefined ? {} : { factsDir: o.factsDir };
  return {
    store,
    accounts,
    devices,
    households,
    forms,
    log,
    makerTokenSha256: config.makerTokenSha256,
    revoke,
    ...security,
    ...facts,
  };
}

/** JSON answers (errors included) under `/v1/`; pages everywhere else. */
function wantsJson(_method: string, path: string): boolean {
  return path.startsWith('/v1/');
}

/** Builds the owner API's application: its routes, session port and pages. */
export function createOwnerApp(
  site: OwnerSite,
  o: { limits: HttpLimits; journal?: OwnerApiOptions['journal']; log: (message: string) => void },
): WebApp<OwnerCtx> {
  const router = new Router<OwnerCtx>();
  addAccountApiRoutes(router, site);
  addMeApiRoutes(router, site);
  addHouseholdApiRoutes(router, site);
  addDeviceApiRoutes(router, site);
  addMakerApiRoutes(router, site);
  addMakerSecurityApiRoutes(router, site);
  addSecurityRoutes(router, site);
  addFactsRoutes(router, site);
  addMakerPageRoutes(router, site);
  addStaticRoutes(router);
  addAppLoginRoutes(router, site);
  addAppDeviceRoutes(router, site);
  addAppAccountRoutes(router, site);
  addAppRecoveryRoutes(router, site);
  addAppHouseholdRoutes(router, site);
  return createWebApp<OwnerCtx>({
    router,
    limits: o.limits,
    wantsJson,
    log: o.log,
    ...(o.journal ? { journal: o.journal } : {}),
    errorPage: (status, message, ctx) =>
      pages.errorPage(status, message, ctx.session ? frameOf(ctx, 'Error') : undefined),
    sessions: {
      anonymous: () => ({}),
      find: (req) => site.accounts.sessionOf(req),
      verifyCsrf: (ctx, token) => ctx.session !== undefined && constantTimeEqual(token, ctx.session.csrfToken),
      exemptFromCsrf: (ctx) => ctx.bearer === true,
      // A browser session's; an app's bearer session follows no redirect to a page.
      noticeKey: (ctx) => (ctx.bearer ? undefined : ctx.session?.id),
      identityOf: (ctx) => ctx.account?.email,
    },
  });
}

/**
 * Starts the owner API and web app.
 *
 * @example
 * const api = await startOwnerApi({ store, commands, certPem, keyPem, config: { port: 9443 } });
 */
export async function startOwnerApi(o: OwnerApiOptions): Promise<OwnerApi> {
  const config = validateOwnerApiConfig(o.config);
  const log = o.log ?? (() => undefined);
  const base: { url?: string } = {};
  const linkBase = (): string => o.linkBase ?? base.url ?? `https://localhost:${config.port}`;
  const site = await openOwnerSite({ ...o, config, log, linkBase });
  const app = createOwnerApp(site, { limits: config.limits, log, ...(o.journal ? { journal: o.journal } : {}) });
  // A public host name given with its own port (a port forward: 'cloud.example.com:8443') is let in as given.
  for (const name of config.publicHosts) {
    const withPort = /^([a-z0-9.-]+):(\d{1,5})$/i.exec(name);
    if (withPort) app.allowHosts([withPort[1]!], Number(withPort[2]));
  }
  const running = await serveApp(
    app,
    {
      keyPem: o.keyPem,
      certPem: o.certPem,
      host: config.host,
      port: config.port,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      admission: { ...config.admission, maxConnections: config.maxConnections },
    },
    () => config.publicHosts.filter((name) => !/^[a-z0-9.-]+:\d{1,5}$/i.test(name)),
  );
  base.url = running.url.replace(/\/$/, '');
  return running;
}
