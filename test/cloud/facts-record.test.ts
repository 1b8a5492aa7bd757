// The security facts record end to end, as a maker makes it: `bulwark policy facts` builds plug 1.1.0's record
// from the model, its profile and the release repository (support date and SBOM signed with the image) and draws
// its URL as a QR code; `bulwark cloud facts publish` stores it in a real cloud's data folder; the running cloud
// serves it over HTTPS (verified against its CA) byte for byte; zbarimg, a decoder we did not write, reads exactly
// the record's URL from the QR code, and that URL is where the cloud serves it. A broken record is refused naming
// its field, and nothing is stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initFactory, renderStickerPng } from '../../src/identity/index.ts';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { buildReferenceImage, initRepository, publishImage } from '../../src/release/index.ts';
import { parseFactsRecord, type FactsRecord } from '../../src/policy/index.ts';
import { needTool } from '../support/tools.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

let work: string;
let repoDir: string;
let cloudState: string;
let cloud: CloudService | undefined;

function bulwark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

/** GET over HTTPS, the certificate verified against the cloud's CA. */
function fetchVerified(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: cloud!.credentials.caCertPem, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-facts-cloud-'));
  const factoryDir = join(work, 'factory');
  repoDir = join(work, 'releases');
  cloudState = join(work, 'cloud');
  await initFactory(factoryDir);
  await initRepository({ repoDir, factoryDir });
  const artifact = join(work, 'plug.tar');
  await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1 });
  await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
  cloud = await startCloud({ factoryDir, stateDir: cloudState, broker: { port: 0 }, api: { port: 0 } });
});
after(async () => {
  await cloud?.close();
});

test('the record is built, published, served over HTTPS, and its QR code decodes to exactly that URL', async (t) => {
  const out = join(work, 'plug-1.1.0.facts.json');
  const qr = join(work, 'plug-1.1.0.qr.svg');
  const base = cloud!.api.url;
  const made = await bulwark([
    'policy',
    'facts',
    '--model',
    'plug',
    '--version',
    '1.1.0',
    '--base-url',
    base,
    '--conformity-url',
    'https://example.com/conformity/plug.pdf',
    '--update-repo',
    repoDir,
    '--security-contact',
    `${base}/security/report`,
    '--out',
    out,
    '--qr',
    qr,
  ]);
  assert.equal(made.code, 0, made.stderr);
  const bytes = await readFile(out);
  const record: FactsRecord = parseFactsRecord(bytes.toString());
  assert.equal(record.url, `${base}/facts/plug/1.1.0.json`);
  // The release repository's facts: the SBOM target the image names, the support date signed with it (or the model's).
  assert.deepEqual(record.sbom, { available: true, format: 'CycloneDX', target: 'plug/image.cdx.json' });
  assert.match(record.support.endsOn, /^\d{4}-\d{2}-\d{2}$/);

  const published = await bulwark(['cloud', 'facts', 'publish', '--file', out, '--state', cloudState]);
  assert.equal(published.code, 0, published.stderr);
  assert.equal(published.stdout.trim(), 'published: /facts/plug/1.1.0.json');

  const served = await fetchVerified(record.url);
  assert.equal(served.status, 200);
  assert.match(served.type, /^application\/json/);
  assert.deepEqual(served.body, bytes, 'served byte for byte as published');

  if (!needTool(t, 'zbarimg')) return;
  const png = join(work, 'qr.png');
  await writeFile(png, await renderStickerPng(await readFile(qr, 'utf8'), 400));
  const { stdout } = await promisify(execFile)('zbarimg', ['-q', '--raw', png], { timeout: 30_000 });
  const decoded = stdout.replace(/\n$/, '');
  assert.equal(decoded, record.url);
  assert.deepEqual((await fetchVerified(decoded)).body, bytes, "the QR code's URL leads to the record");
});

test('a broken record is refused by `cloud facts publish` naming its field, and nothing is stored', async () => {
  const before = (await readdir(join(cloudState, 'facts'), { recursive: true }).catch(() => [])).sort();
  const good = JSON.parse(await readFile(join(work, 'plug-1.1.0.facts.json'), 'utf8')) as Record<string, unknown>;
  const cases: Array<[string, (d: Record<string, Record<string, unknown>>) => void, RegExp]> = [
    [
      'missing',
      (d) => delete d.automaticUpdates!.default,
      /FACTS_RECORD_INVALID: automaticUpdates\.default: is required/,
    ],
    ['mistyped', (d) => (d.support!.endsOn = 2031), /FACTS_RECORD_INVALID: support\.endsOn: must be a string/],
    ['another version', (d) => (d.product!.version = '1.2.0'), /FACTS_RECORD_INVALID: url: must be the record's own/],
  ];
  for (const [what, change, error] of cases) {
    const doc = structuredClone(good) as Record<string, Record<string, unknown>>;
    change(doc);
    const file = join(work, `broken-${what.replace(/ /g, '-')}.json`);
    await writeFile(file, JSON.stringify(doc));
    const r = await bulwark(['cloud', 'facts', 'publish', '--file', file, '--state', cloudState]);
    assert.equal(r.code, 65, `${what}: ${r.stderr}`);
    assert.match(r.stderr, error, what);
  }
  assert.deepEqual((await readdir(join(cloudState, 'facts'), { recursive: true })).sort(), before);
  const missing = await fetchVerified(`${cloud!.api.url}/facts/plug/1.2.0.json`);
  assert.equal(missing.status, 404);
});
