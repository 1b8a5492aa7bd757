/**
 * The unit's sticker: a 50 x 30 mm label with model, serial, admin password, setup code and a
 * QR code carrying the setup and claim data. The SVG is built here as text; the PNG rendering
 * (resvg compiled to WebAssembly, with DejaVu fonts) is loaded only when a PNG is asked for.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import QRCode from 'qrcode';
import { InvalidInputError } from '../errors/index.ts';
import { normaliseSetupCode, normaliseClaimCode, isWellFormedSetupCode, SERIAL_PATTERN } from './codes.ts';

/** What the sticker's QR code carries. */
export interface StickerPayload {
  readonly model: string;
  readonly serial: string;
  readonly setupCode: string;
  readonly claimCode: string;
}

/** Everything printed on the sticker. */
export interface StickerContent extends StickerPayload {
  readonly maker: string;
  readonly modelName: string;
  /** Absent for models whose owner sets the first password at install. */
  readonly adminPassword?: string;
}

/**
 * The QR code's URI, version 1:
 * `bulwark://unit?v=1&model=<model id>&serial=<serial>&setup=<12 digits>&claim=<16 symbols>`.
 * Separators are dropped from the codes; parameters appear in this order.
 */
export function stickerUri(p: StickerPayload): string {
  const q = new URLSearchParams({
    v: '1',
    model: p.model,
    serial: p.serial,
    setup: normaliseSetupCode(p.setupCode),
    claim: normaliseClaimCode(p.claimCode),
  });
  return `bulwark://unit?${q.toString()}`;
}

/** Parses and validates a sticker URI (as a hub or the owner app reads it from the QR code). */
export function parseStickerUri(uri: string): StickerPayload {
  if (uri.length > 512) throw new InvalidInputError('sticker URI too long');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidInputError('sticker URI is not a URI');
  }
  if (url.protocol !== 'bulwark:' || url.host !== 'unit') throw new InvalidInputError('not a bulwark unit URI');
  const q = url.searchParams;
  if (q.get('v') !== '1') throw new InvalidInputError('unsupported sticker URI version', { version: q.get('v') });
  const model = q.get('model') ?? '',
    serial = q.get('serial') ?? '',
    setup = q.get('setup') ?? '',
    claim = q.get('claim') ?? '';
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(model)) throw new InvalidInputError('bad model in sticker URI');
  if (!SERIAL_PATTERN.test(serial)) throw new InvalidInputError('bad serial in sticker URI');
  if (!isWellFormedSetupCode(setup)) throw new InvalidInputError('bad setup code in sticker URI');
  if (!/^[A-Z2-9]{16}$/.test(claim)) throw new InvalidInputError('bad claim code in sticker URI');
  return { model, serial, setupCode: setup, claimCode: claim };
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The QR code's dark modules as one SVG path, scaled to `size` units with a 4-module quiet zone. */
function qrPath(text: string, x: number, y: number, size: number): string {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const cell = size / (n + 8);
  let d = '';
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      if (qr.modules.get(row, col)) {
        const px = (x + (col + 4) * cell).toFixed(2),
          py = (y + (row + 4) * cell).toFixed(2),
          c = cell.toFixed(2);
        d += `M${px} ${py}h${c}v${c}h-${c}z`;
      }
    }
  }
  return (
    `<rect x="${x}" y="${y}" width="${size}" height="${size}" fill="#fff"/><path d="${d}" fill="#000" ` +
    `shape-rendering="crispEdges"/>`
  );
}

/** Longest text a standalone QR code carries, characters: a label's link stays short enough to scan at small size. */
export const MAX_QR_TEXT_CHARS = 1_024;

/**
 * A QR code of `text` alone (error correction M, a 4-module quiet zone), as an SVG `sizeMm` millimetres
 * square: the code a security label prints, drawn as the sticker draws its own.
 * @example renderQrCodeSvg('https://cloud.example.com/facts/plug/1.1.0.json')
 */
export function renderQrCodeSvg(text: string, sizeMm = 25): string {
  if (text.length === 0 || text.length > MAX_QR_TEXT_CHARS)
    throw new InvalidInputError(`a QR code carries 1 to ${MAX_QR_TEXT_CHARS} characters`, { length: text.length });
  if (!(sizeMm >= 10 && sizeMm <= 200)) throw new InvalidInputError('a QR code is 10 to 200 mm wide');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${sizeMm}mm" height="${sizeMm}mm" viewBox="0 0 400 400">` +
    `${qrPath(text, 0, 0, 400)}</svg>`
  );
}

/** The sticker as SVG; units are 0.1 mm on a 50 x 30 mm label. */
export function renderStickerSvg(s: StickerContent): string {
  const line = (y: number, label: string, value: string): string =>
    `<text x="18" y="${y}" font-family="DejaVu Sans" font-size="17" fill="#444">${escapeXml(label)}</text>` +
    `<text x="18" y="${y + 25}" font-family="DejaVu Sans Mono" font-size="22" font-weight="bold" ` +
    `fill="#000">${escapeXml(value)}</text>`;
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="50mm" height="30mm" viewBox="0 0 500 300">',
    '<rect x="2" y="2" width="496" height="296" rx="14" fill="#fff" stroke="#000" stroke-width="3"/>',
    `<text x="18" y="36" font-family="DejaVu Sans" font-size="18" fill="#444">${escapeXml(s.maker)}</text>`,
    `<text x="18" y="64" font-family="DejaVu Sans" font-size="26" font-weight="bold" ` +
      `fill="#000">${escapeXml(s.modelName)}</text>`,
    line(98, 'Serial', s.serial),
    line(154, 'Admin password', s.adminPassword ?? 'set at first use'),
    line(210, 'Setup code', s.setupCode),
    `<text x="18" y="282" font-family="DejaVu Sans" font-size="14" fill="#444">Keep this label: it proves you ` +
      `own the device.</text>`,
    qrPath(stickerUri(s), 292, 44, 196),
    '</svg>',
  ].join('');
}

interface PngRenderer {
  render(svg: string, widthPx: number): Uint8Array;
}
let rendererPromise: Promise<PngRenderer> | undefined;

async function loadRenderer(): Promise<PngRenderer> {
  const resvg = await import('@resvg/resvg-wasm');
  const require = createRequire(import.meta.url);
  const fontDir = require.resolve('dejavu-fonts-ttf/package.json').replace(/package\.json$/, 'ttf/');
  const [wasm, ...fonts] = await Promise.all([
    readFile(require.resolve('@resvg/resvg-wasm/index_bg.wasm')),
    ...['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf'].map((f) =>
      readFile(fontDir + f),
    ),
  ]);
  await resvg.initWasm(wasm);
  const fontBuffers = fonts.map((f) => new Uint8Array(f));
  return {
    render(svg, widthPx) {
      const r = new resvg.Resvg(svg, {
        fitTo: { mode: 'width', value: widthPx },
        font: { fontBuffers, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
      });
      const image = r.render();
      const png = image.asPng();
      image.free();
      r.free();
      return png;
    },
  };
}

/** Sticker width in pixels for the PNG: 50 mm at 300 dpi. */
export const STICKER_PNG_WIDTH_PX = 591;

/** Renders the sticker SVG to PNG (loads the renderer on first use). */
export async function renderStickerPng(svg: string, widthPx: number = STICKER_PNG_WIDTH_PX): Promise<Uint8Array> {
  rendererPromise ??= loadRenderer();
  return (await rendererPromise).render(svg, widthPx);
}
