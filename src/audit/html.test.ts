import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_IDS, CHECKS, decide, parseProfile } from '../policy/index.ts';
import { getModel } from '../models/index.ts';
import { renderAuditHtml, reportAnchor } from './html.ts';
import {
  evaluateControls,
  evaluateEtsi,
  evaluateFrameworks,
  evaluatePsti,
  countControls,
  exitCodeFor,
} from './evaluate.ts';
import { AUDIT_REPORT_FORMAT, type AuditReport, type CheckResult } from './types.ts';
import { buildEn18031Section } from './en18031.ts';

function report(): AuditReport {
  // A maker's model whose name is markup: the report must show it as text.
  const profile = parseProfile(
    'model: plug-b.model.json\nnetworkModels: [listening]\npersonalData: false\ninternetExposed: false\n',
    () => ({ ...getModel('plug'), id: 'plug-b', name: 'Plug <b>' }),
  );
  const decision = decide(profile);
  const checks: CheckResult[] = CHECK_IDS.map((id, i) => ({
    id,
    kind: CHECKS[id].kind,
    status: i === 0 ? 'fail' : i % 3 === 0 ? 'not-tested' : 'pass',
    summary: `summary of ${id}`,
    evidence: [{ sent: 'GET /<script>alert(1)</script>', received: '200 "quoted" & <b>bold</b>', finding: i === 0 }],
    durationMs: 1,
  }));
  const results = new Map(checks.map((c) => [c.id, c]));
  const controls = evaluateControls(decision, results);
  const counts = countControls(controls);
  return {
    format: AUDIT_REPORT_FORMAT,
    generatedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1200,
    tool: { name: 'bulwark', version: '0.0.0' },
    profile,
    tier: decision.tier,
    reasons: decision.reasons,
    scope: { urls: ['https://127.0.0.1:8443'], targetKind: 'bulwark', login: 'Bulwark login form' },
    checks,
    controls,
    etsi: evaluateEtsi(decision, controls),
    psti: evaluatePsti(controls),
    frameworks: evaluateFrameworks(controls),
    en18031: buildEn18031Section(profile, { model: getModel('plug'), how: 'test' }, results),
    summary: { ...counts, passed: false, exitCode: exitCodeFor(counts) },
  };
}

test('the HTML report is self-contained: no script, no external resource, everything escaped', () => {
  const html = renderAuditHtml(report());
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//i, 'no external resource or link');
  assert.doesNotMatch(html, /<link\b/i);
  assert.match(html, /GET \/&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /Plug &lt;b&gt;/);
  assert.match(html, /<svg[^>]+role="img"/);
});

test('each control links to each of its provisions, and each provision has an anchor', () => {
  const r = report();
  const html = renderAuditHtml(r);
  for (const c of r.controls) {
    const row = html.slice(
      html.indexOf(`data-control="${c.id}"`),
      html.indexOf('</tr>', html.indexOf(`data-control="${c.id}"`)),
    );
    for (const id of c.provisions.etsi) {
      assert.ok(row.includes(`href="#${reportAnchor('etsi', id)}"`), `${c.id} -> ${id}`);
      assert.ok(html.includes(`id="${reportAnchor('etsi', id)}"`), id);
    }
  }
});

test('the verdict banner says failed, incomplete or passed with the exit code', () => {
  const r = report();
  assert.match(renderAuditHtml(r), /FAILED: \d+ required controls? failed.*exit code 1/s);
  const incomplete = { ...r, summary: { ...r.summary, fail: 0, exitCode: 3 } };
  assert.match(renderAuditHtml(incomplete), /INCOMPLETE: no required control failed/);
  const passed = { ...r, summary: { ...r.summary, fail: 0, notTested: 0, exitCode: 0, passed: true } };
  assert.match(renderAuditHtml(passed), /PASSED: every required control passed/);
});

test('the EN 18031 section shows, per part and requirement, the outcome and the path node by node', () => {
  const r = report();
  const html = renderAuditHtml(r);
  assert.match(html, /<a href="#en18031">EN 18031<\/a>/);
  for (const p of [1, 2, 3]) assert.match(html, new RegExp(`id="en18031-${p}"`));
  const row = (id: string, part: number) => {
    const at = html.indexOf(`data-en18031="${id}" data-part="${part}"`);
    return html.slice(at, html.indexOf('</tr>', at));
  };
  const result = r.en18031.requirements.find((q) => q.id === 'AUM-5-1' && q.part === 1)!;
  const aum = row('AUM-5-1', 1);
  assert.ok(aum.includes(`data-outcome="${result.outcome}"`));
  for (const step of result.path) assert.ok(aum.includes(`data-node="${step.node}"`), step.node);
  assert.match(
    aum,
    /<code>DN-1<\/code> Does the admin page use a password\?.*fact web-admin = yes.*&rarr; <code>DN-2<\/code>/s,
  );
  assert.match(row('GEC-8', 3), /Does it handle money or virtual currency\?.*&rarr; <strong>NOT APPLICABLE<\/strong>/s);
  assert.match(
    row('DLM-1', 2),
    /data-outcome="not-applicable"/,
    'the profile keeps no personal data: -2 does not apply',
  );
});

test('the HTML report has one section per framework with each provision and its verdict', () => {
  const r = report();
  const html = renderAuditHtml(r);
  assert.match(html, /<a href="#frameworks">/);
  for (const [key, f] of Object.entries(r.frameworks)) {
    assert.ok(html.includes(`<section id="framework-${key}" data-framework="${key}">`), key);
    for (const p of f.provisions) {
      const row = new RegExp(`<tr id="${reportAnchor(key as 'nist', p.id)}"[^>]*data-verdict="${p.verdict}"`);
      assert.match(html, row, `${key} ${p.id}`);
    }
  }
});

/** The report above with every check that reads only the maker's statements declared, the rest passing. */
function declaredReport(): AuditReport {
  const r = report();
  const checks = r.checks.map((c) => ({ ...c, status: c.id.startsWith('policy.') ? 'declared' : 'pass' }) as const);
  const decision = decide(r.profile);
  const controls = evaluateControls(decision, new Map(checks.map((c) => [c.id, c])));
  const counts = countControls(controls);
  const summary = { ...counts, passed: true, exitCode: exitCodeFor(counts) };
  return { ...r, checks, controls, etsi: evaluateEtsi(decision, controls), psti: evaluatePsti(controls), summary };
}

test('declared controls have their own section, label and colour, apart from the tested, never read as pass', () => {
  const r = declaredReport();
  const html = renderAuditHtml(r);
  const declared = r.controls.filter((c) => c.required && c.status === 'declared');
  assert.ok(declared.length >= 5, 'the policy checks make their controls declared');
  assert.equal(r.summary.exitCode, 0);
  const testedPart = html.slice(html.indexOf('<h2 id="controls">'), html.indexOf('<h2 id="declared">'));
  const declaredPart = html.slice(html.indexOf('<h2 id="declared">'), html.indexOf('<h2 id="not-applicable">'));
  assert.match(declaredPart, new RegExp(`Declared by the maker, not tested \\(${declared.length}\\)`));
  for (const c of declared) {
    assert.ok(declaredPart.includes(`data-control="${c.id}" data-status="declared"`), c.id);
    assert.ok(!testedPart.includes(`data-control="${c.id}"`), `${c.id} is not among the tested controls`);
  }
  assert.match(declaredPart, /<span class="badge declared">declared by the maker<\/span>/);
  assert.doesNotMatch(declaredPart, /badge pass/);
  assert.match(html, /\.badge\.declared\{background:var\(--dec\)\}/);
  const counts = `${r.summary.pass} pass, 0 fail, 0 not tested, ${declared.length} declared by the maker\\.`;
  assert.match(html, new RegExp(`<p id="summary-counts">Of \\d+ required controls: ${counts}`));
  assert.match(
    html,
    new RegExp(`<text [^>]*>declared \\(${declared.length}\\)</text>`),
    'the chart has its own segment',
  );
  assert.match(
    html,
    /PASSED: every required control the auditor could test passed; \d+ more rest on the maker&#39;s own/,
  );
  const check = html.slice(html.indexOf('<section id="check-policy-disclosure"'));
  assert.match(check, /^<section[^>]*><h3><code>policy\.disclosure<\/code> <span class="badge declared">/);
});

test('a report from before the declared verdict (no count in its summary) still renders, with none declared', () => {
  const r = report();
  const { declared: _dropped, ...older } = r.summary;
  const html = renderAuditHtml({ ...r, summary: older as AuditReport['summary'] });
  assert.match(html, /not tested, 0 declared by the maker\./);
  assert.match(html, /Declared by the maker, not tested \(0\)/);
});
