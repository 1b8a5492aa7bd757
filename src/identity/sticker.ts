/**
 * The unit's sticker: a 50 x 30 mm label with model, serial, admin password, setup code, claim code,
 * the admin page's address and a QR code carrying the setup and claim data. The SVG is built here as
 * text, laid out with the advance widths of the DejaVu fonts so no line runs past the label or under
 * the QR code; the PNG rendering (resvg compiled to WebAssembly, with those fonts) is loaded only when
 * a PNG is asked for.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import QRCode from 'qrcode';
import { InvalidInputError } from '../errors/index.ts';
import { normaliseSetupCode, normaliseClaimCode, isWellFormedSetupCode, SERIAL_PATTERN } from './codes.ts';

/** A claim code without separators: 16 readable symbols. */
const CLAIM_CODE_PATTERN = /^[A-Z2-9]{16}$/;

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
  /** The last day of security updates (YYYY-MM-DD), printed on the closing line; absent: not printed. */
  readonly supportEnd?: string;
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
  if (!CLAIM_CODE_PATTERN.test(claim)) throw new InvalidInputError('bad claim code in sticker URI');
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

/**
 * Advance widths of printable ASCII (U+0020 to U+007E) in DejaVu Sans, font units (2048 an em), from the
 * hmtx table of the TTF the PNG renderer loads (sticker.test.ts reads them back from that file).
 */
const SANS_ASCII: readonly number[] = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303,
  1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540,
  604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690,
  799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300,
  1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];
/** The same for DejaVu Sans Bold. */
const SANS_BOLD_ASCII: readonly number[] = [
  713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425, 1425,
  1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399, 1681, 1714,
  762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483, 1485, 936, 748,
  936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134, 1458, 1407, 1466,
  1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716,
];
const FONT_UNITS_PER_EM = 2048;
/** Every glyph of DejaVu Sans Mono, regular and bold, is this wide. */
const MONO_ADVANCE = 1233;
/**
 * DejaVu Sans Bold's advanceWidthMax, the widest glyph of the four fonts loaded: a character outside ASCII may
 * come from any of them, so this bounds its width.
 */
const WIDEST_GLYPH = 4129;

/** The faces the sticker prints in. */
export type StickerFace = 'sans' | 'sans-bold' | 'mono-bold';

const FACE_ATTRIBUTES: Record<StickerFace, string> = {
  sans: 'font-family="DejaVu Sans"',
  'sans-bold': 'font-family="DejaVu Sans" font-weight="bold"',
  'mono-bold': 'font-family="DejaVu Sans Mono" font-weight="bold"',
};

/**
 * Width of `text` in `face` at font size `size`, in the size's units: the sum of the glyphs' advances.
 * Kerning is left out (DejaVu's pairs are small and mostly tighten); the layout keeps a gap for it.
 * @example stickerTextWidth('PLG-K7VQ3MXE9B', 'mono-bold', 22) // 14 * 1233 / 2048 * 22
 */
export function stickerTextWidth(text: string, face: StickerFace, size: number): number {
  let units = 0;
  for (const ch of text) {
    const i = ch.codePointAt(0)! - 0x20;
    if (i < 0 || i >= SANS_ASCII.length) units += WIDEST_GLYPH;
    else if (face === 'mono-bold') units += MONO_ADVANCE;
    else units += (face === 'sans' ? SANS_ASCII : SANS_BOLD_ASCII)[i]!;
  }
  return (units / FONT_UNITS_PER_EM) * size;
}

/** The label's geometry in 0.1 mm: 50 x 30 mm; text stays 1.6 mm in from the edge, clear of the rounded corners. */
export const STICKER_LABEL = { width: 500, height: 300, inset: 16, cornerRadius: 14 } as const;
/**
 * The QR code's square, quiet zone included, top right: 18.8 mm keeps a module at 0.38 mm (4.5 pixels in the
 * 300 dpi PNG) for a short model id and 0.36 mm (4.2 pixels) for the longest one.
 */
export const STICKER_QR_BOX = { x: 296, y: 16, size: 188 } as const;
/** Room between the text column and the QR code, for kerning and ink past a glyph's advance. */
const COLUMN_GAP = 8;

/** A line of text to place on the label, baseline at `y`, units 0.1 mm. */
interface TextLine {
  readonly x: number;
  readonly y: number;
  readonly face: StickerFace;
  readonly text: string;
  /** The size wanted, and the smallest still legible on the printed label. */
  readonly size: number;
  readonly minSize: number;
  /** The width the line may take. */
  readonly width: number;
  readonly grey?: boolean;
  /** Names a printed value (its class), so a check can read it back; such a value is never shortened. */
  readonly field?: string;
}

const ELLIPSIS = '\u2026';

/**
 * The line at the largest size (in half units) from `size` down to `minSize` that fits its width. Below that,
 * a name keeps its start and an ellipsis; a value is refused, since a shortened code is a wrong code.
 */
function fitLine(line: TextLine): TextLine {
  const atOne = stickerTextWidth(line.text, line.face, 1);
  const size = Math.min(line.size, Math.floor((line.width / atOne) * 2) / 2);
  if (size >= line.minSize) return { ...line, size };
  if (line.field !== undefined)
    throw new InvalidInputError('a value is too long to print on the sticker', { field: line.field });
  const chars = [...line.text];
  while (chars.length > 0 && stickerTextWidth(chars.join('') + ELLIPSIS, line.face, line.minSize) > line.width)
    chars.pop();
  return { ...line, size: line.minSize, text: chars.join('').trimEnd() + ELLIPSIS };
}

function textElement(t: TextLine): string {
  const field = t.field === undefined ? '' : ` class="${t.field}"`;
  return (
    `<text x="${t.x}" y="${t.y}" ${FACE_ATTRIBUTES[t.face]} font-size="${t.size}" ` +
    `fill="${t.grey === true ? '#444' : '#000'}"${field}>${escapeXml(t.text)}</text>`
  );
}

/** The port a unit's admin page listens on unless its installation says otherwise (the device agent's default). */
export const DEFAULT_ADMIN_PORT = 8443;

/**
 * Where the owner finds the admin page: the `<serial>.local` name the unit's web certificate carries, with the port
 * the page listens on (none printed for 443).
 */
export function stickerAdminAddress(serial: string, port = DEFAULT_ADMIN_PORT): string {
  return `https://${serial.toLowerCase()}.local${port === 443 ? '' : `:${port}`}`;
}

/** A code as a person types it: groups of four joined by hyphens. */
function typedGroups(code: string): string {
  return code.match(/.{1,4}/g)!.join('-');
}

/** Refuses content that would print a wrong label; messages name the value, never show it. */
function checkStickerContent(s: StickerContent): void {
  if (!SERIAL_PATTERN.test(s.serial)) throw new InvalidInputError('bad serial for the sticker');
  if (!isWellFormedSetupCode(s.setupCode)) throw new InvalidInputError('bad setup code for the sticker');
  if (!CLAIM_CODE_PATTERN.test(normaliseClaimCode(s.claimCode)))
    throw new InvalidInputError('bad claim code for the sticker');
  if (s.adminPassword === '') throw new InvalidInputError('empty admin password for the sticker');
  if (s.supportEnd !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(s.supportEnd))
    throw new InvalidInputError('bad support end date for the sticker');
}

/** Model and maker, then label-over-value pairs, in the column left of the QR code. */
function columnLines(s: StickerContent): TextLine[] {
  const x = STICKER_LABEL.inset,
    width = STICKER_QR_BOX.x - COLUMN_GAP - x;
  const pairs: Array<readonly [label: string, value: string, field: string]> = [
    ['Serial', s.serial, 'serial'],
    ...(s.adminPassword === undefined ? [] : [['Admin password', s.adminPassword, 'admin-password'] as const]),
    ['Setup code', typedGroups(normaliseSetupCode(s.setupCode)), 'setup-code'],
  ];
  return [
    { x, y: 32, face: 'sans', text: s.maker, size: 16, minSize: 12, width, grey: true },
    { x, y: 60, face: 'sans-bold', text: s.modelName, size: 24, minSize: 16, width },
    ...pairs.flatMap(([label, value, field], i): TextLine[] => [
      { x, y: 86 + 46 * i, face: 'sans', text: label, size: 15, minSize: 15, width, grey: true },
      { x, y: 109 + 46 * i, face: 'mono-bold', text: value, size: 22, minSize: 16, width, field },
    ]),
  ];
}

/** Label-beside-value rows across the full width under the QR code, and the closing line. */
function bottomLines(s: StickerContent): TextLine[] {
  const x = STICKER_LABEL.inset,
    full = STICKER_LABEL.width - 2 * x;
  const rows = [
    ['Claim code', typedGroups(normaliseClaimCode(s.claimCode)), 'claim-code', 232, 22],
    ['Admin page', stickerAdminAddress(s.serial), 'admin-address', 260, 20],
  ] as const;
  const labelWidth = Math.ceil(Math.max(...rows.map(([label]) => stickerTextWidth(label, 'sans', 15)))) + 10;
  const keep = 'Keep this label: it proves you own the device.';
  return [
    ...rows.flatMap(([label, value, field, y, size]): TextLine[] => [
      { x, y, face: 'sans', text: label, size: 15, minSize: 15, width: labelWidth, grey: true },
      { x: x + labelWidth, y, face: 'mono-bold', text: value, size, minSize: 16, width: full - labelWidth, field },
    ]),
    s.supportEnd === undefined
      ? { x, y: 285, face: 'sans', text: keep, size: 14, minSize: 14, width: full, grey: true }
      : // The support period as PSTI asks it be published; a value, so never shortened (it shrinks instead).
        {
          ...{ x, y: 285, face: 'sans', size: 14, minSize: 11, width: full, grey: true, field: 'support-end' },
          text: `Security updates until ${s.supportEnd}. Keep this label: it proves ownership.`,
        },
  ];
}

/**
 * The sticker as SVG, units 0.1 mm on a 50 x 30 mm label: maker, model, serial, admin password (when the
 * factory sets one), setup code, claim code, the admin page's address and a QR code of {@link stickerUri}.
 * Each value's text element has a class naming it ('serial', 'admin-password', 'setup-code', 'claim-code',
 * 'admin-address', 'support-end'). Names too long for the label are shortened with an ellipsis; malformed codes
 * are refused.
 * @example await writeFile('sticker.svg', renderStickerSvg({ maker, modelName, model, serial, setupCode, claimCode }))
 */
export function renderStickerSvg(s: StickerContent): string {
  checkStickerContent(s);
  const { width, height } = STICKER_LABEL,
    qr = STICKER_QR_BOX;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="50mm" height="30mm" viewBox="0 0 ${width} ${height}">`,
    `<rect x="2" y="2" width="${width - 4}" height="${height - 4}" rx="${STICKER_LABEL.cornerRadius}" fill="#fff" ` +
      'stroke="#000" stroke-width="3"/>',
    ...[...columnLines(s), ...bottomLines(s)].map((line) => textElement(fitLine(line))),
    qrPath(stickerUri(s), qr.x, qr.y, qr.size),
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
