/**
 * A tiny document model with Markdown and HTML writers. The policy is built once as blocks and
 * written in either format, so both say the same thing and escaping lives in one place.
 */
import { createHash } from 'node:crypto';

/** Text, or a link. Hrefs are either in-document anchors ('#id') or URIs already validated by the caller. */
export type Inline = string | { readonly text: string; readonly href: string };

/** One block of a document. */
export type Block =
  | { readonly kind: 'heading'; readonly level: 1 | 2 | 3; readonly text: string; readonly id: string }
  | { readonly kind: 'paragraph'; readonly content: readonly Inline[] }
  | { readonly kind: 'list'; readonly items: readonly (readonly Inline[])[] }
  | { readonly kind: 'fields'; readonly items: readonly (readonly [string, readonly Inline[]])[] }
  | { readonly kind: 'notice'; readonly content: readonly Inline[] }
  | {
      readonly kind: 'table';
      readonly caption: string;
      readonly headers: readonly string[];
      /** The first cell of each row is its header cell; `id` makes the row a link target. */
      readonly rows: readonly { readonly id?: string; readonly cells: readonly (readonly Inline[])[] }[];
    };

/** A whole document: a title and its blocks. */
export interface DocumentModel {
  readonly title: string;
  readonly blocks: readonly Block[];
}

// ---------------------------------------------------------------- Markdown

// '>' is left alone mid-line (with '<' escaped it cannot form a tag), so arrows in reasons stay readable.
const MD_SPECIAL = /[\\`*_[\]<|~#]|^>/g;

/** Escapes text so Markdown shows it literally (no emphasis, links, HTML, quotes or table breaks). */
export function escapeMarkdown(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(MD_SPECIAL, (ch) => `\\${ch}`);
}

function mdInline(content: readonly Inline[]): string {
  return content
    .map((part) => {
      if (typeof part === 'string') return escapeMarkdown(part);
      // In-document anchors are not portable across Markdown renderers, so they stay plain text.
      if (part.href.startsWith('#')) return escapeMarkdown(part.text);
      return `[${escapeMarkdown(part.text)}](<${part.href.replace(/[<>\s]/g, encodeURIComponent)}>)`;
    })
    .join('');
}

/** Writes a document as CommonMark with GitHub-style tables. */
export function toMarkdown(doc: DocumentModel): string {
  const out: string[] = [];
  for (const block of doc.blocks) {
    switch (block.kind) {
      case 'heading':
        out.push(`${'#'.repeat(block.level)} ${escapeMarkdown(block.text)}`);
        break;
      case 'paragraph':
        out.push(mdInline(block.content));
        break;
      case 'notice':
        out.push(`> **Note:** ${mdInline(block.content)}`);
        break;
      case 'list':
        out.push(block.items.map((item) => `- ${mdInline(item)}`).join('\n'));
        break;
      case 'fields':
        out.push(block.items.map(([term, value]) => `- **${escapeMarkdown(term)}:** ${mdInline(value)}`).join('\n'));
        break;
      case 'table': {
        const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
        out.push(
          [
            `*${escapeMarkdown(block.caption)}*`,
            '',
            row(block.headers.map(escapeMarkdown)),
            row(block.headers.map(() => '---')),
            ...block.rows.map((r) => row(r.cells.map(mdInline))),
          ].join('\n'),
        );
        break;
      }
    }
  }
  return out.join('\n\n') + '\n';
}

// ---------------------------------------------------------------- HTML

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

function htmlInline(content: readonly Inline[]): string {
  return content
    .map((part) =>
      typeof part === 'string' ? escapeHtml(part) : `<a href="${escapeHtml(part.href)}">${escapeHtml(part.text)}</a>`,
    )
    .join('');
}

function htmlField(term: string, value: Parameters<typeof htmlInline>[0]): string {
  return `<dt>${escapeHtml(term)}</dt><dd>${htmlInline(value)}</dd>`;
}

/** Stylesheet of the HTML policy: readable on screen, clean on paper, no external resources. */
const CSS =
  `
:root { color-scheme: light; --ink: #1b1f24; --muted: #4a5361; --line: #c9ced6; --band: #f3f5f8; ` +
  `--accent: #0b57a4; --warn: #8a4b00; }
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; ` +
  `color: var(--ink); background: #fff; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; outline: 3px solid var(--accent); }
main { max-width: 62rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 1rem; }
h2 { font-size: 1.4rem; margin: 2.5rem 0 .75rem; padding-bottom: .25rem; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
a { color: var(--accent); }
a:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
nav ol, nav ul { columns: 2; padding-left: 1.25rem; }
nav ul { list-style: none; padding-left: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .5rem 0 1rem; }
dt { font-weight: 600; color: var(--muted); }
dd { margin: 0; }
.notice { border-left: 4px solid var(--warn); background: #fff6e5; padding: .6rem .9rem; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0 1.5rem; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0 .5rem; }
th, td { border: 1px solid var(--line); padding: .4rem .55rem; text-align: left; vertical-align: top; }
thead th { background: var(--band); }
tbody th { font-weight: 600; white-space: nowrap; }
tr:target, h3:target { background: #fff8c5; }
@media print {
  @page { margin: 1.8cm; }
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav, .skip { display: none; }
  h2, h3 { break-after: avoid; }
  tr, dl, .notice { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  a[href^="mailto:"]::after, a[href^="https:"]::after, a[href^="tel:"]::after { content: " (" attr(href) ")"; }
}
`;

/** A heading whose text starts with its own section number, e.g. '1. Scope' or '2.3 Keys'. */
const NUMBERED_HEADING = /^\d+(\.\d+)*\.?\s/;

/** Writes a self-contained HTML page: inline CSS under a hash-pinned CSP, no scripts, no external resources. */
export function toHtml(doc: DocumentModel): string {
  const body: string[] = [];
  const toc = doc.blocks.filter((b): b is Extract<Block, { kind: 'heading' }> => b.kind === 'heading' && b.level === 2);
  for (const block of doc.blocks) {
    switch (block.kind) {
      case 'heading':
        if (block.level === 1) {
          body.push(`<h1 id="${escapeHtml(block.id)}">${escapeHtml(block.text)}</h1>`);
          if (toc.length > 0) {
            // Headings that carry their own numbers ("1. Scope") in a numbered list would show each twice ("1. 1.").
            const list = toc.every((h) => NUMBERED_HEADING.test(h.text)) ? 'ul' : 'ol';
            body.push(`<nav aria-label="Contents"><h2 class="toc">Contents</h2><${list}>`);
            for (const h of toc) body.push(`<li><a href="#${escapeHtml(h.id)}">${escapeHtml(h.text)}</a></li>`);
            body.push(`</${list}></nav>`);
          }
        } else {
          body.push(`<h${block.level} id="${escapeHtml(block.id)}">${escapeHtml(block.text)}</h${block.level}>`);
        }
        break;
      case 'paragraph':
        body.push(`<p>${htmlInline(block.content)}</p>`);
        break;
      case 'notice':
        body.push(`<p class="notice" role="note"><strong>Note:</strong> ${htmlInline(block.content)}</p>`);
        break;
      case 'list':
        body.push(`<ul>${block.items.map((item) => `<li>${htmlInline(item)}</li>`).join('')}</ul>`);
        break;
      case 'fields':
        body.push(`<dl>${block.items.map(([term, value]) => htmlField(term, value)).join('')}</dl>`);
        break;
      case 'table': {
        const head = block.headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
        const rows = block.rows
          .map((r) => {
            const id = r.id === undefined ? '' : ` id="${escapeHtml(r.id)}"`;
            const cells = r.cells
              .map((c, i) => (i === 0 ? `<th scope="row">${htmlInline(c)}</th>` : `<td>${htmlInline(c)}</td>`))
              .join('');
            return `<tr${id}>${cells}</tr>`;
          })
          .join('\n');
        body.push(
          `<table><caption>${escapeHtml(block.caption)}</caption><thead><tr>${head}</tr></thead>` +
            `<tbody>\n${rows}\n</tbody></table>`,
        );
        break;
      }
    }
  }
  // The CSP pins the one stylesheet by hash, so even injected markup could not load or run anything.
  const styleHash = createHash('sha256').update(CSS, 'utf8').digest('base64');
  const csp =
    `default-src 'none'; style-src 'sha256-${styleHash}'; ` + "img-src 'none'; base-uri 'none'; form-action 'none'";
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<a class="skip" href="#main">Skip to content</a>',
    '<main id="main">',
    ...body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
