/**
 * The maker's security routes. Pages under `/maker/` (sign-in with the maker token, a session
 * cookie, the CSRF token on every form): the disclosure reports and the CRA reports due. Their
 * JSON twins under `/v1/maker/` take the maker token as `Authorization: Bearer`, like the maker's
 * other routes: the reports, the CRA cases (open, add facts, record the fix, mark a report
 * submitted) and the CSAF advisories to publish. With no maker token configured, all answer 404.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Router, SurfaceEvent, WebRequest, WebResponse } from '../web/index.ts';
import { requireMaker } from './api-routes.ts';
import { RateLimitedError } from './errors.ts';
import { addFacts, craOverview, markSubmitted, openCase, recordFix } from './cra-cases.ts';
import { publishAdvisory } from './csaf-provider.ts';
import { makerCraPage, makerLoginPage, makerReportsPage } from './maker-pages.ts';
import type { OwnerCtx } from './owner-accounts.ts';
import type { OwnerSite } from './owner-site.ts';

function loginHtml(site: OwnerSite, status: number, error?: string): WebResponse {
  const pre = site.makerForms.issue();
  return {
    kind: 'html',
    status,
    body: makerLoginPage({ csrf: pre.token, ...(error ? { error } : {}) }),
    headers: { 'set-cookie': pre.cookie },
  };
}

async function signIn(site: OwnerSite, req: WebRequest): Promise<WebResponse> {
  if (!site.maker.enabled) return loginHtml(site, 404, 'The maker pages are off on this cloud.');
  site.makerForms.verify(req);
  const token = typeof req.body.token === 'string' ? req.body.token.slice(0, 512) : '';
  // Journalled like an owner's login: guessing the maker's token leaves a trail (never the token).
  const event = (result: SurfaceEvent['result'], detail: string): void =>
    site.record(req, { event: 'login', result, detail });
  const done = await site.maker.signIn(req, token).catch((err: unknown) => {
    event(err instanceof RateLimitedError ? 'locked-out' : 'failure', 'maker sign-in');
    throw err;
  });
  event(done ? 'success' : 'failure', done ? 'maker signed in' : 'maker sign-in with a wrong token');
  if (!done) return loginHtml(site, 401, 'Wrong maker token.');
  return {
    kind: 'redirect',
    location: '/maker/cra',
    headers: { 'set-cookie': [done.cookie, site.makerForms.clear()] },
  };
}

/** The maker's pages. */
export function addMakerPageRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { maker } = site;
  const page = (path: string, render: (req: WebRequest, csrf: string) => Promise<string>): void => {
    router.add({
      method: 'GET',
      path,
      access: 'public',
      csrf: false,
      handler: async (req) => ({ kind: 'html', body: await render(req, (await maker.require(req)).csrfToken) }),
    });
  };
  router.add({
    method: 'GET',
    path: '/maker/login',
    access: 'public',
    csrf: false,
    handler: () => loginHtml(site, 200),
  });
  router.add({
    method: 'POST',
    path: '/maker/login',
    access: 'public',
    csrf: false,
    handler: (req) => signIn(site, req),
  });
  router.add({
    method: 'POST',
    path: '/maker/logout',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      const s = await maker.require(req);
      maker.checkForm(req, s);
      return { kind: 'redirect', location: '/maker/login', headers: { 'set-cookie': await maker.signOut(s) } };
    },
  });
  router.add({
    method: 'GET',
    path: '/maker',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      await maker.require(req);
      return { kind: 'redirect', location: '/maker/cra' };
    },
  });
  page('/maker/reports', async (_req, csrf) =>
    makerReportsPage({ csrf, reports: await site.store.disclosureReports(site.security.intake.maxListed) }),
  );
  page('/maker/cra', async (req, csrf) => {
    const now = Date.now();
    const overview = await craOverview(site.store, now);
    // The notice is built here from the stored case, never from the link's text (a crafted link could
    // otherwise put words of its own on the maker's page).
    const submitted = overview.cases.find((c) => c.id === req.query.get('submitted'));
    const notice = submitted ? `${submitted.ref}: marked submitted` : undefined;
    return makerCraPage({ csrf, now, ...overview, ...(notice ? { notice } : {}) });
  });
  router.add({
    method: 'POST',
    path: '/maker/cra/:id/submitted',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      const s = await maker.require(req);
      maker.checkForm(req, s);
      const c = await markSubmitted(site.store, req.params.id!, req.body.report, 'maker-page', Date.now());
      return { kind: 'redirect', location: `/maker/cra?submitted=${encodeURIComponent(c.id)}` };
    },
  });
}

/** Where uploaded advisories are streamed before they are checked (one folder per process). */
let uploadDir: Promise<string> | undefined;

/** Reads an uploaded advisory (application/octet-stream, at most the provider's size) and removes its file. */
async function uploadedBytes(req: WebRequest, maxBytes: number): Promise<Buffer> {
  uploadDir ??= mkdtemp(join(tmpdir(), 'bulwark-cloud-upload-'));
  const saved = await req.saveBody!({ dir: await uploadDir, maxBytes });
  try {
    return await readFile(saved.path);
  } finally {
    await rm(saved.path, { force: true });
  }
}

type MakerHandler = (req: WebRequest, now: number) => Promise<{ status?: number; body: object }>;

/** The JSON twins of the maker's pages, and the advisories' upload. */
export function addMakerSecurityApiRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { store } = site;
  const add = (method: 'GET' | 'POST', path: string, handler: MakerHandler, body?: 'file'): void => {
    router.add({
      method,
      path,
      access: 'public',
      csrf: false,
      ...(body ? { body } : {}),
      handler: async (req) => {
        requireMaker(req, site.makerTokenSha256);
        const out = await handler(req, Date.now());
        return { kind: 'json', status: out.status ?? 200, body: out.body };
      },
    });
  };
  add('GET', '/v1/maker/security-reports', async () => ({
    body: { reports: await store.disclosureReports(site.security.intake.maxListed) },
  }));
  add('GET', '/v1/maker/cra', async (_req, now) => ({ body: await craOverview(store, now) }));
  const open = (kind: 'vulnerability' | 'incident', refField: string): MakerHandler => {
    return async (req, now) => {
      const done = await openCase(store, kind, { ...req.body, ref: req.body[refField] }, now);
      return { status: done.created ? 201 : 200, body: done };
    };
  };
  add('POST', '/v1/maker/cra/exploited', open('vulnerability', 'vuln'));
  add('POST', '/v1/maker/cra/incidents', open('incident', 'incident'));
  add('POST', '/v1/maker/cra/:id/facts', async (req) => ({
    body: { record: await addFacts(store, req.params.id!, req.body) },
  }));
  add('POST', '/v1/maker/cra/:id/fix', async (req, now) => ({
    body: { record: await recordFix(store, req.params.id!, req.body.availableAt, now) },
  }));
  add('POST', '/v1/maker/cra/:id/submitted', async (req, now) => ({
    body: { record: await markSubmitted(store, req.params.id!, req.body.report, 'maker-api', now) },
  }));
  add('GET', '/v1/maker/advisories', async () => ({ body: { advisories: await store.csafAdvisories() } }));
  add(
    'POST',
    '/v1/maker/advisories',
    async (req, now) => {
      const bytes = await uploadedBytes(req, site.security.csaf.maxAdvisoryBytes);
      const done = await publishAdvisory(store, bytes, site.security.csaf, now);
      return { status: done.outcome === 'published' ? 201 : 200, body: done };
    },
    'file',
  );
}
