/**
 * The connection journal's page, loaded with its first view rather than at start (the plug's idle memory): a
 * sentence per record with the raw record one click away, tiers, a filter and paging.
 */
import { escapeHtml } from './page-shell.ts';
import { journalConcern, journalSentence, type JournalRow } from './journal-words.ts';
import { layout, type PageFrame } from './pages.ts';

export { journalMatches } from './journal-words.ts';

/** What a page asks of the journal: the newest `limit` entries, of one tier or of both. */
export interface JournalListOptions {
  readonly limit: number;
  readonly tier?: 'security' | 'connection';
}

/** The records one journal page shows: a tier, one page of its newest records matching a filter. */
export interface JournalView {
  readonly tier: 'security' | 'connection';
  readonly rows: readonly JournalRow[];
  readonly page: number;
  readonly pages: number;
  readonly filter: string;
  /** The newest notice that the journal dropped records, if any. */
  readonly dropped?: string;
}

/** The raw record, one click away from its sentence (a details element: no script). */
function rawRecord(r: JournalRow): string {
  const fields: Array<[string, string | undefined]> = [
    ['surface', r.surface],
    ['event', r.event],
    ['result', r.result],
    ['source', r.source],
    ['identity', r.identity],
    ['detail', r.detail],
  ];
  const dl = fields
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v!)}</dd>`)
    .join('');
  return `<details><summary>Record</summary><dl class="raw">${dl}</dl></details>`;
}

function journalTable(caption: string, rows: readonly JournalRow[]): string {
  const body = rows
    .map((r) => {
      // The day never breaks inside itself: on a phone the time goes under it, two lines and never three.
      const [day = '', time = ''] = r.at.replace(/:\d\d(\.\d+)?Z$/, '').split('T');
      const notice = r.event === 'journal-drop' ? ' class="notice"' : '';
      const bad = journalConcern(r);
      return (
        `<tr${notice}><td class="when"><time datetime="${escapeHtml(r.at)}"><span class="day">${escapeHtml(day)}` +
        `</span> ${escapeHtml(time)}</time></td>` +
        `<td${bad ? ' class="bad"' : ''}>${escapeHtml(journalSentence(r))}</td><td>${rawRecord(r)}</td></tr>`
      );
    })
    .join('');
  const empty = rows.length ? '' : '<p class="muted">Nothing here.</p>';
  return (
    `<div class="card table-wrap"><table><caption>${escapeHtml(caption)}</caption><thead><tr>` +
    `<th scope="col">Time (UTC)</th><th scope="col">What happened</th><th scope="col">Detail</th></tr></thead>` +
    `<tbody>${body}</tbody></table>${empty}</div>`
  );
}

/** The journal's address for a tier, page and filter. */
function journalHref(tier: string, page: number, filter: string): string {
  const q = new URLSearchParams({ tier, ...(page > 1 ? { page: String(page) } : {}), ...(filter ? { filter } : {}) });
  return `/journal?${q.toString()}`;
}

/**
 * The journal: security events (logins, lockouts, pairing, owner actions) apart from connection
 * records, so a flood of connections never hides them; each record as a sentence with the raw record
 * beside it, a page at a time, with a filter; a drop notice is repeated at the top. No script.
 */
export function journalPage(frame: PageFrame & { csrf: string }, v: JournalView): string {
  const dropNote = v.dropped
    ? `<div class="card"><p class="error">The journal let older entries go to stay within its size (newest ` +
      `notice: ${escapeHtml(v.dropped)}).</p></div>`
    : '';
  const tab = (tier: 'security' | 'connection', label: string): string =>
    v.tier === tier
      ? `<strong aria-current="page">${label}</strong>`
      : `<a href="${escapeHtml(journalHref(tier, 1, v.filter))}">${label}</a>`;
  const filter =
    `<form method="get" action="/journal" class="filter"><input type="hidden" name="tier" value="${v.tier}">` +
    `<label for="filter">Show only records mentioning</label><input id="filter" name="filter" maxlength="64"` +
    ` value="${escapeHtml(v.filter)}"><button type="submit" class="secondary">Filter</button></form>`;
  const newer = v.page > 1 ? `<a href="${escapeHtml(journalHref(v.tier, v.page - 1, v.filter))}">Newer</a>` : '';
  const older = v.page < v.pages ? `<a href="${escapeHtml(journalHref(v.tier, v.page + 1, v.filter))}">Older</a>` : '';
  const paging =
    `<nav aria-label="Journal pages" class="paging">${newer} ` +
    `<span>Page ${v.page} of ${v.pages}</span> ${older}</nav>`;
  const caption = v.tier === 'security' ? 'Security events' : 'Connections';
  return layout(
    frame,
    `<h1>Connection journal</h1><p class="muted">Every connection and login attempt, newest first. Passwords and` +
      ` codes are never recorded. A flood from one address is summarised per minute.</p>` +
      dropNote +
      `<nav aria-label="Journal parts" class="tabs">${tab('security', 'Security events')} ` +
      `${tab('connection', 'Connections')}</nav>${filter}` +
      journalTable(caption, v.rows) +
      paging,
  );
}
