// Renders the security policy of every demo model in both formats and checks the documents
// are complete, consistent and self-contained.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EXAMPLE_MODELS,
  loadExampleProfile,
  decide,
  renderPolicy,
  etsiCoverageFor,
  ETSI_PROVISIONS,
} from '../../src/policy/index.ts';

for (const model of EXAMPLE_MODELS) {
  test(`renders the ${model} policy as Markdown and HTML`, async () => {
    const profile = await loadExampleProfile(model);
    const decision = decide(profile);
    const md = renderPolicy(profile, decision, { format: 'md' });
    const html = renderPolicy(profile, decision, { format: 'html' });

    assert.ok(md.startsWith(`# Security policy: ${profile.model}\n`));
    assert.ok(md.includes(`risk tier ${decision.tier}`));
    assert.ok(md.includes(profile.supportPeriodEnd));
    for (const { control } of decision.required) {
      assert.ok(md.includes(`### ${control.id}: `), `${model}: ${control.id} missing from Markdown`);
      assert.ok(html.includes(`id="control-${control.id.toLowerCase()}"`), `${model}: ${control.id} missing from HTML`);
    }
    for (const p of ETSI_PROVISIONS) {
      assert.ok(md.includes(`| ${p.id} | ${p.status} |`), `${model}: provision ${p.id} missing from coverage table`);
      assert.ok(
        html.includes(`<tr id="etsi-${p.id.replace(/[^0-9a-z]+/gi, '-').toLowerCase()}">`),
        `${model}: ${p.id} row`,
      );
    }
    // No mandatory unconditional provision may end up unmet for a shipped model.
    for (const row of etsiCoverageFor(decision)) {
      if (row.provision.status === 'M')
        assert.notEqual(row.verdict.kind, 'not-applicable', `${model}: ${row.provision.id}`);
    }

    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(
      !/<script|<iframe|<object|<embed|<link\b|\ssrc=|url\(|@import/i.test(html),
      `${model}: HTML is not self-contained`,
    );
    assert.ok(!/href="(?!#|mailto:|https:|tel:)/.test(html), `${model}: unexpected link scheme`);
    // Every in-document link points at an element that exists.
    const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    for (const m of html.matchAll(/href="#([^"]+)"/g)) assert.ok(ids.has(m[1]), `${model}: dangling link #${m[1]}`);
    assert.equal(html.match(/<h1[\s>]/g)?.length, 1, 'one h1');
  });
}

/** A section number repeated before the same heading, e.g. "1. 1. Scope". */
const DOUBLED = /^\d+(?:\.\d+)*\.?\s+\d+(?:\.\d+)*\.?\s/;

/** Headings and table-of-contents entries as a reader sees them: an <ol> adds its own numbers. */
function seenHeadings(html: string): { headings: string[]; toc: string[] } {
  const headings = [...html.matchAll(/<h([23])[^>]*>([^<]*)<\/h\1>/g)].map((m) => m[2]!);
  const nav = /<nav[^>]*>[\s\S]*?<(ol|ul)>([\s\S]*?)<\/\1><\/nav>/.exec(html);
  const items = [...(nav?.[2] ?? '').matchAll(/<li><a [^>]*>([^<]*)<\/a><\/li>/g)].map((m) => m[1]!);
  return { headings, toc: nav?.[1] === 'ol' ? items.map((t, i) => `${i + 1}. ${t}`) : items };
}

for (const model of EXAMPLE_MODELS) {
  test(`no heading or contents entry of the ${model} policy carries a doubled number`, async () => {
    const profile = await loadExampleProfile(model);
    const decision = decide(profile);
    const { headings, toc } = seenHeadings(renderPolicy(profile, decision, { format: 'html' }));
    assert.ok(toc.length >= 10, `${model}: the contents list every section`);
    for (const entry of toc) {
      assert.doesNotMatch(entry, DOUBLED, `${model}: contents entry "${entry}"`);
      assert.ok(headings.includes(entry), `${model}: "${entry}" is shown as its heading is`);
    }
    for (const h of headings) assert.doesNotMatch(h, DOUBLED, `${model}: heading "${h}"`);
    const md = renderPolicy(profile, decision, { format: 'md' });
    for (const line of md.split('\n').filter((l) => l.startsWith('#')))
      assert.doesNotMatch(line.replace(/^#+ /, ''), DOUBLED, `${model}: Markdown heading "${line}"`);
  });
}

/** The part of the tier section about this product: before the decision tree's reasons and the scale. */
async function ownTierWords(model: 'plug' | 'camera', change: object = {}): Promise<string> {
  const profile = { ...(await loadExampleProfile(model)), ...change };
  const md = renderPolicy(profile, decide(profile), { format: 'md' });
  const at = md.indexOf('## 2. Risk tier and why');
  return md.slice(at, md.indexOf('How the decision was reached', at));
}

test("the plug's tier is told in its own facts: not reachable from the internet, only out to its cloud", async () => {
  const own = await ownTierWords('plug');
  assert.match(own, /Smart Plug is in risk tier 2 \(elevated\) because:/);
  assert.match(own, /meters the power an appliance draws, which reveals when people are home \(tier 2\)/);
  assert.match(own, /switches mains power to an appliance/);
  assert.match(own, /keeps personal data about its household/);
  assert.match(own, /It joins the network over Wi-Fi\./);
  assert.match(own, /It is not reachable from the internet: it only connects out, to the manufacturer's cloud service/);
  assert.match(own, /Its admin page answers on the local network only/);
  assert.doesNotMatch(own, /\bis reachable from the internet|meant to be reachable|camera|hub/);
  const profile = await loadExampleProfile('plug');
  const md = renderPolicy(profile, decide(profile), { format: 'md' });
  assert.ok(md.includes("- **Reachable from the internet:** no: it only connects out, to the manufacturer's cloud"));
});

test("the camera's tier is told in its own facts: it sees and hears, pairs with a hub, is not exposed", async () => {
  const own = await ownTierWords('camera');
  assert.match(own, /Indoor Camera is in risk tier 3 \(high\) because:/);
  assert.match(own, /it has a camera, so it can see people \(tier 3\)/);
  assert.match(own, /It is not reachable from the internet: it only connects out/);
  assert.match(own, /A local automation hub reaches it on the local network once paired\./);
  assert.doesNotMatch(own, /\bis reachable from the internet|meter|mains power/);
  const exposed = await ownTierWords('camera', { internetExposed: true });
  assert.match(exposed, /its own service is meant to be reachable from the internet \(tier 2\)/);
  assert.match(exposed, /anyone online can try to connect to it/);
  assert.doesNotMatch(exposed, /not reachable/);
});
