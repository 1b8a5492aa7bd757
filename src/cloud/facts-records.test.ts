import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFactsRecord, loadExampleProfile, parseFactsRecord, serializeFactsRecord } from '../policy/index.ts';
import { getModel } from '../models/index.ts';
import { hasCode } from '../errors/index.ts';
import { createOwnerApp, openOwnerSite, validateOwnerApiConfig } from './api.ts';
import type { CommandCenter } from './commands.ts';
import { MAX_FACTS_BYTES, factsFolder, publishFactsRecord } from './facts-records.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';

const HOST = 'cloud.test';
const profile = await loadExampleProfile('plug');

/** A valid record of plug `version`, its support ending on `endsOn`. */
function record(version = '1.1.0', endsOn = '2032-06-30'): Buffer {
  const r = buildFactsRecord({
    model: getModel('plug'),
    version,
    profile,
    baseUrl: `https://${HOST}`,
    conformityUrl: 'https://example.com/conformity/plug.pdf',
    automaticUpdates: true,
    release: { model: 'plug', version, sbom: 'plug/image.cdx.json', supportEndsOn: endsOn },
  });
  return Buffer.from(serializeFactsRecord(r));
}

/** Every file under `dir`, relative, sorted ([] when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

async function cloudApp(factsDir: string) {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const config = validateOwnerApiConfig({});
  const site = await openOwnerSite({
    store,
    commands: {} as CommandCenter,
    config,
    log: () => undefined,
    factsDir,
  });
  const app = createOwnerApp(site, { limits: config.limits, log: () => undefined });
  app.allowHosts([HOST], 443);
  return (url: string) => app.handle({ method: 'GET', url, headers: { host: HOST } });
}

test('a published record is served as published, to anyone, with security headers', async () => {
  const dir = factsFolder(await mkdtemp(join(tmpdir(), 'bulwark-facts-')));
  const get = await cloudApp(dir);
  assert.equal((await get('/facts/plug/1.1.0.json')).status, 404);
  const bytes = record();
  const done = await publishFactsRecord(dir, bytes, parseFactsRecord);
  assert.deepEqual(
    { path: done.path, outcome: done.outcome, file: done.file },
    { path: '/facts/plug/1.1.0.json', outcome: 'published', file: join(dir, 'plug', '1.1.0.json') },
  );
  assert.deepEqual(await filesUnder(dir), ['plug/1.1.0.json']);
  assert.deepEqual(await readFile(done.file), bytes);
  const r = await get('/facts/plug/1.1.0.json');
  assert.equal(r.status, 200);
  assert.deepEqual(Buffer.from(r.body), bytes);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(r.headers['access-control-allow-origin'], '*');
  for (const h of ['content-security-policy', 'strict-transport-security', 'x-content-type-options'])
    assert.ok(r.headers[h], `${h} is set`);
  assert.equal(r.headers['set-cookie'], undefined, 'no session is started');
  assert.equal(parseFactsRecord(r.body.toString()).url, `https://${HOST}/facts/plug/1.1.0.json`);
});

test('bad input is refused with a typed error and nothing is stored', async () => {
  const dir = factsFolder(await mkdtemp(join(tmpdir(), 'bulwark-facts-')));
  const refused = async (bytes: Buffer): Promise<string> => {
    try {
      await publishFactsRecord(dir, bytes, parseFactsRecord);
      return 'published';
    } catch (err) {
      const { code, field } = err as { code?: string; field?: string };
      return field === undefined ? String(code) : `${code} ${field}`;
    }
  };
  const doc = JSON.parse(record().toString()) as Record<string, Record<string, unknown>>;
  assert.equal(await refused(Buffer.alloc(MAX_FACTS_BYTES + 1, 0x20)), 'FACTS_RECORD_TOO_LARGE');
  assert.equal(await refused(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 'FACTS_RECORD_REFUSED');
  assert.equal(await refused(Buffer.from('not json')), 'FACTS_RECORD_INVALID $');
  delete doc.support!.endsOn;
  assert.equal(await refused(Buffer.from(JSON.stringify(doc))), 'FACTS_RECORD_INVALID support.endsOn');
  doc.support!.endsOn = '2032-06-30';
  doc.automaticUpdates!.default = true;
  assert.equal(await refused(Buffer.from(JSON.stringify(doc))), 'FACTS_RECORD_INVALID automaticUpdates.default');
  assert.deepEqual(await filesUnder(dir), [], 'no file, not even a temporary one');
});

test('an extension replaces a record, the same bytes change nothing, a shorter support period is refused', async () => {
  const dir = factsFolder(await mkdtemp(join(tmpdir(), 'bulwark-facts-')));
  assert.equal((await publishFactsRecord(dir, record('1.1.0', '2032-06-30'), parseFactsRecord)).outcome, 'published');
  assert.equal((await publishFactsRecord(dir, record('1.1.0', '2032-06-30'), parseFactsRecord)).outcome, 'unchanged');
  assert.equal((await publishFactsRecord(dir, record('1.1.0', '2033-06-30'), parseFactsRecord)).outcome, 'replaced');
  await assert.rejects(publishFactsRecord(dir, record('1.1.0', '2032-12-31'), parseFactsRecord), (err: unknown) => {
    assert.ok(hasCode(err, 'FACTS_RECORD_CONFLICT'));
    assert.match((err as Error).message, /support\.endsOn: 2032-12-31 would shorten .* \(2033-06-30\)/);
    return true;
  });
  // Another version is another record.
  assert.equal((await publishFactsRecord(dir, record('1.2.0', '2032-12-31'), parseFactsRecord)).outcome, 'published');
  assert.equal(
    parseFactsRecord((await readFile(join(dir, 'plug', '1.1.0.json'))).toString()).support.endsOn,
    '2033-06-30',
  );
  assert.deepEqual(await filesUnder(dir), ['plug/1.1.0.json', 'plug/1.2.0.json']);
});

test('only a model id and a version name a record: other paths answer 404', async () => {
  const dir = factsFolder(await mkdtemp(join(tmpdir(), 'bulwark-facts-')));
  await publishFactsRecord(dir, record(), parseFactsRecord);
  const get = await cloudApp(dir);
  for (const url of [
    '/facts/plug/1.1.0.txt',
    '/facts/plug/1.1.json',
    '/facts/Plug/1.1.0.json',
    '/facts/plug/..%2F..%2Fplug%2F1.1.0.json',
    '/facts/%2E%2E/1.1.0.json',
    '/facts/plug/1.1.0.json/x',
  ])
    assert.equal((await get(url)).status, 404, url);
  // A cloud given no facts folder serves none.
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const config = validateOwnerApiConfig({});
  const site = await openOwnerSite({ store, commands: {} as CommandCenter, config, log: () => undefined });
  const app = createOwnerApp(site, { limits: config.limits, log: () => undefined });
  app.allowHosts([HOST], 443);
  const none = await app.handle({ method: 'GET', url: '/facts/plug/1.1.0.json', headers: { host: HOST } });
  assert.equal(none.status, 404);
});
