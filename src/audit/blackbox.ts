/**
 * Black-box checks: bounded, polite probes of a running device over HTTPS and TCP. Each
 * function is one check of the catalogue; each sends a fixed, small number of requests from its
 * probe family's source address and turns what came back into evidence.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { BULWARK_PROTECTED_ROUTES, COMMON_ADMIN_PATHS, DEFAULT_CREDENTIALS } from './config.ts';
import { certFacts, tlsHandshake, type HandshakeResult, type HttpAnswer, type HttpsTarget } from './net.ts';
import { readBounded } from './files.ts';
import { describeAnswer, discoverLogin, type LoginAttempt, type LoginDiscovery } from './login.ts';
import { findLoginForm, hasPasswordField, type HtmlForm } from './html-forms.ts';
import type { Evidence } from './types.ts';
import { loadManifest } from './manifest.ts';

/** The reason a probe gives when no device was named. */
export const NO_URL = 'needs a running device: give --url https://host:port';

function header(a: HttpAnswer, name: string): string | undefined {
  const v = a.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Why the primary target cannot be probed (it did not answer over HTTPS), or undefined. */
export async function unreachable(ctx: AuditContext): Promise<string | undefined> {
  const login = await loginDiscovery(ctx);
  return login?.note.startsWith('no answer') === true
    ? `the device did not answer at ${ctx.target?.origin ?? '?'}: ${login.note}`
    : undefined;
}

/** The login discovery at the primary target, done once. */
export async function loginDiscovery(ctx: AuditContext): Promise<LoginDiscovery | undefined> {
  const target = ctx.target;
  if (target === undefined) return undefined;
  ctx.trace.login ??= await discoverLogin((p) => ctx.exchange('http', p), target, ctx.sourceFor('http'));
  return ctx.trace.login;
}

// ---- TLS -----------------------------------------------------------------------------------

const OLD_CIPHERS = 'DEFAULT:@SECLEVEL=0';
const VERSIONS: readonly { version: SecureVersion; modern: boolean }[] = [
  { version: 'TLSv1', modern: false },
  { version: 'TLSv1.1', modern: false },
  { version: 'TLSv1.2', modern: true },
  { version: 'TLSv1.3', modern: true },
];

function handshakeText(r: HandshakeResult): string {
  if (r.ok) return `handshake completed: ${r.protocol ?? '?'} ${r.cipher ?? ''}`.trim();
  if (r.clientUnable) return `not offered: the auditor's own TLS library cannot offer this (${r.error ?? 'error'})`;
  return `refused: ${r.error ?? 'error'}`;
}

/** tls.versions: one handshake per protocol version; only TLS 1.2 and 1.3 may complete. */
export async function checkTlsVersions(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  const evidence: Evidence[] = [];
  const accepted = new Map<SecureVersion, boolean>();
  let untestable = false;
  for (const { version, modern } of VERSIONS) {
    const r = await tlsHandshake(
      target,
      {
        minVersion: version,
        maxVersion: version,
        ciphers: OLD_CIPHERS,
        ...(ctx.sourceFor('tls') ? { localAddress: ctx.sourceFor('tls')! } : {}),
      },
      ctx.inputs.limits.connectTimeoutMs,
    );
    ctx.noteEndpoint('tls', r.local);
    if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|timeout/.test(r.error ?? '') && !r.ok && version === 'TLSv1') {
      // Nothing listens: probing further versions would only repeat this.
      return notTested(`the device did not answer at ${target.origin}`, [
        { sent: `TLS ClientHello offering only ${version}${ctx.fromText('tls')}`, received: handshakeText(r) },
      ]);
    }
    if (r.clientUnable) untestable = true;
    accepted.set(version, r.ok);
    if (!modern && !r.ok && !r.clientUnable)
      ctx.trace.oldTlsRefused ??= { ...(r.local ? { localAddress: r.local.address } : {}) };
    evidence.push({
      sent: `TLS ClientHello offering only ${version} (ciphers ${
        version === 'TLSv1.3' ? 'TLS 1.3 ' + 'defaults' : OLD_CIPHERS
      })${ctx.fromText('tls')}`,
      received: handshakeText(r),
      finding: !modern && r.ok,
    });
  }
  const old = VERSIONS.filter((v) => !v.modern && accepted.get(v.version) === true).map((v) => v.version);
  if (old.length > 0)
    return {
      status: 'fail',
      summary: `the device accepts ${old.join(' and ')}, which have practical attacks`,
      evidence,
    };
  if (untestable)
    return notTested(
      "the auditor's TLS library could not offer every old version, so their refusal is unproven",
      evidence,
    );
  if (accepted.get('TLSv1.2') !== true && accepted.get('TLSv1.3') !== true) {
    return {
      status: 'fail',
      summary: 'no TLS version completed a handshake: the service offers no modern TLS',
      evidence: evidence.map((e) => ({ ...e, finding: true })),
    };
  }
  const modern = VERSIONS.filter((v) => v.modern && accepted.get(v.version) === true).map((v) => v.version);
  return { status: 'pass', summary: `only ${modern.join(' and ')} accepted; TLS 1.0 and 1.1 refused`, evidence };
}

const CIPHER_FAMILIES: readonly { name: string; ciphers: string; weak: boolean }[] = [
  { name: 'static RSA key exchange (no forward secrecy)', ciphers: 'kRSA:@SECLEVEL=0', weak: true },
  {
    name: 'CBC-mode suites (no AEAD), ECDHE or DHE',
    ciphers: 'ECDHE:DHE:!aNULL:!eNULL:!AESGCM:!CHACHA20:!AESCCM:!ARIAGCM:@SECLEVEL=0',
    weak: true,
  },
  {
    name: 'forward-secret AEAD suites (ECDHE/DHE with AES-GCM or ChaCha20-Poly1305)',
    ciphers: 'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20',
    weak: false,
  },
];

/** tls.ciphers: on TLS 1.2, one handshake per cipher family; only forward-secret AEAD may complete. */
export async function checkTlsCiphers(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  const evidence: Evidence[] = [];
  let untestable = false;
  let anyTls12 = false;
  for (const family of CIPHER_FAMILIES) {
    const r = await tlsHandshake(
      target,
      {
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: family.ciphers,
        ...(ctx.sourceFor('tls') ? { localAddress: ctx.sourceFor('tls')! } : {}),
      },
      ctx.inputs.limits.connectTimeoutMs,
    );
    ctx.noteEndpoint('tls', r.local);
    if (r.clientUnable) untestable = true;
    if (r.ok) anyTls12 = true;
    evidence.push({
      sent: `TLS 1.2 ClientHello offering only ${family.name}${ctx.fromText('tls')}`,
      received: handshakeText(r),
      finding: family.weak && r.ok,
    });
  }
  const weak = evidence.filter((e) => e.finding === true);
  if (weak.length > 0)
    return {
      status: 'fail',
      summary:
        `TLS 1.2 accepts ${weak.length === 1 ? 'a weak cipher family' : 'weak cipher families'}: ` +
        `${CIPHER_FAMILIES.filter((_f, i) => evidence[i]?.finding === true)
          .map((f) => f.name)
          .join('; ')}`,
      evidence,
    };
  if (untestable) return notTested("the auditor's TLS library could not offer every cipher family", evidence);
  if (!anyTls12) {
    const t13 = await tlsHandshake(
      target,
      { minVersion: 'TLSv1.3', ...(ctx.sourceFor('tls') ? { localAddress: ctx.sourceFor('tls')! } : {}) },
      ctx.inputs.limits.connectTimeoutMs,
    );
    evidence.push({ sent: `TLS 1.3 ClientHello${ctx.fromText('tls')}`, received: handshakeText(t13) });
    if (!t13.ok) return notTested('neither TLS 1.2 nor TLS 1.3 completed a handshake', evidence);
    return { status: 'pass', summary: 'TLS 1.2 is not offered; every TLS 1.3 suite is forward-secret AEAD', evidence };
  }
  return {
    status: 'pass',
    summary: 'on TLS 1.2 only forward-secret AEAD suites are accepted; TLS 1.3 suites are all AEAD',
    evidence,
  };
}

/**
 * tls.unique-certificates: the certificates and keys of two or more units differ (or the one unit's is unique in the
 * manifest).
 */
export async function checkUniqueCertificates(ctx: AuditContext): Promise<CheckOutcome> {
  const targets = ctx.inputs.targets;
  if (targets.length === 0) return notTested(NO_URL);
  const evidence: Evidence[] = [];
  const seen: Array<{ target: HttpsTarget; r: HandshakeResult }> = [];
  for (const target of targets) {
    const localAddress = target.loopbackV4 ? ctx.inputs.sources?.tls : undefined;
    const r = await tlsHandshake(
      target,
      { ...(localAddress ? { localAddress } : {}) },
      ctx.inputs.limits.connectTimeoutMs,
    );
    if (target === ctx.target) ctx.noteEndpoint('tls', r.local);
    seen.push({ target, r });
    evidence.push({
      sent: `TLS handshake with ${target.origin}`,
      received: r.ok
        ? `certificate ${r.certFingerprint ?? '?'} (${r.certSubject ?? ''}), public key ` +
          `sha256:${r.publicKeySha256 ?? '?'}`
        : handshakeText(r),
    });
  }
  const ok = seen.filter((s) => s.r.ok);
  if (ok.length < seen.length) return notTested('not every device completed a handshake', evidence);
  if (ok.length >= 2) {
    const dupCert = duplicates(ok.map((s) => s.r.certFingerprint ?? ''));
    const dupKey = duplicates(ok.map((s) => s.r.publicKeySha256 ?? ''));
    if (dupCert.length + dupKey.length > 0) {
      evidence.push({
        sent: 'comparison of the certificates and public keys',
        received: `${dupCert.length} certificate(s) and ${dupKey.length} public key(s) are shared between units`,
        finding: true,
      });
      return { status: 'fail', summary: 'two or more units present the same certificate or key', evidence };
    }
    return {
      status: 'pass',
      summary: `${ok.length} units present ${ok.length} different certificates and keys`,
      evidence,
    };
  }
  const manifest = await loadManifest(ctx);
  if (manifest === undefined)
    return notTested(
      'one device only: give two or more --url, or --manifest to compare its certificate with the batch',
      evidence,
    );
  const fp = await factoryFingerprintOf(ctx, ok[0]!.r, evidence);
  const listed = manifest.units.filter((u) => u.webCertFingerprint === fp).length;
  const batchDup = duplicates(manifest.units.map((u) => u.webCertFingerprint));
  if (batchDup.length > 0) {
    evidence.push({
      sent: `web certificate fingerprints of the ${manifest.units.length} units in ${manifest.path}`,
      received: `${batchDup.length} fingerprint(s) repeat`,
      finding: true,
    });
    return { status: 'fail', summary: 'units of the batch share a web certificate', evidence };
  }
  if (listed !== 1) {
    evidence.push({
      sent: `the presented certificate's fingerprint looked up in ${manifest.path}`,
      received: 'not in the manifest',
    });
    return notTested("the device's certificate is not in the given manifest (another batch?)", evidence);
  }
  evidence.push({
    sent: `the presented certificate's fingerprint looked up in ${manifest.path}`,
    received: `listed for exactly one of ${manifest.units.length} units; no fingerprint repeats in the batch`,
  });
  return {
    status: 'pass',
    summary: "the device's certificate is its own: it appears once in a batch where no certificate repeats",
    evidence,
  };
}

/**
 * The factory certificate the presented one stands for: itself, or, when the unit has renewed its
 * short-lived web certificate for the same key, the bundle's (given --bundle) whose key it presents.
 */
async function factoryFingerprintOf(
  ctx: AuditContext,
  presented: HandshakeResult,
  evidence: Evidence[],
): Promise<string | undefined> {
  const dir = ctx.inputs.bundleDir;
  if (dir === undefined) return presented.certFingerprint;
  const file = await readBounded(join(dir, 'web-cert.pem'), 65_536);
  if (!file.ok) return presented.certFingerprint;
  const factory = certFacts(new X509Certificate(file.text));
  if (factory.certFingerprint === presented.certFingerprint || factory.publicKeySha256 !== presented.publicKeySha256)
    return presented.certFingerprint;
  evidence.push({
    sent: "the presented certificate against the bundle's web certificate",
    received: 'a renewed certificate for the same key as the factory certificate',
  });
  return factory.certFingerprint;
}

function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) dup.add(v);
    else seen.add(v);
  }
  return [...dup];
}

// ---- HTTP ----------------------------------------------------------------------------------

/** http.auth-all-routes: every known route except the login page refuses a request without a session. */
export async function checkAuthAllRoutes(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  const down = await unreachable(ctx);
  if (down !== undefined) return notTested(down, ctx.trace.login?.evidence ?? []);
  const login = await loginDiscovery(ctx);
  const evidence: Evidence[] = [];
  if (login?.targetKind === 'bulwark') {
    for (const route of BULWARK_PROTECTED_ROUTES) {
      const a = await ctx.exchange('http', {
        method: route.method,
        path: route.path,
        ...(route.method === 'POST'
          ? { headers: { origin: target.origin, 'content-type': 'application/x-www-form-urlencoded' }, body: '' }
          : {}),
      });
      const location = header(a, 'location') ?? '';
      const refused =
        a.status === 401 ||
        a.status === 403 ||
        a.status === 404 ||
        a.status === 405 ||
        (a.status >= 300 && a.status < 400 && /^\/(login|setup)\b/.test(location));
      evidence.push({
        sent: `${route.method} ${route.path} without a session${ctx.fromText('http')}`,
        received: `${describeAnswer(a)}${refused ? ' (refused)' : ''}`,
        finding: a.status !== 0 && !refused,
      });
      if (a.status === 0) return notTested(`the device stopped answering (${a.error ?? 'error'})`, evidence);
    }
    return verdict(
      evidence,
      `all ${BULWARK_PROTECTED_ROUTES.length} owner routes of the Bulwark admin service refuse requests without a ` +
        `session`,
      (f) => `${f.length} owner route(s) answer without a session`,
    );
  }
  const loginPath =
    login?.driver?.kind === 'html-form' ? login.driver.description.replace(/^HTML login form at /, '') : undefined;
  for (const path of COMMON_ADMIN_PATHS) {
    const a = await ctx.exchange('http', { method: 'GET', path });
    if (a.status === 0) {
      evidence.push({ sent: `GET ${path}${ctx.fromText('http')}`, received: describeAnswer(a) });
      continue;
    }
    const content = a.status >= 200 && a.status < 300 && a.body.trim().length > 0;
    const isLogin = path === loginPath || hasPasswordField(a.body);
    evidence.push({
      sent: `GET ${path} without credentials${ctx.fromText('http')}`,
      received: `${describeAnswer(a)}${
        content ? (isLogin ? ' (a login page)' : ' (content served without ' + 'authentication)') : ''
      }`,
      finding: content && !isLogin,
    });
  }
  if (evidence.every((e) => e.received.startsWith('no answer')))
    return notTested('the device did not answer', evidence);
  return verdict(
    evidence,
    `none of ${COMMON_ADMIN_PATHS.length} common admin paths serves content without authentication (a device not ` +
      `built with Bulwark: only common paths were probed)`,
    (f) => `${f.length} path(s) serve content without authentication: ${f.map((e) => e.sent.split(' ')[1]).join(', ')}`,
  );
}

const FOREIGN_ORIGIN = 'https://attacker.example';

/** Marks the trace when the CSRF probe passed, and returns the result unchanged. */
function noteCsrf(ctx: AuditContext, result: CheckOutcome): CheckOutcome {
  if (result.status === 'pass') ctx.trace.csrfRefused = true;
  return result;
}

/** The CSRF probe of a Bulwark login form: a foreign Origin, then a same-origin post without the token. */
async function checkBulwarkCsrf(ctx: AuditContext, target: HttpsTarget, canary: string): Promise<CheckOutcome> {
  const evidence: Evidence[] = [];
  const body = new URLSearchParams({ username: 'admin', password: canary }).toString();
  const foreign = await ctx.exchange('csrf', {
    method: 'POST',
    path: '/login',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: FOREIGN_ORIGIN },
  });
  evidence.push({
    sent:
      `POST /login${ctx.fromText('csrf')} with Origin: ${FOREIGN_ORIGIN}, no CSRF token, user name admin and ` +
      `a random wrong password`,
    received: describeAnswer(foreign),
    finding: foreign.status !== 403 && foreign.status !== 0,
  });
  const page = await ctx.exchange('csrf', { method: 'GET', path: '/login' });
  const cookie = page.headers['set-cookie'];
  const jar = (Array.isArray(cookie) ? cookie : cookie ? [cookie] : []).map((c) => c.split(';')[0]).join('; ');
  const sameOrigin = await ctx.exchange('csrf', {
    method: 'POST',
    path: '/login',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: target.origin,
      ...(jar ? { cookie: jar } : {}),
    },
  });
  evidence.push({
    sent: `POST /login${ctx.fromText('csrf')} with a same-origin Origin and the login cookie but no CSRF token`,
    received: describeAnswer(sameOrigin),
    finding: sameOrigin.status !== 403 && sameOrigin.status !== 0,
  });
  if (foreign.status === 0 || sameOrigin.status === 0)
    return notTested('the device did not answer every request', evidence);
  return noteCsrf(
    ctx,
    verdict(
      evidence,
      'the login form refuses (403) a request with a foreign Origin and one without its CSRF token; the owner ' +
        'routes refuse anything without a session first (see http.auth-all-routes)',
      () => 'a state-changing request without a valid CSRF token or with a foreign Origin was processed',
    ),
  );
}

/** The login form's fields filled with user name admin and the canary as every password. */
function csrfFormFields(form: HtmlForm, canary: string): URLSearchParams {
  const fields = new URLSearchParams();
  const user = form.inputs.find((i) => ['text', 'email', 'tel'].includes(i.type));
  for (const i of form.inputs) {
    if (i.type === 'password') fields.append(i.name, canary);
    else if (i === user) fields.append(i.name, 'admin');
  }
  return fields;
}

/** The CSRF probe of a foreign device's HTML login form: one cross-origin post without its hidden fields. */
async function checkFormCsrf(
  ctx: AuditContext,
  target: HttpsTarget,
  description: string,
  canary: string,
): Promise<CheckOutcome> {
  const refusedStatus = (s: number): boolean => s === 403 || s === 400 || s === 419;
  const pagePath = description.replace(/^HTML login form at /, '');
  const page = await ctx.exchange('csrf', { method: 'GET', path: pagePath });
  const form = findLoginForm(page.body);
  if (form === undefined)
    return notTested(`the login form at ${pagePath} could not be read again`, [
      { sent: `GET ${pagePath}`, received: describeAnswer(page) },
    ]);
  const action = new URL(form.action === '' ? pagePath : form.action, new URL(pagePath, target.origin));
  const answer = await ctx.exchange('csrf', {
    method: 'POST',
    path: action.pathname + action.search,
    body: csrfFormFields(form, canary).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: FOREIGN_ORIGIN },
  });
  if (answer.status === 0 || answer.status >= 500)
    return notTested('no usable answer to the cross-origin request', [
      { sent: `POST ${action.pathname}`, received: describeAnswer(answer) },
    ]);
  const refused = refusedStatus(answer.status);
  const evidence: Evidence[] = [
    {
      sent:
        `POST ${action.pathname}${ctx.fromText('csrf')} (the login form's action) with Origin: ${FOREIGN_ORIGIN}, ` +
        `no cookies, none of the form's hidden fields, user name admin and a random wrong password`,
      received: `${describeAnswer(answer)}${
        refused
          ? ' (refused before processing)'
          : ' (processed: the device judged the password, so a foreign page can drive this form)'
      }`,
      finding: !refused,
    },
  ];
  return noteCsrf(
    ctx,
    verdict(
      evidence,
      'the form refuses a cross-origin request without its token',
      () => 'a cross-origin request without a CSRF token was processed',
    ),
  );
}

/** http.csrf: a state-changing request with a foreign Origin and no token is refused (403). */
export async function checkCsrf(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  const login = await loginDiscovery(ctx);
  const canary = newCanary(ctx);
  if (login?.targetKind === 'bulwark') return checkBulwarkCsrf(ctx, target, canary);
  if (login?.driver === undefined)
    return notTested(`no form to probe: ${login?.note ?? 'no login found'}`, login?.evidence ?? []);
  if (login.driver.kind !== 'html-form')
    return notTested(
      `${login.driver.description}: there is no form whose CSRF defence could be probed without credentials`,
    );
  return checkFormCsrf(ctx, target, login.driver.description, canary);
}

const REFERRER_OK = new Set(['no-referrer', 'same-origin', 'strict-origin', 'strict-origin-when-cross-origin']);

function headerFindings(a: HttpAnswer, label: string): Evidence[] {
  const out: Evidence[] = [];
  const hsts = header(a, 'strict-transport-security') ?? '';
  const maxAge = Number(/max-age\s*=\s*"?(\d+)/i.exec(hsts)?.[1] ?? '-1');
  out.push({
    sent: `${label}: Strict-Transport-Security`,
    received:
      hsts === '' ? 'missing' : `${hsts.slice(0, 100)}${maxAge < 15_552_000 ? ' (max-age under 180 days)' : ''}`,
    finding: maxAge < 15_552_000,
  });
  const csp = header(a, 'content-security-policy') ?? '';
  const unsafe = /'unsafe-(inline|eval)'/i.test(csp);
  const fa = /frame-ancestors\s+'none'/i.test(csp);
  const xfo = (header(a, 'x-frame-options') ?? '').trim().toUpperCase() === 'DENY';
  out.push({
    sent: `${label}: Content-Security-Policy`,
    received: csp === '' ? 'missing' : `${csp.slice(0, 160)}${unsafe ? ' (allows unsafe-inline or unsafe-eval)' : ''}`,
    finding: csp === '' || unsafe,
  });
  out.push({
    sent: `${label}: framing protection`,
    received:
      fa || xfo
        ? `${fa ? "frame-ancestors 'none'" : ''}${fa && xfo ? ' and ' : ''}${xfo ? 'X-Frame-Options: DENY' : ''}`
        : "neither frame-ancestors 'none' nor X-Frame-Options: DENY",
    finding: !fa && !xfo,
  });
  const nosniff = (header(a, 'x-content-type-options') ?? '').trim().toLowerCase();
  out.push({
    sent: `${label}: X-Content-Type-Options`,
    received: nosniff === '' ? 'missing' : nosniff,
    finding: nosniff !== 'nosniff',
  });
  const referrer =
    (header(a, 'referrer-policy') ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean)
      .pop() ?? '';
  out.push({
    sent: `${label}: Referrer-Policy`,
    received: referrer === '' ? 'missing' : referrer,
    finding: !REFERRER_OK.has(referrer),
  });
  return out;
}

/**
 * http.security-headers: the login page and an error page carry HSTS, a strict CSP, framing, nosniff and referrer
 * protections.
 */
export async function checkSecurityHeaders(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  const down = await unreachable(ctx);
  if (down !== undefined) return notTested(down);
  const login = await loginDiscovery(ctx);
  const pagePath =
    login?.targetKind === 'bulwark'
      ? '/login'
      : login?.driver?.kind === 'html-form'
        ? login.driver.description.replace(/^HTML login form at /, '')
        : '/';
  const missing = `/bulwark-audit-${randomBytes(6).toString('hex')}`;
  const evidence: Evidence[] = [];
  for (const path of [pagePath, missing]) {
    const a = await ctx.exchange('http', { method: 'GET', path });
    if (a.status === 0) return notTested(`no answer to GET ${path} (${a.error ?? 'error'})`, evidence);
    evidence.push(
      ...headerFindings(a, `GET ${path}${path === missing ? ' (a page that does not exist)' : ''} -> ${a.status}`),
    );
  }
  return verdict(
    evidence,
    'both the page and an error answer carry HSTS (180 days or more), a CSP without unsafe-inline, frame-ancestors ' +
      "'none' or X-Frame-Options DENY, nosniff and a strict Referrer-Policy",
    (f) =>
      `${f.length} header requirement(s) not met: ${[...new Set(f.map((e) => e.sent.split(': ').pop()))].join(', ')}`,
  );
}

/** http.security-txt: /.well-known/security.txt over HTTPS with Contact and an Expires in the future (RFC 9116). */
export async function checkSecurityTxt(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  const down = await unreachable(ctx);
  if (down !== undefined) return notTested(down);
  const a = await ctx.exchange('http', { method: 'GET', path: '/.well-known/security.txt' });
  const sent = `GET /.well-known/security.txt${ctx.fromText('http')}`;
  if (a.status === 0) return notTested(`no answer (${a.error ?? 'error'})`, [{ sent, received: describeAnswer(a) }]);
  if (a.status !== 200)
    return {
      status: 'fail',
      summary: `no security.txt: the device answers ${a.status}`,
      evidence: [{ sent, received: describeAnswer(a), finding: true }],
    };
  const evidence: Evidence[] = [{ sent, received: describeAnswer(a) }];
  const type = header(a, 'content-type') ?? '';
  evidence.push({ sent: 'Content-Type', received: type || 'missing', finding: !/^text\/plain/i.test(type) });
  const fields = new Map<string, string[]>();
  for (const line of a.body.split(/\r?\n/).slice(0, 200)) {
    const m = /^([A-Za-z-]+):\s*(.+)$/.exec(line.trim());
    if (m && !line.trim().startsWith('#'))
      fields.set(m[1]!.toLowerCase(), [...(fields.get(m[1]!.toLowerCase()) ?? []), m[2]!.trim()]);
  }
  const contacts = fields.get('contact') ?? [];
  evidence.push({
    sent: 'Contact field',
    received: contacts.length === 0 ? 'missing' : contacts.map((c) => c.slice(0, 120)).join(', '),
    finding: contacts.length === 0 || !contacts.every((c) => /^(mailto:|https:|tel:)/i.test(c)),
  });
  const expires = fields.get('expires') ?? [];
  const when = expires.length === 1 ? Date.parse(expires[0]!) : Number.NaN;
  const late = Number.isFinite(when) && when - Date.now() > 366 * 86_400_000;
  evidence.push({
    sent: 'Expires field',
    received:
      expires.length !== 1
        ? `${expires.length} Expires fields (exactly one is required)`
        : !Number.isFinite(when)
          ? `${expires[0]!.slice(0, 40)} (not a date)`
          : when <= Date.now()
            ? `${expires[0]} (expired)`
            : `${expires[0]}${late ? ' (more than a year ahead; RFC 9116 recommends less)' : ''}`,
    finding: !(Number.isFinite(when) && when > Date.now()) || expires.length !== 1,
  });
  return verdict(
    evidence,
    'security.txt is served with a Contact and an Expires date in the future',
    (f) => `security.txt is incomplete: ${f.map((e) => e.sent).join(', ')}`,
  );
}

const SERVER_NAMES = [
  'nginx',
  'apache',
  'lighttpd',
  'microsoft-iis',
  'iis',
  'express',
  'node\\.?js',
  'openssl',
  'php',
  'boa',
  'goahead',
  'mini_httpd',
  'thttpd',
  'busybox',
  'jetty',
  'tomcat',
  'werkzeug',
  'python',
  'uhttpd',
  'cherokee',
];
const BANNER = new RegExp(`\\b(${SERVER_NAMES.join('|')})[/ ]v?\\d+(\\.\\d+)*`, 'i');
const STACK = new RegExp(
  [
    '\\bat [\\w.<>]+ \\((?:\\/|file:|node:)[^)]*:\\d+:\\d+\\)',
    'Traceback \\(most recent call last\\)',
    '\\/(?:home|usr|var|opt|srv|root)\\/[\\w./-]+\\.(?:js|ts|py|php|rb|lua)\\b',
  ].join('|'),
);

/** http.info-disclosure: no unauthenticated answer names software, a version or an internal path. */
export async function checkInfoDisclosure(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.target === undefined) return notTested(NO_URL);
  if (ctx.trace.answers.length === 0) {
    await ctx.exchange('http', { method: 'GET', path: '/' });
    await ctx.exchange('http', { method: 'GET', path: `/bulwark-audit-${randomBytes(6).toString('hex')}` });
  }
  const answers = ctx.trace.answers.filter((a) => a.family !== 'credentials');
  if (answers.length === 0) return notTested('the device gave no answer to examine');
  const evidence: Evidence[] = [];
  for (const a of answers) {
    for (const name of ['server', 'x-powered-by', 'x-aspnet-version', 'x-generator']) {
      const v = a.headers[name];
      if (v !== undefined)
        evidence.push({ sent: a.request, received: `${name}: ${String(v).slice(0, 80)}`, finding: true });
    }
    const banner = BANNER.exec(a.bodyStart) ?? STACK.exec(a.bodyStart);
    if (banner) evidence.push({ sent: a.request, received: `the body names ${banner[0].slice(0, 80)}`, finding: true });
  }
  if (evidence.length === 0)
    evidence.push({
      sent:
        `${answers.length} answers without credentials ` +
        `(${[...new Set(answers.map((a) => a.request))].slice(0, 12).join(', ')}${answers.length > 12 ? ', ...' : ''})`,
      received: 'no Server or X-Powered-By header, version banner, stack trace or internal path',
    });
  return verdict(
    evidence,
    `${answers.length} unauthenticated answers name no software, version or internal path`,
    (f) => `${f.length} answer(s) disclose software or internals`,
  );
}

/** http.input-validation: malformed, oversized and mistyped bodies get a 4xx, never a 5xx or a hang. */
export async function checkInputValidation(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  const login = await loginDiscovery(ctx);
  let path = '/login';
  if (login?.driver?.kind === 'html-form') {
    const pagePath = login.driver.description.replace(/^HTML login form at /, '');
    const page = await ctx.exchange('input', { method: 'GET', path: pagePath });
    const form = findLoginForm(page.body);
    if (form !== undefined)
      path = new URL(form.action === '' ? pagePath : form.action, new URL(pagePath, target.origin)).pathname;
  } else if (login?.targetKind !== 'bulwark') {
    return notTested('no form endpoint known to send bodies to', login?.evidence ?? []);
  }
  const form = 'application/x-www-form-urlencoded';
  const bodies: Array<{ what: string; type: string; body: Buffer; resetOk?: boolean }> = [
    { what: 'truncated JSON', type: 'application/json', body: Buffer.from('{"username":"admin","password":') },
    {
      what: 'a 256 KiB form body',
      type: form,
      body: Buffer.from(`username=admin&password=${'A'.repeat(262_144)}`),
      resetOk: true,
    },
    {
      what: 'bytes that are not UTF-8',
      type: form,
      body: Buffer.from([0x75, 0x3d, 0xff, 0xfe, 0xc3, 0x28, 0x26, 0x70, 0x3d, 0x80]),
    },
    {
      what: 'prototype-pollution field names',
      type: form,
      body: Buffer.from('__proto__[admin]=1&constructor[prototype][admin]=1&username=admin'),
    },
    {
      what: 'a JSON array with nested objects',
      type: 'application/json',
      body: Buffer.from('[{"username":{"$ne":null}},{"password":{"$gt":""}}]'),
    },
  ];
  const evidence: Evidence[] = [];
  for (const b of bodies) {
    const a = await ctx.exchange('input', {
      method: 'POST',
      path,
      body: b.body,
      headers: { 'content-type': b.type, origin: target.origin },
    });
    const reset = a.status === 0 && /ECONNRESET|EPIPE/.test(a.error ?? '');
    const ok = (a.status >= 400 && a.status < 500) || (reset && b.resetOk === true);
    evidence.push({
      sent: `POST ${path}${ctx.fromText('input')} with ${b.what} (${b.type}, ${b.body.length} bytes)`,
      received: `${describeAnswer(a)}${reset && ok ? ' (connection closed: body refused)' : ''}`,
      finding: !ok,
    });
  }
  return verdict(
    evidence,
    `all ${bodies.length} malformed bodies were answered with a 4xx promptly`,
    (f) =>
      `${f.length} malformed bod${f.length === 1 ? 'y was' : 'ies were'} not refused with a 4xx (5xx, success or no ` +
      `answer)`,
  );
}

// ---- TCP -----------------------------------------------------------------------------------

// ---- login ---------------------------------------------------------------------------------

function newCanary(ctx: AuditContext): string {
  const canary = `bulwark-audit-canary-${randomBytes(12).toString('base64url')}`;
  ctx.trace.canaries.push(canary);
  return canary;
}

/** login.default-credentials: a short list of well-known defaults is refused; stops at the first lockout signal. */
export async function checkDefaultCredentials(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.target === undefined) return notTested(NO_URL);
  const login = await loginDiscovery(ctx);
  if (login?.setupPending)
    return {
      status: 'pass',
      summary:
        'the device has no password yet: it is in setup mode and its login redirects to the setup page, which needs ' +
        "the sticker's setup code",
      evidence: login.evidence,
    };
  if (login?.driver === undefined)
    return notTested(`cannot drive the login: ${login?.note ?? 'not found'}`, login?.evidence ?? []);
  const evidence: Evidence[] = [];
  const list = DEFAULT_CREDENTIALS.slice(0, ctx.inputs.limits.maxDefaultCredentialAttempts);
  let rejected = 0;
  let unclear = 0;
  for (const cred of list) {
    if (ctx.remainingMs() < ctx.inputs.limits.requestTimeoutMs * 2) {
      evidence.push({ sent: 'remaining credentials', received: 'not tried: the audit deadline is near' });
      break;
    }
    const r: LoginAttempt = await login.driver.attempt(
      { ...cred, shown: `password ${cred.password}` },
      ctx.sourceFor('credentials'),
    );
    ctx.noteEndpoint('credentials', r.local);
    evidence.push(r.evidence);
    if (r.outcome === 'accepted')
      return { status: 'fail', summary: `the well-known default ${cred.username}/${cred.password} logs in`, evidence };
    if (r.outcome === 'locked') {
      evidence.push({
        sent: `${list.length - rejected - unclear - 1} further credentials`,
        received: 'not tried: the device signalled lockout',
      });
      break;
    }
    if (r.outcome === 'rejected') rejected++;
    else if (++unclear >= 2) break;
  }
  if (rejected === 0) return notTested('no credential could be tried to a clear answer', evidence);
  if (unclear > 0) return notTested(`${unclear} attempt(s) got an answer the auditor could not read`, evidence);
  return {
    status: 'pass',
    summary: `${rejected} well-known default credential(s) refused${
      rejected < list.length ? '; the rest not tried ' + 'after the device signalled lockout' : ''
    }`,
    evidence,
  };
}

/** login.lockout: repeated wrong passwords from one source meet lockout or back-off by the expected attempt. */
export async function checkLockout(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.target === undefined) return notTested(NO_URL);
  const login = await loginDiscovery(ctx);
  if (login?.driver === undefined)
    return notTested(`cannot drive the login: ${login?.note ?? 'not found'}`, login?.evidence ?? []);
  const { maxLockoutAttempts, lockoutExpectedByAttempt, backoffDelayMs } = ctx.inputs.limits;
  const evidence: Evidence[] = [];
  let firstMs: number | undefined;
  for (let attempt = 1; attempt <= maxLockoutAttempts; attempt++) {
    const r = await login.driver.attempt(
      { username: 'admin', password: newCanary(ctx), shown: 'a random wrong password' },
      ctx.sourceFor('lockout'),
    );
    ctx.noteEndpoint('lockout', r.local);
    firstMs ??= r.elapsedMs;
    const slowed = r.elapsedMs - firstMs >= backoffDelayMs;
    const signal = r.outcome === 'locked' || r.retryAfter !== undefined || slowed;
    evidence.push({
      ...r.evidence,
      sent: `attempt ${attempt}: ${r.evidence.sent}`,
      received: `${r.evidence.received}${slowed ? ` (slowed by ${r.elapsedMs - firstMs} ms: back-off)` : ''}`,
    });
    if (r.outcome === 'accepted' || r.outcome === 'unclear') {
      if (signal) {
        /* a lockout page with an odd status still counts */
      } else return notTested(`attempt ${attempt} got an answer the auditor could not read`, evidence);
    }
    if (signal) {
      ctx.trace.lockout = { attempt, ...(r.local ? { localAddress: r.local.address } : {}) };
      if (attempt > lockoutExpectedByAttempt) {
        return {
          status: 'fail',
          summary: `lockout came only at attempt ${attempt}; expected by attempt ${lockoutExpectedByAttempt}`,
          evidence: evidence.map((e, i) => (i === evidence.length - 1 ? { ...e, finding: true } : e)),
        };
      }
      return {
        status: 'pass',
        summary: `the device signalled lockout at attempt ${attempt}${
          r.retryAfter !== undefined ? ` (Retry-After: ` + `${r.retryAfter})` : ''
        }`,
        evidence,
      };
    }
  }
  evidence.push({
    sent: `${maxLockoutAttempts} wrong passwords from one source`,
    received: 'every one was judged, none met lockout, Retry-After or back-off',
    finding: true,
  });
  return {
    status: 'fail',
    summary: `no lockout or back-off after ${maxLockoutAttempts} wrong passwords from one source`,
    evidence,
  };
}

/** http.cookie-flags: every cookie the device set during the audit is Secure, HttpOnly and SameSite=Strict. */
export async function checkCookieFlags(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.target === undefined) return notTested(NO_URL);
  if (ctx.trace.cookies.length === 0) await loginDiscovery(ctx);
  const cookies = ctx.trace.cookies;
  if (cookies.length === 0)
    return notTested('the device set no cookie without credentials; its session cookie is seen only after a login');
  const seen = new Map<string, Evidence>();
  for (const c of cookies) {
    const attrs = c.attributes.map((a) => a.toLowerCase());
    const missing = [
      attrs.includes('secure') ? undefined : 'Secure',
      attrs.includes('httponly') ? undefined : 'HttpOnly',
      attrs.includes('samesite=strict') ? undefined : 'SameSite=Strict',
    ].filter((x): x is string => x !== undefined);
    const key = `${c.name}|${missing.join(',')}`;
    if (!seen.has(key)) {
      seen.set(key, {
        sent: c.request,
        received: `cookie ${c.name}${c.cleared ? ' (cleared)' : ''}: ${c.attributes.join('; ')}${
          missing.length ? ` ` + `(missing ${missing.join(', ')})` : ''
        }`,
        finding: missing.length > 0,
      });
    }
  }
  const evidence = [...seen.values()];
  const session = cookies.some((c) => /session|sid|auth|token/i.test(c.name) && !c.cleared);
  const note = session
    ? ''
    : ' (cookies set before login; the session cookie itself appears only after a successful login, which the ' +
      'auditor does not make with real credentials)';
  return verdict(
    evidence,
    `every cookie the device set is Secure, HttpOnly and SameSite=Strict${note}`,
    (f) => `${f.length} cookie(s) lack Secure, HttpOnly or SameSite=Strict`,
  );
}
