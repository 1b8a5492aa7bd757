/**
 * The cloud's public security routes, none behind a login: `/.well-known/security.txt`, the
 * disclosure policy and report form, `POST /v1/security/reports` (JSON or form) and the CSAF
 * provider's files under `/.well-known/csaf/`. A report is answered with its tracking id only:
 * nothing a reporter sent is echoed back but into an escaped form field after a refusal.
 */
import { InvalidInputError } from '../errors/index.ts';
import { checkSameOrigin, type Router, type WebRequest, type WebResponse } from '../web/index.ts';
import { receiveReport, type IntakeContext } from './disclosure.ts';
import { NotFoundError } from './errors.ts';
import { changesCsv, indexTxt, providerMetadata, sha512File } from './csaf-provider.ts';
import type { OwnerCtx } from './owner-accounts.ts';
import type { OwnerSite } from './owner-site.ts';
import { policyPage, reportPage, reportReceivedPage, type ReportFormValues } from './security-pages.ts';
import { INTAKE_PAGE, POLICY_PAGE, renderSecurityTxt } from './security-txt.ts';

/** The pre-session cookie of the disclosure form. */
export const REPORT_FORM_COOKIE = '__Host-bulwark-cloud-report';

/** The origins the cloud is reached at: its public host names, else the request's (allow-listed) Host. */
export function originsOf(site: Pick<OwnerSite, 'publicHosts'>, req: WebRequest): string[] {
  const named = site.publicHosts.map((h) => `https://${h}`);
  return named.length ? named : [`https://${String(req.headers.host)}`];
}

function intakeOf(site: OwnerSite): IntakeContext {
  return { store: site.store, config: site.security.intake, record: site.record };
}

function formHtml(site: OwnerSite, status: number, o: { error?: string; values?: ReportFormValues } = {}): WebResponse {
  const pre = site.reportForms.issue();
  const body = reportPage({ csrf: pre.token, limits: site.security.intake, ...o });
  return { kind: 'html', status, body, headers: { 'set-cookie': pre.cookie } };
}

/** The form's post: the tracking id page, or the form again with the refusal and the values typed. */
async function reportByForm(site: OwnerSite, req: WebRequest): Promise<WebResponse> {
  site.reportForms.verify(req);
  try {
    const r = await receiveReport(intakeOf(site), req);
    return {
      kind: 'html',
      status: 201,
      body: reportReceivedPage(r.id),
      headers: { 'set-cookie': site.reportForms.clear() },
    };
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    const values: ReportFormValues = {};
    for (const k of ['summary', 'details', 'product', 'version', 'contact'] as const) {
      const v = req.body[k];
      if (typeof v === 'string') values[k] = v.slice(0, site.security.intake.maxDetailsChars);
    }
    return formHtml(site, 400, { error: err.message, values });
  }
}

/** security.txt, the policy, the report form and the report API. */
function addDisclosureRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const text = (body: string, type = 'text/plain; charset=utf-8'): WebResponse => ({
    kind: 'text',
    body,
    contentType: type,
  });
  router.add({
    method: 'GET',
    path: '/.well-known/security.txt',
    access: 'public',
    csrf: false,
    handler: (req) => text(renderSecurityTxt(site.security.securityTxt, originsOf(site, req), Date.now())),
  });
  router.add({
    method: 'GET',
    path: POLICY_PAGE,
    access: 'public',
    csrf: false,
    handler: () => ({ kind: 'html', body: policyPage() }),
  });
  router.add({ method: 'GET', path: INTAKE_PAGE, access: 'public', csrf: false, handler: () => formHtml(site, 200) });
  router.add({
    method: 'POST',
    path: INTAKE_PAGE,
    access: 'public',
    csrf: false,
    handler: (req) => reportByForm(site, req),
  });
  // For tools and scripts: no form token, but a browser's cross-site post is still refused.
  router.add({
    method: 'POST',
    path: '/v1/security/reports',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      checkSameOrigin(req, { allowNonBrowser: true });
      const r = await receiveReport(intakeOf(site), req);
      return {
        kind: 'json',
        status: 201,
        body: { trackingId: r.id, receivedAt: new Date(r.receivedAt).toISOString() },
      };
    },
  });
}

/** The CSAF provider's files. */
function addCsafRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { store } = site;
  const cors = { 'access-control-allow-origin': '*' };
  const file = (body: string, type: string): WebResponse => ({ kind: 'text', body, contentType: type, headers: cors });
  router.add({
    method: 'GET',
    path: '/.well-known/csaf/provider-metadata.json',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      const all = await store.csafAdvisories();
      const newest = all[0] ? (await store.csafAdvisory(all[0].path))?.document : undefined;
      const meta = providerMetadata(site.security.csaf, originsOf(site, req)[0]!, all, newest);
      return file(JSON.stringify(meta, null, 2) + '\n', 'application/json');
    },
  });
  router.add({
    method: 'GET',
    path: '/.well-known/csaf/index.txt',
    access: 'public',
    csrf: false,
    handler: async () => file(indexTxt(await store.csafAdvisories()), 'text/plain; charset=utf-8'),
  });
  router.add({
    method: 'GET',
    path: '/.well-known/csaf/changes.csv',
    access: 'public',
    csrf: false,
    handler: async () => file(changesCsv(await store.csafAdvisories()), 'text/csv; charset=utf-8'),
  });
  router.add({
    method: 'GET',
    path: '/.well-known/csaf/:year/:file',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      const { year, file: name } = req.params as { year: string; file: string };
      const hash = name.endsWith('.json.sha512');
      const path = `${year}/${hash ? name.slice(0, -'.sha512'.length) : name}`;
      const a = /^\d{4}\/[a-z0-9_-]+\.json$/.test(path) ? await store.csafAdvisory(path) : undefined;
      if (!a) throw new NotFoundError();
      return hash ? file(sha512File(a), 'text/plain; charset=utf-8') : file(a.document, 'application/json');
    },
  });
}

/** Every public security route. */
export function addSecurityRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  addDisclosureRoutes(router, site);
  addCsafRoutes(router, site);
}
