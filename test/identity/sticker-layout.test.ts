// The sticker of a freshly provisioned unit, as printed: every value the owner types reads back from
// its text, no line runs past the label, over the QR code or over another line (measured on the PNG
// the renderer draws), and zbarimg, a decoder we did not write, reads the QR code.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import {
  generateClaimCode,
  generateSerial,
  generateSetupCode,
  renderStickerPng,
  renderStickerSvg,
  stickerUri,
  type ProvisionedUnit,
  type StickerPayload,
} from '../../src/identity/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';
import { needTool, type SkippableTest } from '../support/tools.ts';

const run = promisify(execFile);
let fleet: TestFleet;

before(async () => {
  // The plug's factory prints its admin password; the camera's owner sets one at install.
  fleet = await makeFleet(['plug', 'camera']);
});

interface UnitLabel {
  readonly unit: ProvisionedUnit;
  readonly payload: StickerPayload;
  readonly svg: string;
}

async function labelOf(model: string): Promise<UnitLabel> {
  const unit = fleet.units[model]!;
  const record = JSON.parse(await readFile(join(unit.dir, 'unit.json'), 'utf8')) as { model: string };
  const payload = { model: record.model, serial: unit.serial, setupCode: unit.setupCode, claimCode: unit.claimCode };
  return { unit, payload, svg: await readFile(join(unit.dir, 'sticker.svg'), 'utf8') };
}

interface PrintedText {
  readonly element: string;
  readonly field: string | undefined;
  readonly text: string;
}

function printedTexts(svg: string): PrintedText[] {
  return [...svg.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)].map((m) => ({
    element: m[0],
    field: /class="([^"]+)"/.exec(m[1]!)?.[1],
    text: m[2]!.replace(/&#(\d+);/g, (_x, n: string) => String.fromCodePoint(Number(n))),
  }));
}

/** The one text element printing `field`. */
function printedValue(svg: string, field: string): string | undefined {
  const found = printedTexts(svg).filter((t) => t.field === field);
  assert.ok(found.length <= 1, `${field} printed ${found.length} times`);
  return found[0]?.text;
}

interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** Pixels per label unit (0.1 mm) in the measuring renders: 0.05 mm a pixel. */
const PX_PER_UNIT = 2;

/** Where `fragment` puts ink, in label units, rendered alone on the sticker's canvas. */
async function inkBox(svg: string, fragment: string): Promise<Box | undefined> {
  const open = svg.slice(0, svg.indexOf('>') + 1);
  const width = Number(/viewBox="0 0 (\d+) \d+"/.exec(open)![1]);
  const png = PNG.sync.read(Buffer.from(await renderStickerPng(`${open}${fragment}</svg>`, width * PX_PER_UNIT)));
  let box: Box | undefined;
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      if (png.data[(y * png.width + x) * 4 + 3] === 0) continue;
      box = {
        x0: Math.min(box?.x0 ?? x, x),
        y0: Math.min(box?.y0 ?? y, y),
        x1: Math.max(box?.x1 ?? x + 1, x + 1),
        y1: Math.max(box?.y1 ?? y + 1, y + 1),
      };
    }
  }
  return (
    box && { x0: box.x0 / PX_PER_UNIT, y0: box.y0 / PX_PER_UNIT, x1: box.x1 / PX_PER_UNIT, y1: box.y1 / PX_PER_UNIT }
  );
}

function overlaps(a: Box, b: Box): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** Text keeps 0.5 mm clear of the border's inner edge, round corners included. */
const BORDER_CLEARANCE = 5;

/** The area inside the border's stroke, less the clearance, as a rounded rectangle. */
function printableArea(svg: string): Box & { readonly r: number } {
  const m =
    /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" rx="([\d.]+)"[^>]*stroke-width="([\d.]+)"/.exec(
      svg,
    );
  assert.ok(m, 'the label has a border');
  const [x, y, w, h, rx, stroke] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const inset = stroke / 2 + BORDER_CLEARANCE;
  return { x0: x + inset, y0: y + inset, x1: x + w - inset, y1: y + h - inset, r: Math.max(0, rx - inset) };
}

function insideArea(b: Box, area: Box & { readonly r: number }): boolean {
  const corners = [
    [b.x0, b.y0],
    [b.x1, b.y0],
    [b.x0, b.y1],
    [b.x1, b.y1],
  ] as const;
  // A point is inside a rounded rectangle when it lies within r of the rectangle shrunk by r.
  return corners.every(([x, y]) => {
    const dx = Math.max(area.x0 + area.r - x, 0, x - (area.x1 - area.r));
    const dy = Math.max(area.y0 + area.r - y, 0, y - (area.y1 - area.r));
    return Math.hypot(dx, dy) <= area.r;
  });
}

function qrSquare(svg: string): Box {
  const m = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="#fff"\/><path/.exec(svg);
  assert.ok(m, 'the label has a QR code');
  const [x, y, w, h] = m.slice(1).map(Number) as [number, number, number, number];
  return { x0: x, y0: y, x1: x + w, y1: y + h };
}

/** Fails unless every line prints inside the label, clear of the QR code (quiet zone included) and of each other. */
async function assertLaidOut(svg: string): Promise<void> {
  const area = printableArea(svg),
    qr = qrSquare(svg);
  const placed: Array<{ name: string; box: Box }> = [];
  for (const t of printedTexts(svg)) {
    // Named by field or by its words: a code's value stays out of the message.
    const name = t.field ?? t.text;
    const box = await inkBox(svg, t.element);
    assert.ok(box, `${name} prints nothing`);
    assert.ok(insideArea(box, area), `${name} runs past the label's edge: ${JSON.stringify(box)}`);
    assert.ok(!overlaps(box, qr), `${name} runs over the QR code: ${JSON.stringify(box)}`);
    for (const other of placed) assert.ok(!overlaps(box, other.box), `${name} overlaps ${other.name}`);
    placed.push({ name, box });
  }
}

/** What zbarimg reads from the sticker rendered to PNG. */
async function decodeQr(t: SkippableTest, svg: string, name: string): Promise<string | undefined> {
  if (!needTool(t, 'zbarimg')) return undefined;
  const file = join(fleet.work, `${name}.png`);
  await writeFile(file, await renderStickerPng(svg));
  const { stdout } = await run('zbarimg', ['--raw', '-q', file]);
  return stdout.trim();
}

test('the sticker prints the claim code, password, setup code, admin address and support end of its unit', async () => {
  const { unit, svg } = await labelOf('plug');
  assert.ok(unit.adminPassword, 'the plug has a printed password');
  assert.equal(printedValue(svg, 'claim-code'), unit.claimCode);
  assert.equal(printedValue(svg, 'admin-password'), unit.adminPassword);
  assert.equal(printedValue(svg, 'setup-code'), unit.setupCode);
  assert.equal(printedValue(svg, 'serial'), unit.serial);
  const host = `${unit.serial.toLowerCase()}.local`;
  assert.equal(printedValue(svg, 'admin-address'), `https://${host}:8443`, "with the admin page's default port");
  const { supportPeriodEnd } = JSON.parse(await readFile(join(unit.dir, 'unit.json'), 'utf8')) as Record<
    string,
    string
  >;
  assert.match(printedValue(svg, 'support-end') ?? '', new RegExp(`^Security updates until ${supportPeriodEnd}\\. `));
  const webCert = new X509Certificate(await readFile(join(unit.dir, 'web-cert.pem'), 'utf8'));
  assert.ok(
    webCert.subjectAltName?.split(', ').includes(`DNS:${host}`),
    'the address is a name of the web certificate',
  );
});

test('no line of the sticker runs past the label, over the QR code or over another line', async () => {
  await assertLaidOut((await labelOf('plug')).svg);
});

test('zbarimg reads the sticker URI from the rendered PNG', async (t) => {
  const { payload, svg } = await labelOf('plug');
  const read = await decodeQr(t, svg, 'plug-sticker');
  if (read !== undefined) assert.equal(read, stickerUri(payload));
});

test('a unit whose owner sets the first password at install has no password line, lays out and decodes', async (t) => {
  const { unit, payload, svg } = await labelOf('camera');
  assert.equal(unit.adminPassword, undefined);
  assert.equal(printedValue(svg, 'admin-password'), undefined);
  assert.ok(!printedTexts(svg).some((p) => /password/i.test(p.text)), 'a password label is printed');
  assert.equal(printedValue(svg, 'claim-code'), unit.claimCode);
  assert.equal(printedValue(svg, 'setup-code'), unit.setupCode);
  assert.equal(printedValue(svg, 'admin-address'), `https://${unit.serial.toLowerCase()}.local:8443`);
  await assertLaidOut(svg);
  const read = await decodeQr(t, svg, 'camera-sticker');
  if (read !== undefined) assert.equal(read, stickerUri(payload));
});

test('names as long as a model file allows are shortened to fit, and the longest model id still decodes', async (t) => {
  const payload = {
    model: 'w'.repeat(32),
    serial: generateSerial('WWW'),
    setupCode: generateSetupCode(),
    claimCode: generateClaimCode(),
  };
  const svg = renderStickerSvg({ ...payload, maker: 'W'.repeat(64), modelName: 'W'.repeat(64) });
  const [maker, modelName] = printedTexts(svg);
  assert.match(maker!.text, /^W+\u2026$/);
  assert.match(modelName!.text, /^W+\u2026$/);
  await assertLaidOut(svg);
  const read = await decodeQr(t, svg, 'widest-sticker');
  if (read !== undefined) assert.equal(read, stickerUri(payload));
});

test('the layout check rejects a line moved under the QR code and one moved past the edge', async () => {
  const { svg } = await labelOf('plug');
  const serial = printedTexts(svg).find((p) => p.field === 'serial')!.element;
  for (const x of ['300', '400']) {
    const moved = svg.replace(serial, serial.replace(/ x="[\d.]+"/, ` x="${x}"`));
    await assert.rejects(assertLaidOut(moved), /serial runs (over the QR code|past the label's edge)/);
  }
});
