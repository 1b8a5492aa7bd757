/**
 * cloud.disclosure-intake, black-box (--cloud-api): the manufacturer cloud's coordinated-disclosure
 * intake as a reporter meets it: `/.well-known/security.txt` (RFC 9116) with a Contact and an
 * Expires in the future but at most a year ahead, the report form at `/security/report`, and
 * `POST /v1/security/reports` refusing an empty report with a typed 4xx. The auditor sends no
 * report a maker would have to read: the only one it posts is empty, so nothing is stored.
 */
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { httpsExchange, type HttpAnswer, type HttpProbe, type HttpsTarget } from './net.ts';
import type { Evidence } from './types.ts';

/** RFC 9116 recommends an Expires less than a year ahead; a day's grace for the auditor's clock, ms. */
const MAX_EXPIRES_AHEAD_MS = 366 * 86_400_000;
/** Lines of security.txt read. */
const MAX_LINES = 200;

/** The fields of a security.txt, by lower-case name (comments and other lines left out). */
export function securityTxtFields(body: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const raw of body.split(/\r?\n/).slice(0, MAX_LINES)) {
    const line = raw.trim();
    const m = /^([A-Za-z-]+):\s*(.+)$/.exec(line);
    if (m && !line.startsWith('#'))
      fields.set(m[1]!.toLowerCase(), [...(fields.get(m[1]!.toLowerCase()) ?? []), m[2]!]);
  }
  return fields;
}

const header = (a: HttpAnswer, name: string): string => {
  const v = a.headers[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
};
const answered = (a: HttpAnswer): string =>
  a.status === 0 ? `no answer (${a.error ?? 'error'})` : `${a.status} ${header(a, 'content-type') || 'no type'}`;

/** security.txt judged: served as text, with a usable Contact and one Expires in the future, at most a year ahead. */
function securityTxtEvidence(a: HttpAnswer, now: number): Evidence[] {
  const sent = 'GET /.well-known/security.txt';
  if (a.status !== 200 || !/^text\/plain/i.test(header(a, 'content-type')))
    return [{ sent, received: answered(a), finding: true }];
  const fields = securityTxtFields(a.body);
  const contacts = fields.get('contact') ?? [];
  const expires = fields.get('expires') ?? [];
  const when = expires.length === 1 ? Date.parse(expires[0]!) : Number.NaN;
  const expiresText =
    expires.length !== 1
      ? `${expires.length} Expires fields (exactly one is required)`
      : !Number.isFinite(when)
        ? `${expires[0]!.slice(0, 40)} (not a date)`
        : when <= now
          ? `${expires[0]} (expired)`
          : when - now > MAX_EXPIRES_AHEAD_MS
            ? `${expires[0]} (more than a year ahead)`
            : expires[0]!;
  return [
    { sent, received: answered(a) },
    {
      sent: 'security.txt Contact',
      received: contacts.length ? contacts.map((c) => c.slice(0, 120)).join(', ') : 'missing',
      finding: contacts.length === 0 || !contacts.every((c) => /^(mailto:|https:|tel:)/i.test(c)),
    },
    {
      sent: 'security.txt Expires',
      received: expiresText,
      finding: !(Number.isFinite(when) && when > now && when - now <= MAX_EXPIRES_AHEAD_MS),
    },
  ];
}

/** The report page judged: an HTML form that posts a report's summary and details. */
function formEvidence(a: HttpAnswer): Evidence {
  const form = /<form\b[^>]*\bmethod=["']?post/i.test(a.body);
  const fields = ['summary', 'details'].filter((f) => new RegExp(`\\bname=["']?${f}\\b`, 'i').test(a.body));
  const ok = a.status === 200 && /^text\/html/i.test(header(a, 'content-type')) && form && fields.length === 2;
  return {
    sent: 'GET /security/report',
    received:
      answered(a) +
      (a.status !== 200
        ? ''
        : !form
          ? ': no form that posts'
          : fields.length === 2
            ? ': a form that posts, with summary and details'
            : `: a form that posts, with only ${fields.join(', ') || 'neither'} of summary and details`),
    finding: !ok,
  };
}

/** The API's answer to an empty report: a 4xx with an error code, and no tracking id. */
function emptyReportEvidence(a: HttpAnswer): Evidence {
  let code: unknown, tracking: unknown;
  try {
    const body = JSON.parse(a.body) as { error?: { code?: unknown }; trackingId?: unknown };
    code = body.error?.code;
    tracking = body.trackingId;
  } catch {
    /* not JSON: judged below */
  }
  const typed = a.status >= 400 && a.status < 500 && typeof code === 'string' && tracking === undefined;
  return {
    sent: 'POST /v1/security/reports {} (an empty report, JSON)',
    received:
      `${answered(a)}${typeof code === 'string' ? `, error code ${code.slice(0, 60)}` : ', no error code'}` +
      (tracking !== undefined ? ', a tracking id: it was stored' : ''),
    finding: !typed,
  };
}

/** cloud.disclosure-intake: security.txt in date, the report form, an empty report refused with a typed 4xx. */
export async function checkDisclosureIntake(ctx: AuditContext): Promise<CheckOutcome> {
  const target: HttpsTarget | undefined = ctx.inputs.cloudApi;
  if (target === undefined) {
    if (!ctx.inputs.profile.networkModels.includes('cloud'))
      return {
        status: 'not-applicable',
        summary: 'the product has no manufacturer cloud: reports go to the contact its security.txt and policy name',
        evidence: [],
      };
    return notTested("needs --cloud-api (the cloud's HTTPS API, https://host:port) to meet its disclosure intake");
  }
  // On loopback, from this audit's own source address: the intake charges each report to its source.
  const localAddress = target.loopbackV4 ? ctx.inputs.sources?.http : undefined;
  const send = (p: HttpProbe): Promise<HttpAnswer> =>
    httpsExchange(target, { ...p, ...(localAddress ? { localAddress } : {}) }, ctx.inputs.limits);
  const txt = await send({ method: 'GET', path: '/.well-known/security.txt', headers: { accept: 'text/plain' } });
  const verified = target.ca === undefined ? 'not verified (no --cloud-api-ca)' : 'verified against --cloud-api-ca';
  const tls: Evidence = { sent: `TLS to ${target.origin}`, received: `certificate ${verified}` };
  if (txt.status === 0) {
    const certificate = target.ca !== undefined && /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME/i.test(txt.error ?? '');
    if (!certificate) return notTested(`nothing answered at ${target.origin} (${txt.error ?? 'error'})`, [tls]);
    return verdict(
      [{ ...tls, received: `refused: ${txt.error}`, finding: true }],
      '',
      () => "the cloud's certificate does not verify",
    );
  }
  const form = await send({ method: 'GET', path: '/security/report' });
  const post = await send({
    method: 'POST',
    path: '/v1/security/reports',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: '{}',
  });
  if (post.status === 429)
    return notTested('the intake rate-limited the auditor before it judged the empty report', [
      { sent: 'POST /v1/security/reports {}', received: answered(post) },
    ]);
  return verdict(
    [tls, ...securityTxtEvidence(txt, Date.now()), formEvidence(form), emptyReportEvidence(post)],
    "the cloud's security.txt is in date, its report form answers, and an empty report is refused with a typed 4xx",
    (f) => `the disclosure intake falls short: ${f.map((e) => `${e.sent} -> ${e.received}`.slice(0, 160)).join('; ')}`,
  );
}
