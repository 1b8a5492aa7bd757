/**
 * Driving a device's login without knowing its password: discovery of the mechanism (a Bulwark
 * login form, a plain HTML form, HTTP Basic) and one attempt at a time. What the auditor cannot
 * drive it reports, and the login checks become "not tested" with that reason.
 */
import type { Evidence } from './types.ts';
import type { HttpAnswer, HttpProbe, HttpsTarget } from './net.ts';
import { LOGIN_DISCOVERY_PATHS } from './config.ts';
import { randomBytes } from 'node:crypto';
import { findLoginForm, hasPasswordField, parseForms, type HtmlForm } from './html-forms.ts';

/** Sends one request (bound to the target, bounds and the audit's trace). */
export type Exchange = (probe: HttpProbe) => Promise<HttpAnswer>;

/** How one login attempt ended. 'locked': the device signalled lockout (429, 423). */
export type LoginOutcome = 'accepted' | 'rejected' | 'locked' | 'unclear';

/** One login attempt. */
export interface LoginAttempt {
  readonly outcome: LoginOutcome;
  readonly status: number;
  readonly elapsedMs: number;
  readonly retryAfter?: string;
  readonly evidence: Evidence;
  readonly local?: { readonly address: string; readonly port: number };
}

/** A credential to try; `shown` is how it appears in evidence (never a secret). */
export interface TrialCredential {
  readonly username: string;
  readonly password: string;
  readonly shown: string;
}

/** A login mechanism the auditor can drive. */
export interface LoginDriver {
  readonly kind: 'bulwark-form' | 'bulwark-setup' | 'html-form' | 'http-basic';
  /** e.g. 'HTML form at /login posting to /login'. */
  readonly description: string;
  attempt(credential: TrialCredential, localAddress?: string): Promise<LoginAttempt>;
}

/** What discovery found. */
export interface LoginDiscovery {
  readonly targetKind: 'bulwark' | 'other';
  readonly driver?: LoginDriver;
  /** The mechanism, or why none could be driven. */
  readonly note: string;
  readonly evidence: readonly Evidence[];
  /** The Bulwark device is waiting for its owner to set a password (no login exists yet). */
  readonly setupPending?: boolean;
}

/** Cookie name and value pairs set by an answer (values stay inside the driver, never in evidence). */
function cookieJar(answer: HttpAnswer, into = new Map<string, string>()): Map<string, string> {
  const raw = answer.headers['set-cookie'];
  for (const line of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
    const pair = line.split(';')[0] ?? '';
    const eq = pair.indexOf('=');
    if (eq < 1) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '') into.delete(name);
    else into.set(name, value);
  }
  return into;
}

function cookieHeader(jar: Map<string, string>): Record<string, string> {
  return jar.size === 0 ? {} : { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
}

function headerText(answer: HttpAnswer, name: string): string | undefined {
  const v = answer.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** A short account of an answer for evidence: status, location, retry-after, the cookies' names. */
export function describeAnswer(a: HttpAnswer): string {
  if (a.status === 0) return `no answer (${a.error ?? 'error'}) after ${a.elapsedMs} ms`;
  const parts = [`${a.status}`];
  const location = headerText(a, 'location');
  if (location !== undefined) parts.push(`Location: ${location.slice(0, 120)}`);
  const retry = headerText(a, 'retry-after');
  if (retry !== undefined) parts.push(`Retry-After: ${retry.slice(0, 20)}`);
  const auth = headerText(a, 'www-authenticate');
  if (auth !== undefined) parts.push(`WWW-Authenticate: ${auth.replace(/realm="[^"]*"/i, 'realm="…"').slice(0, 60)}`);
  if (a.cookies.length > 0)
    parts.push(`sets cookie ${a.cookies.map((c) => `${c.name}${c.cleared ? ' (cleared)' : ''}`).join(', ')}`);
  parts.push(`${a.body.length} bytes${a.truncated ? ' (cut)' : ''}`, `${a.elapsedMs} ms`);
  return parts.join('; ');
}

function lockedOut(status: number): boolean {
  return status === 429 || status === 423;
}

function outcomeOf(answer: HttpAnswer, outcome: LoginOutcome, sent: string): LoginAttempt {
  const retry = headerText(answer, 'retry-after');
  return {
    outcome,
    status: answer.status,
    elapsedMs: answer.elapsedMs,
    ...(retry !== undefined ? { retryAfter: retry } : {}),
    evidence: { sent, received: `${describeAnswer(answer)} -> ${outcome}`, finding: outcome === 'accepted' },
    ...(answer.local ? { local: answer.local } : {}),
  };
}

function failedFetch(answer: HttpAnswer, sent: string): LoginAttempt {
  return {
    outcome: lockedOut(answer.status) ? 'locked' : 'unclear',
    status: answer.status,
    elapsedMs: answer.elapsedMs,
    evidence: { sent, received: describeAnswer(answer) },
  };
}

/** The Bulwark admin login: GET /login for the pre-session cookie and CSRF token, then POST /login. */
function bulwarkDriver(exchange: Exchange, target: HttpsTarget): LoginDriver {
  return {
    kind: 'bulwark-form',
    description: 'Bulwark login form (GET /login for its CSRF token and cookie, POST /login with Origin)',
    async attempt(cred, localAddress) {
      const src = localAddress ? ` from ${localAddress}` : '';
      const page = await exchange({ method: 'GET', path: '/login', ...(localAddress ? { localAddress } : {}) });
      const form = page.status === 200 ? findLoginForm(page.body) : undefined;
      const csrf = form?.inputs.find((i) => i.name === 'csrf')?.value;
      if (csrf === undefined) return failedFetch(page, `GET /login${src} (for the login form)`);
      const jar = cookieJar(page);
      const body = new URLSearchParams({ username: cred.username, password: cred.password, csrf }).toString();
      const answer = await exchange({
        method: 'POST',
        path: '/login',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: target.origin, ...cookieHeader(jar) },
        ...(localAddress ? { localAddress } : {}),
      });
      const session = answer.cookies.some((c) => c.name === '__Host-bulwark-session' && !c.cleared);
      const outcome: LoginOutcome = lockedOut(answer.status)
        ? 'locked'
        : answer.status === 303 && session
          ? 'accepted'
          : answer.status === 401
            ? 'rejected'
            : 'unclear';
      return outcomeOf(
        answer,
        outcome,
        `POST /login${src} with user name ${cred.username} and ${cred.shown}, the page's CSRF token and a ` +
          `same-origin Origin`,
      );
    },
  };
}

/**
 * A Bulwark device in setup mode has no password yet: its one guessable secret is the sticker's
 * setup code, entered on GET/POST /setup. Each attempt sends a random wrong code (and, as the new
 * password, the credential's password, so canaries still end up where a leak would show them).
 */
function bulwarkSetupDriver(exchange: Exchange, target: HttpsTarget): LoginDriver {
  return {
    kind: 'bulwark-setup',
    description:
      'Bulwark setup form (no password yet: GET /setup for its CSRF token and cookie, POST /setup with a wrong ' +
      'setup code)',
    async attempt(cred, localAddress) {
      const src = localAddress ? ` from ${localAddress}` : '';
      const page = await exchange({ method: 'GET', path: '/setup', ...(localAddress ? { localAddress } : {}) });
      const form = page.status === 200 ? parseFormWithCsrf(page.body) : undefined;
      if (form === undefined) return failedFetch(page, `GET /setup${src} (for the setup form)`);
      const digits = Array.from(randomBytes(12), (b) => String(b % 10)).join('');
      const code = `${digits.slice(0, 4)}-${digits.slice(4, 8)}-${digits.slice(8, 12)}`;
      const body = new URLSearchParams({
        csrf: form,
        setupCode: code,
        newPassword: cred.password,
        confirmPassword: cred.password,
      }).toString();
      const answer = await exchange({
        method: 'POST',
        path: '/setup',
        body,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: target.origin,
          ...cookieHeader(cookieJar(page)),
        },
        ...(localAddress ? { localAddress } : {}),
      });
      const outcome: LoginOutcome = lockedOut(answer.status)
        ? 'locked'
        : answer.status === 401
          ? 'rejected'
          : answer.status === 303
            ? 'accepted'
            : 'unclear';
      return outcomeOf(
        answer,
        outcome,
        `POST /setup${src} with a random wrong setup code, ${cred.shown} as the new password, the page's CSRF token ` +
          `and a same-origin Origin`,
      );
    },
  };
}

function parseFormWithCsrf(html: string): string | undefined {
  return parseForms(html)
    .find((f) => f.method === 'post')
    ?.inputs.find((i) => i.name === 'csrf' && i.type === 'hidden')?.value;
}

function resolveAction(form: HtmlForm, pagePath: string, target: HttpsTarget): string | undefined {
  try {
    const url = new URL(form.action === '' ? pagePath : form.action, new URL(pagePath, target.origin));
    return url.origin === target.origin ? url.pathname + url.search : undefined;
  } catch {
    return undefined;
  }
}

/** A plain HTML login form: fetched afresh for each attempt so hidden tokens are current. */
function htmlFormDriver(exchange: Exchange, target: HttpsTarget, pagePath: string): LoginDriver {
  return {
    kind: 'html-form',
    description: `HTML login form at ${pagePath}`,
    async attempt(cred, localAddress) {
      const src = localAddress ? ` from ${localAddress}` : '';
      const page = await exchange({ method: 'GET', path: pagePath, ...(localAddress ? { localAddress } : {}) });
      const form = page.status === 200 ? findLoginForm(page.body) : undefined;
      const action = form ? resolveAction(form, pagePath, target) : undefined;
      if (form === undefined || action === undefined)
        return failedFetch(page, `GET ${pagePath}${src} (for the login form)`);
      const fields = new URLSearchParams();
      const userField = form.inputs.find((i) => ['text', 'email', 'tel'].includes(i.type));
      let submitted = false;
      for (const input of form.inputs) {
        if (input.type === 'password') fields.append(input.name, cred.password);
        else if (input === userField) fields.append(input.name, cred.username);
        else if (input.type === 'hidden') fields.append(input.name, input.value);
        else if (input.type === 'submit' && !submitted) {
          fields.append(input.name, input.value);
          submitted = true;
        }
      }
      const jar = cookieJar(page);
      const answer = await exchange({
        method: 'POST',
        path: action,
        body: fields.toString(),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: target.origin,
          referer: `${target.origin}${pagePath}`,
          ...cookieHeader(jar),
        },
        ...(localAddress ? { localAddress } : {}),
      });
      const location = headerText(answer, 'location') ?? '';
      let outcome: LoginOutcome;
      if (lockedOut(answer.status)) outcome = 'locked';
      else if (answer.status === 401 || answer.status === 403) outcome = 'rejected';
      else if (answer.status >= 300 && answer.status < 400)
        outcome = /login|signin|error|fail|denied|invalid/i.test(location) ? 'rejected' : 'accepted';
      else if (answer.status >= 200 && answer.status < 300)
        outcome = hasPasswordField(answer.body) ? 'rejected' : 'accepted';
      else outcome = 'unclear';
      return outcomeOf(
        answer,
        outcome,
        `POST ${action}${src} (form from ${pagePath}) with user name ${cred.username} and ${cred.shown}`,
      );
    },
  };
}

/** HTTP Basic authentication on a path that answered 401 with a Basic challenge. */
function basicDriver(exchange: Exchange, path: string): LoginDriver {
  return {
    kind: 'http-basic',
    description: `HTTP Basic authentication on ${path}`,
    async attempt(cred, localAddress) {
      const token = Buffer.from(`${cred.username}:${cred.password}`).toString('base64');
      const answer = await exchange({
        method: 'GET',
        path,
        headers: { authorization: `Basic ${token}` },
        ...(localAddress ? { localAddress } : {}),
      });
      const outcome: LoginOutcome = lockedOut(answer.status)
        ? 'locked'
        : answer.status >= 200 && answer.status < 300
          ? 'accepted'
          : answer.status === 401 || answer.status === 403
            ? 'rejected'
            : 'unclear';
      return outcomeOf(
        answer,
        outcome,
        `GET ${path}${localAddress ? ` from ${localAddress}` : ''} with HTTP Basic user name ${cred.username} and ` +
          `${cred.shown}`,
      );
    },
  };
}

/** Finds the device's login mechanism with a few GETs (at most one per discovery path). */
export async function discoverLogin(
  exchange: Exchange,
  target: HttpsTarget,
  localAddress?: string,
): Promise<LoginDiscovery> {
  const evidence: Evidence[] = [];
  const from = localAddress ? { localAddress } : {};
  for (const path of LOGIN_DISCOVERY_PATHS) {
    const a = await exchange({ method: 'GET', path, ...from });
    evidence.push({ sent: `GET ${path}`, received: describeAnswer(a) });
    if (a.status === 0)
      return { targetKind: 'other', note: `no answer from the device (${a.error ?? 'error'})`, evidence };
    const bulwarkCookie = a.cookies.some((c) => c.name === '__Host-bulwark-login');
    if (path === '/login' && a.status === 303 && headerText(a, 'location') === '/setup') {
      const setup = await exchange({ method: 'GET', path: '/setup', ...from });
      evidence.push({ sent: 'GET /setup', received: describeAnswer(setup) });
      const driver =
        setup.status === 200 && parseFormWithCsrf(setup.body) !== undefined
          ? bulwarkSetupDriver(exchange, target)
          : undefined;
      return {
        targetKind: 'bulwark',
        setupPending: true,
        ...(driver ? { driver } : {}),
        evidence,
        note:
          `a Bulwark device in setup mode: no password exists until the owner sets one with the setup ` +
          `code${driver ? `; ${driver.description}` : ''}`,
      };
    }
    const form = a.status === 200 ? findLoginForm(a.body) : undefined;
    if (bulwarkCookie && form?.inputs.some((i) => i.name === 'csrf' && i.type === 'hidden')) {
      const driver = bulwarkDriver(exchange, target);
      return { targetKind: 'bulwark', driver, note: driver.description, evidence };
    }
    if (form !== undefined && resolveAction(form, path, target) !== undefined) {
      const driver = htmlFormDriver(exchange, target, path);
      return { targetKind: 'other', driver, note: driver.description, evidence };
    }
    const challenge = headerText(a, 'www-authenticate') ?? '';
    if (a.status === 401 && /^\s*basic\b/i.test(challenge)) {
      const driver = basicDriver(exchange, path);
      return { targetKind: 'other', driver, note: driver.description, evidence };
    }
  }
  return {
    targetKind: 'other',
    note:
      `no login form or HTTP Basic challenge at ${LOGIN_DISCOVERY_PATHS.join(', ')}; other login mechanisms ` +
      `(JavaScript apps, digest authentication) are not driven`,
    evidence,
  };
}
