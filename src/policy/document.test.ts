import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { escapeHtml, escapeMarkdown, toHtml, toMarkdown } from './document.ts';
import type { DocumentModel } from './document.ts';

const doc: DocumentModel = {
  title: 'T <b>&</b>',
  blocks: [
    { kind: 'heading', level: 1, text: 'Head <i>', id: 'top' },
    { kind: 'heading', level: 2, text: 'Part "one"', id: 'one' },
    {
      kind: 'paragraph',
      content: [
        'a *b* _c_ [d](e) <script>x</script> | f',
        { text: 'mail', href: 'mailto:a@b.example' },
        { text: 'anchor', href: '#one' },
      ],
    },
    { kind: 'table', caption: 'Cap', headers: ['A', 'B'], rows: [{ id: 'r1', cells: [['x|y'], ['z\nw']] }] },
  ],
};

test('HTML escaping covers the five significant characters', () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
  );
});

test('Markdown escaping neutralises emphasis, links, HTML and table pipes', () => {
  assert.equal(escapeMarkdown('*b* _c_ [d](e) <x> | # a -> b'), '\\*b\\* \\_c\\_ \\[d\\](e) \\<x> \\| \\# a -> b');
  assert.equal(escapeMarkdown('> quoted'), '\\> quoted');
  const md = toMarkdown(doc);
  assert.ok(md.includes('x\\|y'), md);
  assert.ok(md.includes('z w'), 'newline inside a cell must not break the table');
  assert.ok(!/(^|[^\\])<script>/.test(md), 'a tag must be escaped');
  assert.ok(md.includes('[mail](<mailto:a@b.example>)'));
  assert.ok(md.includes('anchor') && !md.includes('(#one)'), 'in-document anchors stay plain text in Markdown');
});

test('HTML is self-contained: no scripts, no external resources, style pinned by CSP hash', () => {
  const html = toHtml(doc);
  assert.ok(!/<script/i.test(html));
  assert.ok(!/\s(src|srcset)=/i.test(html));
  assert.ok(!/<link\b/i.test(html));
  assert.ok(!/url\(/i.test(html));
  assert.ok(html.includes('&lt;script&gt;x&lt;/script&gt;'));
  assert.ok(html.includes('<title>T &lt;b&gt;&amp;&lt;/b&gt;</title>'));
  const style = html.match(/<style>([\s\S]*?)<\/style>/)?.[1] ?? '';
  const hash = createHash('sha256').update(style, 'utf8').digest('base64');
  assert.ok(html.includes(`style-src &#39;sha256-${hash}&#39;`), 'CSP must pin the exact stylesheet');
  assert.ok(html.includes('<html lang="en">'));
  assert.ok(html.includes('<th scope="col">A</th>') && html.includes('<th scope="row">x|y</th>'));
  assert.ok(html.includes('<tr id="r1">'));
  assert.ok(html.includes('<a href="#one">Part &quot;one&quot;</a>'), 'table of contents links the sections');
});

test('contents of numbered headings are not numbered again; unnumbered headings get an ordered list', () => {
  const numbered = toHtml({
    title: 'N',
    blocks: [
      { kind: 'heading', level: 1, text: 'N', id: 'top' },
      { kind: 'heading', level: 2, text: '1. Scope', id: 'scope' },
      { kind: 'heading', level: 2, text: '10. Assets', id: 'assets' },
    ],
  });
  assert.ok(numbered.includes('<ul>\n<li><a href="#scope">1. Scope</a></li>'), 'each number shown once');
  assert.ok(!/<nav[^]*<ol>/.test(numbered), 'no list numbers before "1. Scope"');
  const plain = toHtml(doc);
  assert.ok(plain.includes('<ol>\n<li><a href="#one">'), 'headings without numbers are numbered by the list');
});
