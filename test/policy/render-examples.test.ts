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
