/**
 * The self-contained HTML audit report: inline CSS, an inline SVG summary chart, no scripts and
 * no external resources, so it can be archived with a release and opened anywhere. Every
 * control links to the standard provisions it meets and to its checks' evidence; every
 * provision links back to its controls. Verdicts are spelled out, never shown by colour alone. What
 * rests on the maker's own statement ("declared") has its own colour, label, count and section,
 * apart from what the auditor tested.
 */
import type { En18031Result, En18031Step, FrameworkKey } from '../policy/index.ts';
import type {
  AuditReport,
  CheckResult,
  ControlResult,
  ControlStatus,
  FrameworkProvisionResult,
  FrameworkResult,
  ProvisionResult,
  ProvisionStatus,
} from './types.ts';

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The fragment id of a control, a check or a provision. */
export function reportAnchor(kind: 'control' | 'check' | 'etsi' | 'psti' | FrameworkKey, id: string): string {
  return `${kind}-${id.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}

const LABEL: Readonly<Record<ControlStatus | ProvisionStatus, string>> = {
  pass: 'pass',
  fail: 'fail',
  'not-tested': 'not tested',
  declared: 'declared by the maker',
  'not-applicable': 'not applicable',
  'out-of-scope': 'out of scope',
};

function badge(status: ControlStatus | ProvisionStatus): string {
  return `<span class="badge ${status}">${LABEL[status]}</span>`;
}

const CSS =
  '\n' +
  ':root{--pass:#1b7a3a;--fail:#b3261e;--nt:#8a5a00;--dec:#1f5fa8;--na:#5f6368;--oos:#5f6368;--line:#d0d4d9;' +
  '--bg:#f6f7f9}\n' +
  '*{box-sizing:border-box}' +
  'body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c1e21;margin:0;background:#fff}\n' +
  'main{max-width:1100px;margin:0 auto;padding:24px}h1{font-size:1.7em;margin:.2em 0}' +
  'h2{margin-top:2em;border-bottom:2px solid var(--line);padding-bottom:.2em}\n' +
  'table{border-collapse:collapse;width:100%;margin:.5em 0}' +
  'th,td{border:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}' +
  'th{background:var(--bg)}\n' +
  '.badge{display:inline-block;padding:1px 8px;border-radius:10px;' +
  'font-size:.85em;font-weight:600;color:#fff;white-space:nowrap}\n' +
  '.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}' +
  '.badge.not-tested{background:var(--nt)}.badge.declared{background:var(--dec)}' +
  '.badge.not-applicable,.badge.out-of-scope{background:var(--na)}\n' +
  '.declared-note{border-left:6px solid var(--dec);background:#e8f0fa;padding:8px 12px}\n' +
  '.verdict{padding:12px 16px;border-radius:6px;' +
  'font-size:1.15em;font-weight:600;margin:1em 0;border-left:8px solid}\n' +
  '.verdict.passed{background:#e6f4ea;border-color:var(--pass)}' +
  '.verdict.failed{background:#fce8e6;border-color:var(--fail)}' +
  '.verdict.incomplete{background:#fef7e0;border-color:var(--nt)}\n' +
  '.muted{color:#5f6368}.small{font-size:.9em}' +
  'code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}\n' +
  '.finding td{background:#fce8e6}details{margin:.3em 0}summary{cursor:pointer}\n' +
  '.provs a{display:inline-block;margin:0 4px 2px 0}nav a{margin-right:12px}\n' +
  'tr.required-fail td:first-child{border-left:4px solid var(--fail)}' +
  'tr.required-not-tested td:first-child{border-left:4px solid var(--nt)}' +
  'tr.required-pass td:first-child{border-left:4px solid var(--pass)}' +
  'tr.required-declared td:first-child{border-left:4px solid var(--dec)}\n' +
  'ol.path{margin:0;padding-left:1.2em}ol.path li{margin:0 0 2px}.ev{color:#5f6368;font-size:.88em}' +
  '.answer{font-weight:600}\n' +
  '@media print{details{display:block}summary{display:none}}\n';

const COLOUR: Readonly<Record<ControlStatus | ProvisionStatus, string>> = {
  pass: 'var(--pass)',
  fail: 'var(--fail)',
  'not-tested': 'var(--nt)',
  declared: 'var(--dec)',
  'not-applicable': 'var(--na)',
  'out-of-scope': 'var(--na)',
};

/** A report written before the 'declared' verdict has no count of it: none were declared. */
function declaredCount(s: AuditReport['summary']): number {
  return typeof s.declared === 'number' ? s.declared : 0;
}

function chart(report: AuditReport): string {
  const s = report.summary;
  const declared = declaredCount(s);
  const segments: Array<[string, number, string]> = [
    ['pass', s.pass, COLOUR.pass],
    ['fail', s.fail, COLOUR.fail],
    ['not tested', s.notTested, COLOUR['not-tested']],
    ['declared', declared, COLOUR.declared],
    ['not applicable', s.notApplicable, COLOUR['not-applicable']],
  ];
  const etsi = (['pass', 'fail', 'not-tested', 'declared', 'not-applicable', 'out-of-scope'] as const).map(
    (v) => [LABEL[v], report.etsi.filter((p) => p.verdict === v).length, COLOUR[v]] as [string, number, string],
  );
  const bar = (y: number, title: string, parts: Array<[string, number, string]>): string => {
    const total = parts.reduce((n, p) => n + p[1], 0) || 1;
    let x = 200;
    const width = 560;
    const rects = parts
      .filter((p) => p[1] > 0)
      .map(([label, n, colour]) => {
        const w = (n / total) * width;
        const r =
          `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="28" ` +
          `fill="${colour}"><title>${esc(`${title}: ${n} ${label}`)}</title></rect>` +
          (w > 24
            ? `<text x="${(x + w / 2).toFixed(1)}" y="${y + 19}" text-anchor="middle" fill="#fff" font-size="13" ` +
              `font-weight="600">${n}</text>`
            : '');
        x += w;
        return r;
      })
      .join('');
    return `<text x="0" y="${y + 19}" font-size="14">${esc(title)}</text>${rects}`;
  };
  const legend = segments
    .map(
      ([label, n, colour], i) =>
        `<rect x="${200 + i * 124}" y="96" width="14" height="14" fill="${colour}"/><text x="${218 + i * 124}" ` +
        `y="108" font-size="13">${esc(label)} (${n})</text>`,
    )
    .join('');
  const etsiLegend =
    `<text x="200" y="134" font-size="12" fill="#5f6368">EN 303 645 provisions: ` +
    `${esc(etsi.map(([l, n]) => `${n} ${l}`).join(', '))}</text>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 860 145" width="100%" role="img" \
aria-labelledby="chart-title chart-desc">
<title id="chart-title">Summary of the audit</title>
<desc id="chart-desc">Required controls: ${s.pass} pass, ${s.fail} fail, ${s.notTested} not tested, ` +
    `${declared} declared by the maker (not tested); ` +
    `${s.notApplicable} controls not applicable. ETSI EN 303 645 provisions: ${etsi
      .map(([l, n]) => `${n} ` + `${l}`)
      .join(', ')}.</desc>
${bar(10, `Controls (${report.controls.length})`, segments)}${bar(
      50,
      `EN 303 645 ` + `(${report.etsi.length})`,
      etsi,
    )}${legend}${etsiLegend}
</svg>`
  );
}

function provisionLinks(c: ControlResult): string {
  const etsi = c.provisions.etsi.map(
    (id) => `<a href="#${reportAnchor('etsi', id)}" data-provision="${esc(id)}">EN ${esc(id)}</a>`,
  );
  const psti = (c.provisions.psti ?? []).map(
    (id) => `<a href="#${reportAnchor('psti', id)}" data-provision="${esc(id)}">${esc(id)}</a>`,
  );
  const other = [
    ...(c.provisions.isvs ?? []).map((id) => `ISVS ${id}`),
    ...(c.provisions.cra ?? []).map((id) => `CRA ${id}`),
  ].map((t) => `<span class="muted small">${esc(t)}</span>`);
  const all = [...etsi, ...psti, ...other];
  return all.length === 0 ? '<span class="muted">none</span>' : all.join(' ');
}

function controlRow(c: ControlResult): string {
  const checks = c.checks.map((id) => `<a href="#${reportAnchor('check', id)}"><code>${esc(id)}</code></a>`).join(', ');
  return (
    `<tr id="${reportAnchor('control', c.id)}" data-control="${esc(c.id)}" data-status="${c.status}" ` +
    `class="${c.required ? `required-${c.status}` : 'optional'}">
<td><strong>${esc(c.id)}</strong><br>${esc(c.title)}</td><td>${badge(c.status)}</td>
<td>${esc(c.summary)}<div class="small muted">${
      c.required ? 'Required: ' : 'Not required: ' + ''
    }${esc(c.because.join('; '))}</div><div class="small">Checks: ${checks}</div></td>
<td class="provs">${provisionLinks(c)}</td></tr>`
  );
}

function checkBlock(r: CheckResult, controls: readonly ControlResult[]): string {
  const users = controls
    .filter((c) => c.checks.includes(r.id))
    .map((c) => `<a href="#${reportAnchor('control', c.id)}">${esc(c.id)}</a>`)
    .join(', ');
  const rows = r.evidence
    .map(
      (e) =>
        `<tr${e.finding ? ' class="finding"' : ''}><td>${esc(e.sent)}</td><td>${esc(e.received)}${
          e.finding ? ' ' + '<strong>(finding)</strong>' : ''
        }</td></tr>`,
    )
    .join('');
  const status = r.status === 'not-applicable' ? 'not-applicable' : r.status;
  return (
    `<section id="${reportAnchor('check', r.id)}" data-check="${esc(r.id)}"><h3><code>${esc(r.id)}</code> ` +
    `${badge(status)} <span class="muted small">${r.kind}, ${r.durationMs} ms</span></h3>
<p>${esc(r.summary)}</p><p class="small muted">Used by ${users || 'no control'}.</p>
${
  r.evidence.length
    ? `<details${r.status === 'fail' ? ' open' : ''}><summary>Evidence ` +
      (`(${r.evidence.length})</summary><table><thead><tr><th>Sent or read</th><th>Came back or ` +
        `found</th></tr></thead><tbody>${rows}</tbody></table></details>`)
    : '<p class="small muted">No evidence gathered.</p>'
}</section>`
  );
}

function provisionRow(kind: 'etsi' | 'psti', p: ProvisionResult): string {
  const controls = p.controls
    .map((id) => `<a href="#${reportAnchor('control', id)}" data-control-link="${esc(id)}">${esc(id)}</a>`)
    .join(', ');
  return (
    `<tr id="${reportAnchor(kind, p.id)}" ` +
    `data-provision-row="${esc(p.id)}"><td><strong>${esc(p.id)}</strong></td>` +
    `<td>${esc(p.status)}</td><td>${esc(p.text)}</td>` +
    `<td>${badge(p.verdict)}</td>` +
    `<td>${controls || '<span class="muted">none</span>'}` +
    `${p.note ? `<div class="small muted">${esc(p.note)}</div>` : ''}</td></tr>`
  );
}

/** The verdict banner's class and sentence. */
function verdictOf(s: AuditReport['summary']): { verdictClass: string; verdictText: string } {
  const verdictClass = s.exitCode === 0 ? 'passed' : s.fail > 0 ? 'failed' : 'incomplete';
  const declared = declaredCount(s);
  const verdictText =
    s.exitCode === 0
      ? declared === 0
        ? 'PASSED: every required control passed.'
        : `PASSED: every required control the auditor could test passed; ${declared} more rest${
            declared === 1 ? 's' : ''
          } on the maker's own declaration, shown apart below, not on a test.`
      : s.fail > 0
        ? `FAILED: ${s.fail} required control${s.fail === 1 ? '' : 's'} failed${
            s.notTested ? `, ${s.notTested} not tested` : ''
          }.`
        : `INCOMPLETE: no required control failed, but ${s.notTested} could not be tested, so the product cannot be ` +
          `shown to meet its policy.`;
  return { verdictClass, verdictText };
}

const TARGET_KIND_TEXT: Readonly<Record<AuditReport['scope']['targetKind'], string>> = {
  bulwark: 'a Bulwark admin service',
  other: 'a device not built with Bulwark',
  unreachable: 'nothing (unreachable)',
  none: 'not probed',
};

/** The rows of the scope table: what was audited and with which inputs. */
function scopeRows(report: AuditReport): Array<[string, string]> {
  const sc = report.scope;
  const rows: Array<[string, string]> = [
    ['Product', report.profile.model],
    ['Maker', report.profile.maker ?? 'not stated'],
    ['Security contact', report.profile.securityContact ?? 'not stated'],
    ['Security updates until', report.profile.supportPeriodEnd],
    ['Risk tier', String(report.tier)],
    ['Devices probed', sc.urls.length ? sc.urls.join(', ') : 'none (no --url)'],
    ['What answered', TARGET_KIND_TEXT[sc.targetKind]],
    ['Login', sc.login],
    ['Bundle', sc.bundle ?? 'not given'],
    ['State', sc.state ?? 'not given'],
    ['Manifest', sc.manifest ?? 'not given'],
    ['Source', sc.source ?? 'not given'],
    ['Hub port', sc.hub ?? 'not given'],
    ['Cloud', sc.cloud ?? 'not given'],
    ['Update repository', sc.updateRepo ?? 'not given'],
    ['Service unit', sc.serviceUnit ?? 'the one the firmware writes'],
    [
      'Firmware',
      sc.firmware
        ? `${sc.firmware.model} ${sc.firmware.version} (security version ${sc.firmware.securityVersion}, ` +
          `${sc.firmware.slot === 'factory' ? 'factory image' : `slot ${sc.firmware.slot}`})`
        : 'not known (no --state)',
    ],
  ];
  if (sc.sourceAddresses)
    rows.push([
      'Probe source addresses',
      Object.entries(sc.sourceAddresses)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ]);
  return rows;
}

/** The document head, title, navigation and verdict banner. */
function reportHeader(report: AuditReport): string {
  const s = report.summary;
  const { verdictClass, verdictText } = verdictOf(s);
  return (
    `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Security audit: ${esc(report.profile.model)}</title><style>${CSS}</style></head>
<body><main>
<h1>Security audit: ${esc(report.profile.model)}</h1>
<p class="muted">Generated ${esc(report.generatedAt)} by ${esc(report.tool.name)} ${esc(report.tool.version)} in ` +
    `${(report.durationMs / 1000).toFixed(1)} s. Report format ${esc(report.format)}.</p>
<nav><a href="#summary">Summary</a><a href="#controls">Controls</a>` +
    `<a href="#declared">Declared by the maker</a><a href="#checks">Checks and evidence</a>` +
    `<a href="#etsi">EN 303 645</a><a href="#psti">UK PSTI</a><a href="#frameworks">Other frameworks</a>` +
    `<a href="#en18031">EN 18031</a></nav>
<div class="verdict ${verdictClass}" id="verdict" data-exit-code="${s.exitCode}">${esc(verdictText)} ` +
    `<span class="small">(exit code ${s.exitCode})</span></div>
`
  );
}

/** The summary section: the chart, the counts, the scope table and the decision tree's reasons. */
function summarySection(report: AuditReport, requiredCount: number): string {
  const s = report.summary;
  const na = s.notApplicable;
  const declared = declaredCount(s);
  const rows = scopeRows(report)
    .map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join('');
  const reasons = report.reasons.map((r) => `<li>${esc(r)}</li>`).join('');
  return (
    `<h2 id="summary">Summary</h2>
${chart(report)}
<p id="summary-counts">Of ${requiredCount} required controls: ${s.pass} pass, ${s.fail} fail, ` +
    `${s.notTested} not tested, ${declared} declared by the maker. ` +
    `${na} ${na === 1 ? 'control' : 'controls'} of the catalogue ${na === 1 ? 'is' : 'are'} not applicable to ` +
    `this profile. A required control passes only when every one of its checks passed; what the auditor could not ` +
    `check is "not tested", never "pass"; what rests on the maker's own statement (its published policy, its ` +
    `commitments) is "declared", counted apart and never as a pass.</p>
<table><tbody>${rows}</tbody></table>
<details><summary>Why these controls (decision tree)</summary><ul>${reasons}</ul></details>
`
  );
}

/** The two provision-by-provision tables, EN 303 645 and UK PSTI. */
function provisionTables(report: AuditReport): string {
  return (
    `<h2 id="etsi">ETSI EN 303 645 V2.1.1, provision by provision</h2>
<table><thead><tr><th>Provision</th><th>Status</th><th>What it asks (paraphrase)</th>` +
    `<th>Verdict</th><th>Controls</th></tr></thead><tbody>
${report.etsi.map((p) => provisionRow('etsi', p)).join('\n')}</tbody></table>
<h2 id="psti">UK PSTI security requirements</h2>
<table><thead><tr><th>Requirement</th><th>Status</th><th>What it asks</th>` +
    `<th>Verdict</th><th>Controls</th></tr></thead><tbody>
${report.psti.map((p) => provisionRow('psti', p)).join('\n')}</tbody></table>
${frameworkSections(report)}`
  );
}

/** One section per framework beside ETSI and PSTI: its provisions, verdicts and controls. */
function frameworkSections(report: AuditReport): string {
  const sections = (Object.entries(report.frameworks) as [FrameworkKey, FrameworkResult][]).map(
    ([key, f]) =>
      `<section id="framework-${key}" data-framework="${key}"><h3>${esc(f.title)}</h3>` +
      `<p class="small muted">${esc(f.source)}</p>` +
      `<table><thead><tr><th>Provision</th><th>Name</th><th>What it asks (paraphrase)</th>` +
      `<th>Verdict</th><th>Controls</th></tr></thead><tbody>\n` +
      `${f.provisions.map((p) => frameworkRow(key, p)).join('\n')}</tbody></table></section>`,
  );
  return `<h2 id="frameworks">Results by framework</h2>\n${sections.join('\n')}\n`;
}

function frameworkRow(key: FrameworkKey, p: FrameworkProvisionResult): string {
  const controls = p.controls
    .map((id) => `<a href="#${reportAnchor('control', id)}" data-control-link="${esc(id)}">${esc(id)}</a>`)
    .join(', ');
  return (
    `<tr id="${reportAnchor(key, p.id)}" data-provision-row="${esc(p.id)}" data-verdict="${p.verdict}">` +
    `<td><strong>${esc(p.id)}</strong></td><td>${esc(p.name)}</td><td>${esc(p.text)}</td>` +
    `<td>${badge(p.verdict)}</td><td>${controls || '<span class="muted">none</span>'}` +
    `${p.note ? `<div class="small muted">${esc(p.note)}</div>` : ''}</td></tr>`
  );
}

function controlTable(rows: readonly ControlResult[]): string {
  return (
    `<table><thead><tr><th>Control</th><th>Verdict</th><th>Why</th><th>Provisions</th></tr></thead>` +
    `<tbody>${rows.map(controlRow).join('\n')}</tbody></table>`
  );
}

function pathStep(s: En18031Step): string {
  const ev = s.evidence.map((e) => `${e.name} = ${e.value}${e.source ? ` (${e.source})` : ''}`).join('; ');
  const then = /^DN-\d+$/.test(s.then)
    ? `<code>${esc(s.then)}</code>`
    : `<strong>${esc(s.then.replace('-', ' ').toUpperCase())}</strong>`;
  return (
    `<li data-node="${esc(s.node)}"><code>${esc(s.node)}</code> ${esc(s.question)} ` +
    `<span class="ev">[${esc(ev)}]</span>` +
    ` &rarr; <span class="answer">${esc(s.answer)}</span> &rarr; ${then}</li>`
  );
}

function en18031Row(r: En18031Result): string {
  return (
    `<tr data-en18031="${esc(r.id)}" data-part="${r.part}" data-outcome="${r.outcome}">` +
    `<td><strong>${esc(r.id)}</strong><br>${esc(r.title)}</td><td>${badge(r.outcome)}</td>` +
    `<td><ol class="path">${r.path.map(pathStep).join('')}</ol></td></tr>`
  );
}

const APPLIES: Readonly<Record<string, string>> = { true: 'applies', false: 'does not apply' };

/** The EN 18031 section: which parts apply, then per part each requirement's decision path and outcome. */
function en18031Section(report: AuditReport): string {
  const e = report.en18031;
  const parts = e.parts
    .map(
      (p) =>
        `<li>EN 18031-${p.part}: ${APPLIES[String(p.applies)] ?? 'not known'}` +
        ` (${esc(p.because.question)} ${esc(p.because.answer)}: ${esc(
          p.because.evidence.map((v) => `${v.name} = ${v.value}${v.source ? `, ${v.source}` : ''}`).join('; '),
        )})</li>`,
    )
    .join('');
  const tables = e.parts
    .map((p) => {
      const rows = e.requirements.filter((r) => r.part === p.part);
      return (
        `<h3 id="en18031-${p.part}">EN 18031-${p.part} (${rows.length} requirements)</h3>` +
        `<table><thead><tr><th>Requirement</th><th>Outcome</th><th>Path taken (node &rarr; answer &rarr; next)</th>` +
        `</tr></thead><tbody>${rows.map(en18031Row).join('\n')}</tbody></table>`
      );
    })
    .join('\n');
  return (
    `<h2 id="en18031">EN 18031-1, -2 and -3, requirement by requirement</h2>
<p>Each requirement is walked through its decision tree: each node is answered from the checks above and from facts ` +
    `of the profile and the unit's model (${esc(e.model)}); evidence not gathered ends the walk as "not tested". ` +
    `${e.summary.pass} pass, ${e.summary.fail} fail, ${e.summary.notApplicable} not applicable, ` +
    `${e.summary.notTested} not tested. Titles and questions paraphrase the standards, whose text is not public.</p>
<ul>${parts}</ul>
${tables}
`
  );
}

/** The required controls that rest on the maker's declaration, in a section of their own. */
function declaredSection(declared: readonly ControlResult[]): string {
  const table = declared.length
    ? controlTable(declared)
    : '<p class="small muted">None: every required control was tested.</p>';
  return (
    `<h2 id="declared">Declared by the maker, not tested (${declared.length})</h2>
<p class="declared-note">These controls rest, wholly or in part, on what the maker states: the support period it ` +
    `promises, how it answers vulnerability reports, what its policy tells owners. The auditor checked that each ` +
    `statement is published and sound, but cannot test that the maker keeps it; they are not failures, and not ` +
    `passes.</p>
${table}
`
  );
}

/** Renders the report as one self-contained HTML document. */
export function renderAuditHtml(report: AuditReport): string {
  const required = report.controls.filter((c) => c.required);
  const tested = required.filter((c) => c.status !== 'declared');
  const optional = report.controls.filter((c) => !c.required);
  const count = tested.length === required.length ? `${required.length}` : `${tested.length} of ${required.length}`;
  return (
    reportHeader(report) +
    summarySection(report, required.length) +
    `<h2 id="controls">Required controls judged by test (${count})</h2>
${controlTable(tested)}
${declaredSection(required.filter((c) => c.status === 'declared'))}` +
    `<h2 id="not-applicable">Controls not applicable (${optional.length})</h2>
${controlTable(optional)}
<h2 id="checks">Checks and evidence (${report.checks.length})</h2>
${report.checks.map((r) => checkBlock(r, report.controls)).join('\n')}
` +
    provisionTables(report) +
    en18031Section(report) +
    `</main></body></html>
`
  );
}

/** The report as JSON text (stable key order as built). */
export function renderAuditJson(report: AuditReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}
