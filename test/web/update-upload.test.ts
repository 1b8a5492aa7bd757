// Installing an update from a file on the admin page (units that never reach the internet): a real,
// supervised unit with no update repository. Only the owner's session with its CSRF token may upload;
// the body is streamed to a file within the updater's bound (413 and a closed connection past it,
// the partial file removed); one upload at a time; garbage is refused by the updater and changes
// nothing in the firmware folder; every attempt is journalled; the page's script uploads in a browser;
// and a file `bulwark release export` wrote is installed and the unit restarts into it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { chromium } from 'playwright-core';
import { needTool } from '../support/tools.ts';
import {
  DeviceProcess,
  makeUpdateWorld,
  ownerClient,
  publish,
  writeUpdateConfig,
  type UpdateWorld,
} from '../update/support.ts';
import { exportUpdateFile } from '../../src/release/index.ts';
import { WebClient } from '../support/device.ts';

let world: UpdateWorld;
let device: DeviceProcess;
let url: string;
let owner: { client: WebClient; csrf: string };
let maxBytes: number;
const state = (): string => join(world.work, 'state');
const uploadDir = (): string => join(state(), 'update', 'upload');

before(async () => {
  world = await makeUpdateWorld();
  // A small image bound keeps the oversized uploads small; the file bound is read from the page.
  const configFile = await writeUpdateConfig(world.work, { maxImageBytes: 8_388_608 });
  device = new DeviceProcess({ bundle: world.unit.dir, state: state(), configFile });
  url = (await device.ready(1, 90_000)).url;
  owner = await ownerClient(url, world.unit);
  const page = (await owner.client.get('/software')).body;
  const m = /<form id="update-file-form" method="post" action="\/update\/file" data-max-bytes="(\d+)">/.exec(page);
  assert.ok(m, 'the software page has the upload form');
  maxBytes = Number(m[1]);
  assert.ok(maxBytes > 8_388_608, `the file bound (${maxBytes}) leaves room for the image and its metadata`);
});

after(async () => {
  await device?.kill('SIGTERM');
});

/** The files in the upload folder (none once every upload is over). */
async function uploads(): Promise<string[]> {
  return readdir(uploadDir()).catch(() => []);
}

/** Waits until `check` holds, polling. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The web journal's update-file entries, newest first. */
async function uploadEntries(): Promise<Array<{ event: string; result: string; detail?: string }>> {
  const r = await owner.client.get('/api/journal?limit=500');
  const { entries } = JSON.parse(r.body) as {
    entries: Array<{ surface: string; event: string; result: string; detail?: string }>;
  };
  return entries.filter((e) => e.surface === 'web' && e.event === 'update-file');
}

/** Every file in the firmware folder with its size, and boot.json's text: what an install would change. */
async function firmwareSnapshot(): Promise<string> {
  const root = join(state(), 'firmware');
  const names = (await readdir(root, { recursive: true })).sort();
  const sizes = await Promise.all(names.map(async (n) => `${n}:${(await stat(join(root, n))).size}`));
  const boot = await readFile(join(root, 'boot.json'), 'utf8').catch(() => '(no boot.json)');
  return `${sizes.join('\n')}\n${boot}`;
}

/** Posts `body` to /update/file as the page's script does. */
function upload(body: Buffer, o: { csrf?: string | false; origin?: string } = {}): ReturnType<WebClient['send']> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', accept: 'application/json' };
  if (o.csrf !== false) headers['x-csrf-token'] = o.csrf ?? owner.csrf;
  return owner.client.send('POST', '/update/file', { raw: body, headers, ...(o.origin ? { origin: o.origin } : {}) });
}

/** What a raw connection saw: the answer's status line (if one came) and whether the server closed it. */
interface RawOutcome {
  readonly status: number | undefined;
  readonly text: string;
  readonly closed: boolean;
}

/** A POST over its own TLS connection: the head with `headers`, then `body` chunks until the server answers. */
function rawPost(
  headers: Record<string, string>,
  body: Iterable<Buffer>,
): { socket: TLSSocket; done: Promise<RawOutcome> } {
  const target = new URL(url);
  const cookie = [...owner.client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const socket = connect({
    host: target.hostname,
    port: Number(target.port),
    ca: owner.client.ca,
    servername: 'localhost',
  });
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  const done = new Promise<RawOutcome>((resolve) => {
    const timer = setTimeout(() => resolve(outcome(false)), 15_000);
    const outcome = (closed: boolean): RawOutcome => ({ status: statusOf(text), text, closed });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(outcome(true));
    });
    socket.on('error', () => undefined);
  });
  socket.once('secureConnect', () => {
    const head = Object.entries({
      host: target.host,
      origin: target.origin,
      cookie,
      'content-type': 'application/octet-stream',
      accept: 'application/json',
      'x-csrf-token': owner.csrf,
      ...headers,
    });
    socket.write(`POST /update/file HTTP/1.1\r\n${head.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    void writeChunks(socket, body, () => text.length > 0);
  });
  return { socket, done };
}

function statusOf(text: string): number | undefined {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Writes chunks as the socket drains, stopping once the server has answered or the socket is gone. */
async function writeChunks(socket: TLSSocket, body: Iterable<Buffer>, answered: () => boolean): Promise<void> {
  for (const chunk of body) {
    if (answered() || socket.destroyed || !socket.writable) return;
    if (!socket.write(chunk)) {
      await new Promise<void>((r) => {
        const go = (): void => {
          socket.off('drain', go).off('close', go);
          r();
        };
        socket.once('drain', go).once('close', go);
      });
    }
  }
}

/** `total` bytes in chunked transfer coding, 64 KiB a chunk, with the terminating chunk when `finish`. */
function* chunked(total: number, finish = true): Generator<Buffer> {
  const piece = randomBytes(65_536);
  for (let sent = 0; sent < total; sent += piece.length) {
    const part = piece.subarray(0, Math.min(piece.length, total - sent));
    yield Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]);
  }
  if (finish) yield Buffer.from('0\r\n\r\n');
}

test('an upload without a session is refused 401 and one without the CSRF token 403; nothing is written', async () => {
  const stranger = await WebClient.for(url, world.unit);
  const anonymous = await stranger.send('POST', '/update/file', {
    raw: randomBytes(1_024),
    headers: { 'content-type': 'application/octet-stream', accept: 'application/json', 'x-csrf-token': owner.csrf },
  });
  assert.equal(anonymous.status, 401);
  assert.equal((JSON.parse(anonymous.body) as { error: { code: string } }).error.code, 'AUTH_REQUIRED');

  const noToken = await upload(randomBytes(1_024), { csrf: false });
  assert.equal(noToken.status, 403);
  assert.equal((JSON.parse(noToken.body) as { error: { code: string } }).error.code, 'CSRF_TOKEN_INVALID');
  const wrongToken = await upload(randomBytes(1_024), { csrf: 'x'.repeat(43) });
  assert.equal(wrongToken.status, 403);
  const foreign = await upload(randomBytes(1_024), { origin: 'https://attacker.example' });
  assert.equal(foreign.status, 403);
  assert.equal((JSON.parse(foreign.body) as { error: { code: string } }).error.code, 'CSRF_ORIGIN_MISMATCH');

  assert.deepEqual(await uploads(), []);
  const journal = JSON.parse((await owner.client.get('/api/journal?limit=100')).body) as {
    entries: Array<{ event: string; result: string; detail?: string }>;
  };
  const csrf = journal.entries.filter((e) => e.event === 'csrf' && e.detail === 'POST /update/file');
  assert.equal(csrf.length, 3, 'each refused state change is journalled');
});

test('a body that is not application/octet-stream is refused 415 before anything is written', async () => {
  const before = (await uploadEntries()).length;
  const form = await owner.client.send('POST', '/update/file', {
    form: { csrf: owner.csrf, file: 'update.tar' },
    headers: { accept: 'application/json', 'x-csrf-token': owner.csrf },
  });
  assert.equal(form.status, 415);
  assert.deepEqual(await uploads(), []);
  const entries = await uploadEntries();
  assert.equal(entries.length, before + 1);
  assert.match(entries[0]!.detail ?? '', /UNSUPPORTED_MEDIA_TYPE/);
});

test('a declared length over the bound is answered 413, the connection closes and no file remains', async () => {
  const before = (await uploadEntries()).length;
  const { done } = rawPost({ 'content-length': String(maxBytes + 1) }, [randomBytes(65_536)]);
  const r = await done;
  assert.equal(r.status, 413, r.text.slice(0, 200));
  assert.match(r.text, /\r\nconnection: close\r\n/i);
  assert.match(r.text, /"code":"BODY_TOO_LARGE"/);
  assert.equal(r.closed, true, 'the server closed the connection');
  assert.deepEqual(await uploads(), []);
  const entries = await uploadEntries();
  assert.equal(entries.length, before + 1);
  assert.equal(entries[0]!.result, 'refused');
  assert.match(entries[0]!.detail ?? '', /BODY_TOO_LARGE/);
});

test('a body growing past the bound without a declared length is cut at 413 and its partial file removed', async () => {
  const before = (await uploadEntries()).length;
  const { done } = rawPost({ 'transfer-encoding': 'chunked' }, chunked(maxBytes + 1_048_576));
  const r = await done;
  assert.equal(r.status, 413, r.text.slice(0, 200));
  assert.equal(r.closed, true, 'the server closed the connection');
  assert.deepEqual(await uploads(), []);
  const entries = await uploadEntries();
  assert.equal(entries.length, before + 1);
  assert.match(entries[0]!.detail ?? '', /BODY_TOO_LARGE/);
});

test('a second upload during one is refused 409 UPDATE_UPLOAD_BUSY; the first, cut off, leaves no file', async () => {
  const first = rawPost({ 'transfer-encoding': 'chunked' }, chunked(262_144, false));
  await eventually(async () => (await uploads()).length === 1, 'the first upload to reach its file');
  const second = await upload(randomBytes(4_096));
  assert.equal(second.status, 409, second.body);
  assert.equal((JSON.parse(second.body) as { error: { code: string } }).error.code, 'UPDATE_UPLOAD_BUSY');
  assert.equal((await uploads()).length, 1, 'the second upload wrote nothing');

  first.socket.destroy();
  await first.done;
  await eventually(async () => (await uploads()).length === 0, 'the cut-off upload to be removed');
  const entries = await uploadEntries();
  assert.match(entries[0]!.detail ?? '', /REQUEST_ABORTED/);
  assert.match(entries[1]!.detail ?? '', /another upload is in progress/);
  assert.equal(entries[1]!.result, 'refused');
});

test('garbage and a truncated file are refused with UPDATE_FILE_INVALID and the firmware does not change', async () => {
  const firmware = await firmwareSnapshot();
  const garbage = randomBytes(200_000);
  // A tar header's worth of a plausible file, cut short: the name of update.json, then nothing.
  const truncated = Buffer.concat([Buffer.from('update.json'), Buffer.alloc(700)]);
  for (const body of [garbage, truncated]) {
    const r = await upload(body);
    assert.equal(r.status, 422, r.body);
    const answer = JSON.parse(r.body) as { outcome: string; code?: string; detail?: string };
    assert.equal(answer.outcome, 'refused');
    assert.equal(answer.code, 'UPDATE_FILE_INVALID');
  }
  assert.equal(await firmwareSnapshot(), firmware, 'no slot or boot record changed');
  assert.deepEqual(await uploads(), [], 'the uploaded file is removed after the decision');
  const [newest, older] = await uploadEntries();
  assert.equal(newest!.result, 'refused');
  assert.match(newest!.detail ?? '', new RegExp(`^${truncated.length} bytes: refused .*UPDATE_FILE_INVALID`));
  assert.match(older!.detail ?? '', new RegExp(`^${garbage.length} bytes: refused .*UPDATE_FILE_INVALID`));
  assert.ok(device.readies.length === 1, 'the unit did not restart');
});

test('in a browser, the software page uploads a chosen file and shows the refusal', { timeout: 120_000 }, async (t) => {
  if (!needTool(t, 'chromium')) return;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    headless: true,
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${url}/login`);
  await page.fill('#password', world.unit.adminPassword!);
  await page.click('main button[type=submit]');
  await page.waitForURL(`${url}/`);
  await page.goto(`${url}/software`);
  const before = (await uploadEntries()).length;
  await page.setInputFiles('#update-file', {
    name: 'plug-update.tar',
    mimeType: 'application/x-tar',
    buffer: randomBytes(50_000),
  });
  await page.click('#update-file-form button[type=submit]');
  const result = page.locator('#update-file-result').filter({ hasText: /Not installed \(UPDATE_FILE_INVALID\)/ });
  await result.waitFor({ timeout: 30_000 });
  const entries = await uploadEntries();
  assert.equal(entries.length, before + 1);
  assert.match(entries[0]!.detail ?? '', /^50000 bytes: refused .*UPDATE_FILE_INVALID/);
  // 'Failed to load resource' is the expected 422 of the refusal.
  assert.deepEqual(
    errors.filter((e) => /Content Security Policy|Refused to|Uncaught/.test(e)),
    [],
    'no CSP violation or script error',
  );
});

// Last: the unit restarts into the installed version.
test(
  'a signed update file uploaded by the owner is installed and the unit restarts into it',
  { timeout: 120_000 },
  async () => {
    await publish(world, '1.1.0', 1);
    const out = join(world.work, 'plug-1.1.0.update');
    const { file, bytes } = await exportUpdateFile({ repoDir: world.repoDir, model: 'plug', version: '1.1.0', out });
    const r = await upload(await readFile(file));
    assert.equal(r.status, 200, r.body);
    const answer = JSON.parse(r.body) as { outcome: string; version?: string };
    assert.deepEqual([answer.outcome, answer.version], ['installed', '1.1.0']);
    assert.deepEqual(await uploads(), [], 'the uploaded file is removed once installed');

    const next = await device.waitFor(
      () => device.readies.find((x) => x.firmware === '1.1.0'),
      90_000,
      '1.1.0 to boot',
    );
    assert.equal(next.slot, 'a');
    owner = await ownerClient(next.url, world.unit);
    const [entry] = await uploadEntries();
    assert.equal(entry!.result, 'success');
    assert.match(entry!.detail ?? '', new RegExp(`^${bytes} bytes: installed 1\\.1\\.0$`));
  },
);
