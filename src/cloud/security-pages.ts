/**
 * The public security pages: the disclosure policy and the report form (plain HTML, no script,
 * works without JavaScript) and the page that gives a reporter the tracking id. Every value is
 * escaped; the shared page shell and the strict CSP apply.
 */
import { escapeHtml, formMessages, renderPage } from '../web/index.ts';
import type { IntakeConfig } from './security-config.ts';
import { INTAKE_PAGE, POLICY_PAGE } from './security-txt.ts';

const NAV = [
  { href: POLICY_PAGE, label: 'Disclosure policy' },
  { href: INTAKE_PAGE, label: 'Report a vulnerability' },
];

function layout(title: string, body: string): string {
  return renderPage({ title, product: 'Bulwark Cloud', nav: NAV }, body);
}

/** Values a reporter typed, shown again after a refusal. */
export type ReportFormValues = Partial<Record<'summary' | 'details' | 'product' | 'version' | 'contact', string>>;

function input(name: string, label: string, max: number, values: ReportFormValues, required: boolean): string {
  const v = escapeHtml(values[name as keyof ReportFormValues] ?? '');
  return (
    `<label for="${name}">${escapeHtml(label)}</label>` +
    `<input id="${name}" name="${name}" maxlength="${max}"${required ? ' required' : ''} value="${v}">`
  );
}

/** The report form. */
export function reportPage(o: {
  csrf: string;
  limits: IntakeConfig;
  error?: string;
  values?: ReportFormValues;
}): string {
  const v = o.values ?? {};
  const l = o.limits;
  return layout(
    'Report a vulnerability',
    `<h1>Report a security vulnerability</h1><div class="card">${formMessages(o)}\n` +
      '<p>Tell us what you found in one of our products or in this service. We read every report, answer ' +
      'at the contact you give, and agree a disclosure date with you. See the ' +
      `<a href="${POLICY_PAGE}">disclosure policy</a>.</p>\n` +
      `<form method="post" action="${INTAKE_PAGE}"><input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}">\n` +
      `${input('summary', 'Summary (one line)', l.maxSummaryChars, v, true)}\n` +
      `${input('product', 'Affected product', l.maxProductChars, v, true)}\n` +
      `${input('version', 'Affected version (if known)', l.maxVersionChars, v, false)}\n` +
      `<label for="details">Details: what you found, how to reproduce it, its impact</label>` +
      `<textarea id="details" name="details" rows="12" required maxlength="${l.maxDetailsChars}">` +
      `${escapeHtml(v.details ?? '')}</textarea>\n` +
      `${input('contact', 'How to reach you (optional: e-mail or URL)', l.maxContactChars, v, false)}\n` +
      '<button type="submit">Send the report</button></form></div>',
  );
}

/** The answer to a report: its tracking id. */
export function reportReceivedPage(id: string): string {
  return layout(
    'Report received',
    '<h1>Thank you: your report is received</h1><div class="card">' +
      `<p>Your tracking id is <strong class="tracking-id">${escapeHtml(id)}</strong>. ` +
      'Quote it in any message about this report.</p></div>',
  );
}

/** The coordinated-disclosure policy. */
export function policyPage(): string {
  return layout(
    'Disclosure policy',
    '<h1>Coordinated vulnerability disclosure</h1><div class="card">' +
      `<p>Report a vulnerability with <a href="${INTAKE_PAGE}">the report form</a>; you get a tracking id at ` +
      'once. We acknowledge a report within five working days when you leave a contact, keep you informed ' +
      'while we fix it, and agree the date of publication with you. Fixed vulnerabilities are published as ' +
      'CSAF security advisories under <a href="/.well-known/csaf/provider-metadata.json">/.well-known/csaf/</a>.' +
      '</p><p>Please test only devices you own, do not access data that is not yours, and give us a ' +
      'reasonable time to fix before you publish. Where a vulnerability is actively exploited, we report it ' +
      'as the EU Cyber Resilience Act requires.</p></div>',
  );
}
