/**
 * The maker's pages: sign-in with the maker token, the disclosure reports received, and the CRA
 * reports due with their drafts. A report's text is what a stranger sent: it is only ever escaped
 * into text (a `<pre>` block), never markup, under the same strict CSP as every page.
 */
import { escapeHtml, formMessages, postButton, renderPage } from '../web/index.ts';
import type { CraCaseView } from './cra-cases.ts';
import type { DueReport } from './cra-reporting.ts';
import type { DisclosureReportRecord } from './security-sql.ts';

const NAV = [
  { href: '/maker/reports', label: 'Disclosure reports' },
  { href: '/maker/cra', label: 'CRA reports' },
];

function layout(title: string, csrf: string | undefined, body: string): string {
  // Below the page, not in the header (the shell's logout is the owner's): a plain button, whose colours hold on the
  // page's light background (a link-like one is white text, made for the dark header).
  const signOut = csrf === undefined ? '' : postButton('/maker/logout', csrf, 'Sign out');
  return renderPage({ title, product: 'Bulwark Cloud · maker', nav: csrf === undefined ? [] : NAV }, body + signOut);
}

const utc = (at: number): string => `${new Date(at).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

/** The sign-in form. */
export function makerLoginPage(o: { csrf: string; error?: string }): string {
  return layout(
    'Maker sign-in',
    undefined,
    `<h1>Maker sign-in</h1><div class="card">${formMessages(o)}\n` +
      `<form method="post" action="/maker/login"><input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}">\n` +
      '<label for="token">Maker token</label><input id="token" name="token" type="password" ' +
      'autocomplete="current-password" required maxlength="512">\n' +
      '<button type="submit">Sign in</button></form></div>',
  );
}

function reportCard(r: DisclosureReportRecord): string {
  const rows: Array<[string, string]> = [
    ['Tracking id', r.id],
    ['Received', utc(r.receivedAt)],
    ['Product', r.product],
    ['Version', r.version || '—'],
    ['Contact', r.contact ?? '—'],
  ];
  const dl = rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  return (
    `<article class="card report" id="${escapeHtml(r.id)}"><h2 class="summary">${escapeHtml(r.summary)}</h2>` +
    `<dl>${dl}</dl><pre class="details">${escapeHtml(r.details)}</pre></article>`
  );
}

/** The disclosure reports, newest first. */
export function makerReportsPage(o: { csrf: string; reports: readonly DisclosureReportRecord[] }): string {
  const list = o.reports.length ? o.reports.map(reportCard).join('\n') : '<p class="muted">No reports yet.</p>';
  return layout('Disclosure reports', o.csrf, `<h1>Disclosure reports</h1>\n${list}`);
}

const STATE_WORDS: Record<DueReport['state'], string> = {
  overdue: 'OVERDUE',
  due: 'due',
  waiting: 'waiting for a fix',
  submitted: 'submitted',
};

function dueTable(due: readonly DueReport[], now: number): string {
  if (due.length === 0) return '<p class="muted">Nothing is due.</p>';
  const rows = due.map((d) => {
    const when = d.dueAt === null ? d.basis : `${utc(d.dueAt)}${d.provisional ? ' (provisional)' : ''}`;
    const left = d.dueAt === null ? '' : ` (${Math.round((d.dueAt - now) / 3_600_000)} h)`;
    return (
      `<tr class="${d.state}"><td><a href="#${escapeHtml(d.caseId)}">${escapeHtml(d.ref)}</a></td>` +
      `<td>${escapeHtml(d.report)}</td><td>${escapeHtml(when + left)}</td><td>${STATE_WORDS[d.state]}</td></tr>`
    );
  });
  const head = '<thead><tr><th>Case</th><th>Report</th><th>Due</th><th>State</th></tr></thead>';
  return `<table>${head}${rows.join('')}</table>`;
}

function caseCard(c: CraCaseView, csrf: string): string {
  const drafts = c.drafts.map((d) => {
    const line = c.deadlines.find((x) => x.report === d.report)!;
    const fields = d.fields
      .map(
        (f) =>
          `<dt>${escapeHtml(f.label)}</dt><dd>${f.value === null ? '<em>to complete</em>' : escapeHtml(f.value)}</dd>`,
      )
      .join('');
    const submit =
      line.state === 'submitted'
        ? `<p class="notice">Submitted ${utc(line.submittedAt!)}</p>`
        : `<form method="post" action="/maker/cra/${escapeHtml(c.id)}/submitted">` +
          `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
          `<input type="hidden" name="report" value="${d.report}">` +
          '<button type="submit">Mark submitted</button></form>';
    const head = `<h3>${escapeHtml(d.title)}</h3><p class="muted">${escapeHtml(d.legalBasis)}</p>`;
    return `<section>${head}<dl>${fields}</dl>${submit}</section>`;
  });
  return (
    `<article class="card" id="${escapeHtml(c.id)}"><h2>${escapeHtml(c.ref)}</h2>` +
    `<p>${escapeHtml(c.kind)}, known since ${utc(c.awareAt)}` +
    `${c.fixAt === null ? '' : `, fix available ${utc(c.fixAt)}`}</p>` +
    `${drafts.join('\n')}</article>`
  );
}

/** The CRA reports due, then every case with its drafts. */
export function makerCraPage(o: {
  csrf: string;
  now: number;
  due: readonly DueReport[];
  cases: readonly CraCaseView[];
  notice?: string;
}): string {
  return layout(
    'CRA reports',
    o.csrf,
    `<h1>CRA reports due</h1>${formMessages(o)}<div class="card">${dueTable(o.due, o.now)}</div>\n` +
      o.cases.map((c) => caseCard(c, o.csrf)).join('\n') +
      '<p class="muted">The tool drafts and tracks; a person submits each report on the single reporting platform.</p>',
  );
}
