// `bulwark policy techfile` through the real command (node bin/bulwark.js), on a real release repository (a factory,
// its update keys, a published plug 1.1.0 with its SBOM): the technical file it writes validates, holds the
// repository's SBOM byte for byte, the audit report and the facts record; a model file whose documentation lacks an
// Annex II item fails with exit 65 naming the item and writes nothing; and the index page renders in headless
// Chromium, self-contained, every link resolving to a file of the technical file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import {
  countControls,
  evaluateControls,
  evaluateFrameworks,
  exitCodeFor,
  runAudit,
  type AuditReport,
} from '../../src/audit/index.ts';
import { getModel } from '../../src/models/index.ts';
import { decide } from '../../src/policy/index.ts';
import { buildReferenceImage, extendSupportPeriod, initRepository, publishImage } from '../../src/release/index.ts';
import { validateTechnicalFile, type TechnicalFileIndex } from '../../src/techfile/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const PLUG_PROFILE = fileURLToPath(new URL('../../src/policy/profiles/plug.yaml', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-sync'];

/** What the page function reads of a link (the DOM types are not in this project's lib). */
interface Attributed {
  getAttribute(name: string): string | null;
}

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let fleet: TestFleet;
let repoDir: string;
let reportPath: string;
let browser: Browser | undefined;

/** The real audit of the plug against the repository, with every check set to pass: the evidence the file links. */
async function passingReport(): Promise<AuditReport> {
  const base = await runAudit({ profile: PLUG_PROFILE, updateRepo: repoDir });
  const checks = base.checks.map((c) => ({ ...c, status: 'pass' as const }));
  const controls = evaluateControls(decide(base.profile), new Map(checks.map((c) => [c.id, c])));
  const counts = countControls(controls);
  const firmware = { model: 'plug', version: '1.1.0', securityVersion: 1, slot: 'a' };
  return {
    ...base,
    scope: { ...base.scope, firmware },
    checks,
    controls,
    frameworks: evaluateFrameworks(controls),
    summary: { ...counts, passed: true, exitCode: exitCodeFor(counts) },
  };
}

before(
  async () => {
    fleet = await makeFleet([]);
    repoDir = join(fleet.work, 'releases');
    await initRepository({ repoDir, factoryDir: fleet.factoryDir });
    const artifact = join(fleet.work, 'plug.tar');
    const entrySource = 'process.exit(0);\n';
    await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1, entrySource });
    await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
    // An extension signed since: the user information names it, not the model's own date.
    await extendSupportPeriod({ repoDir, model: 'plug', endsOn: '2040-06-30' });
    reportPath = join(fleet.work, 'audit.json');
    await writeFile(reportPath, JSON.stringify(await passingReport()));
    await writeFile(join(fleet.work, 'facts.json'), JSON.stringify({ model: 'plug', version: '1.1.0' }));
    if (toolAvailable('chromium')) browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  },
  { timeout: 180_000 },
);
after(async () => {
  await browser?.close();
});

const common = (): string[] => ['--version', '1.1.0', '--audit-report', reportPath, '--release', repoDir];

test('the command writes a technical file that validates, with the SBOM, audit report and facts record', async () => {
  const out = join(fleet.work, 'techfile');
  const r = await run([
    'policy',
    'techfile',
    '--model',
    'plug',
    '--out',
    out,
    ...common(),
    '--facts',
    join(fleet.work, 'facts.json'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^techfile: 1 SBOM\(s\) of plug 1\.1\.0 from /m);
  assert.match(r.stdout, /Annex I Part I: 13 linked to passing controls, 1 not applicable/);
  assert.deepEqual(await validateTechnicalFile(out), { valid: true, problems: [] });
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as TechnicalFileIndex;
  assert.equal(index.audit.firmwareVersion, '1.1.0');
  assert.equal(index.facts.included, true);
  const [sbom] = index.sboms;
  const published = await readFile(join(repoDir, 'targets', sbom!.repositoryPath));
  assert.deepEqual(await readFile(join(out, sbom!.path)), published);
  assert.equal(await readFile(join(out, 'audit/audit-report.json'), 'utf8'), await readFile(reportPath, 'utf8'));
  const info = await readFile(join(out, 'user-information.json'), 'utf8');
  assert.match(info, /"text": "2040-06-30",\s*"source": "release: supportEndsOn signed with the image"/);
});

test('a model file without one Annex II item fails with exit 65, naming the item, and writes nothing', async () => {
  const { documentation, ...plug } = getModel('plug');
  const { turningOffAutomaticUpdates: _dropped, ...rest } = documentation!;
  const modelFile = join(fleet.work, 'plug-draft.model.json');
  await writeFile(modelFile, JSON.stringify({ schema: 'bulwark.model/v1', ...plug, documentation: rest }));
  const out = join(fleet.work, 'draft');
  const r = await run(['policy', 'techfile', '--model', modelFile, '--out', out, ...common()]);
  assert.equal(r.code, 65, r.stderr);
  assert.match(
    r.stderr,
    /error TECHFILE_ANNEX2_MISSING: .*8\(e\) Turning automatic updates off: .*turningOffAutomaticUpdates/,
  );
  assert.equal(existsSync(out), false);
});

test('the index page renders in headless Chromium, self-contained, each link opening a file of it', async (t) => {
  if (!needTool(t, 'chromium')) return;
  const out = join(fleet.work, 'techfile');
  const page = await (await browser!.newContext()).newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  page.on('console', (m) => (m.type() === 'error' ? problems.push(m.text()) : undefined));
  const url = pathToFileURL(join(out, 'index.html')).href;
  await page.goto(url);
  assert.deepEqual(requests, [url], 'the page loads nothing but itself');
  assert.deepEqual(problems, []);
  assert.equal(await page.title(), 'Technical file: Smart Plug 1.1.0');
  const hrefs = await page
    .locator('main a[href]')
    .evaluateAll((as: Attributed[]) => as.map((a) => a.getAttribute('href') ?? ''));
  const files = [...new Set(hrefs.filter((h) => !h.startsWith('#')).map((h) => h.split('#')[0]!))];
  assert.ok(files.length >= 12, files.join(' '));
  for (const f of files) assert.ok(existsSync(join(out, f)), `${f} exists`);
  await page.locator('a[href="risk-register.html"]').first().click();
  assert.match(await page.title(), /^Risk register: Smart Plug 1\.1\.0$/);
  const shot = join(fleet.work, 'techfile-index.png');
  await page.goto(url);
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok((await stat(shot)).size > 20_000);
  t.diagnostic(`screenshot: ${shot}`);
});
