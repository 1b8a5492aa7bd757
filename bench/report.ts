/**
 * Benchmark results and their reports: JSON for machines, self-contained HTML with bar charts
 * (inline SVG) for people. Every figure that has a baseline is shown as a ratio beside it.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../src/storage/index.ts';

/** One measured figure. `baseline` is the same quantity for the peer measured side by side. */
export interface Metric {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Larger is better (rates) or smaller is better (times, memory). */
  readonly better: 'higher' | 'lower';
  readonly baseline?: { readonly name: string; readonly value: number };
  /** A peer that could not be measured this run, and why; shown where its figure would be. */
  readonly unavailable?: { readonly name: string; readonly reason: string };
  /** The goal as a ratio against the baseline (value / baseline), or an absolute bound. */
  readonly goal?: { readonly ratio?: number; readonly max?: number; readonly min?: number };
  readonly note?: string;
}

/** The results of one benchmark. */
export interface BenchResult {
  readonly id: string;
  readonly title: string;
  readonly metrics: Metric[];
}

/** value / baseline.value when there is a baseline. */
export function ratioOf(m: Metric): number | undefined {
  return m.baseline && m.baseline.value > 0 ? m.value / m.baseline.value : undefined;
}

/** Which side is ahead: 'Bulwark', the baseline's name, or 'even' (within 1%); undefined without a baseline. */
export function aheadOf(m: Metric): string | undefined {
  const r = ratioOf(m);
  if (r === undefined || !m.baseline) return undefined;
  if (Math.abs(r - 1) < 0.01) return 'even';
  return (m.better === 'higher') === r > 1 ? 'Bulwark' : m.baseline.name;
}

/** Whether a metric meets its goal; undefined when it has none. */
export function meetsGoal(m: Metric): boolean | undefined {
  if (!m.goal) return undefined;
  const r = ratioOf(m);
  // A goal may bound both the ratio and the value (e.g. at most 1.5x idle and at most 160 MiB): all must hold.
  const checks: boolean[] = [];
  if (m.goal.ratio !== undefined && r !== undefined)
    checks.push(m.better === 'higher' ? r >= m.goal.ratio : r <= m.goal.ratio);
  if (m.goal.max !== undefined) checks.push(m.value <= m.goal.max);
  if (m.goal.min !== undefined) checks.push(m.value >= m.goal.min);
  return checks.length ? checks.every(Boolean) : undefined;
}

/** The goal as text: '≤ 1.5x', '≤ 160 MiB', or both joined. */
export function goalText(m: Metric): string {
  if (!m.goal) return '';
  const parts: string[] = [];
  if (m.goal.ratio !== undefined) parts.push(`${m.better === 'higher' ? '≥' : '≤'} ${m.goal.ratio}x`);
  if (m.goal.max !== undefined) parts.push(`≤ ${m.goal.max} ${m.unit}`);
  if (m.goal.min !== undefined) parts.push(`≥ ${m.goal.min} ${m.unit}`);
  return parts.join(' and ');
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** A horizontal bar pair: ours against the baseline, on one scale. */
function barChart(m: Metric): string {
  if (!m.baseline) return '';
  const max = Math.max(m.value, m.baseline.value) || 1;
  const w = 360;
  const bar = (y: number, label: string, v: number, colour: string): string =>
    `<text x="0" y="${y + 13}" font-size="12">${esc(label)}</text>` +
    `<rect x="230" y="${y}" width="${Math.max(1, (v / max) * w).toFixed(1)}" height="16" fill="${colour}"/>` +
    `<text x="${(235 + (v / max) * w).toFixed(1)}" y="${y + 13}" font-size="12">${fmt(v)} ${esc(m.unit)}</text>`;
  return (
    `<svg role="img" aria-label="${esc(m.name)}" width="720" height="44" viewBox="0 0 720 44">` +
    bar(2, 'Bulwark', m.value, '#2b6cb0') +
    bar(24, m.baseline.name, m.baseline.value, '#a0aec0') +
    '</svg>'
  );
}

/** Renders all results as one self-contained HTML page. */
export function renderBenchHtml(results: BenchResult[], meta: Record<string, string>): string {
  const rows = results
    .map((r) => {
      const items = r.metrics
        .map((m) => {
          const ratio = ratioOf(m);
          const ok = meetsGoal(m);
          const goal = goalText(m);
          const ahead = aheadOf(m);
          const missing = m.unavailable
            ? `${esc(m.unavailable.name)}: <em>not measured: ${esc(m.unavailable.reason)}</em>`
            : '';
          return (
            `<tr><td>${esc(m.name)}</td><td class="n">${fmt(m.value)} ${esc(m.unit)}</td>` +
            `<td>${m.baseline ? `${esc(m.baseline.name)}: ${fmt(m.baseline.value)} ${esc(m.unit)}` : missing}</td>` +
            `<td class="n">${ratio !== undefined ? fmt(ratio) + 'x' : ''}` +
            `${ahead ? `<br><span class="note">${ahead === 'even' ? 'even' : `${esc(ahead)} ahead`}</span>` : ''}` +
            `</td><td>${esc(goal)}</td>` +
            `<td class="${ok === undefined ? '' : ok ? 'pass' : 'fail'}">` +
            `${ok === undefined ? '' : ok ? 'met' : 'missed'}</td></tr>` +
            (m.baseline ? `<tr><td colspan="6">${barChart(m)}</td></tr>` : '') +
            (m.note ? `<tr><td colspan="6" class="note">${esc(m.note)}</td></tr>` : '')
          );
        })
        .join('');
      return (
        `<section><h2>${esc(r.title)}</h2><table><thead><tr>` +
        '<th>metric</th><th>Bulwark</th><th>baseline</th><th>ratio</th><th>goal</th><th></th>' +
        `</tr></thead><tbody>${items}</tbody></table></section>`
      );
    })
    .join('');
  const metaList = Object.entries(meta)
    .map(([k, v]) => `<li>${esc(k)}: ${esc(v)}</li>`)
    .join('');
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Bulwark benchmarks</title>\n' +
    '<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1a202c}' +
    'table{border-collapse:collapse;width:100%}' +
    'th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e2e8f0}' +
    'td.n{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#276749;font-weight:bold}' +
    '.fail{color:#c53030;font-weight:bold}.note{color:#4a5568;font-size:90%}</style></head>\n' +
    `<body><h1>Bulwark benchmarks</h1><ul>${metaList}</ul>${rows}</body></html>\n`
  );
}

/**
 * Writes reports/bench.json and reports/bench.html; results of benchmarks not run this time are kept from the last
 * report.
 */
export async function writeBenchReports(
  dir: string,
  fresh: BenchResult[],
  meta: Record<string, string>,
): Promise<void> {
  let kept: BenchResult[] = [];
  try {
    const old = JSON.parse(await readFile(`${dir}/bench.json`, 'utf8')) as { results?: BenchResult[] };
    kept = (old.results ?? []).filter((r) => !fresh.some((f) => f.id === r.id));
  } catch {
    /* no earlier report */
  }
  const results = [...kept, ...fresh];
  await writeFileAtomic(
    `${dir}/bench.json`,
    JSON.stringify(
      {
        meta,
        results: results.map((r) => ({
          ...r,
          metrics: r.metrics.map((m) => ({ ...m, ratio: ratioOf(m), ahead: aheadOf(m), met: meetsGoal(m) })),
        })),
      },
      null,
      2,
    ) + '\n',
  );
  await writeFileAtomic(`${dir}/bench.html`, renderBenchHtml(results, meta));
}
