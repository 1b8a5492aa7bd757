import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hasCode } from '../errors/index.ts';
import { generateAdminPassword, generateClaimCode, generateSerial, generateSetupCode } from './codes.ts';
import {
  renderStickerSvg,
  stickerAdminAddress,
  stickerTextWidth,
  STICKER_LABEL,
  STICKER_QR_BOX,
  type StickerContent,
  type StickerFace,
} from './sticker.ts';

/** A sticker's content with codes made now. */
function content(extra: Partial<StickerContent> = {}): StickerContent {
  return {
    maker: 'Bulwark Reference Devices',
    modelName: 'Smart Plug',
    model: 'plug',
    serial: generateSerial('PLG'),
    setupCode: generateSetupCode(),
    claimCode: generateClaimCode(),
    adminPassword: generateAdminPassword(),
    ...extra,
  };
}

interface PrintedText {
  readonly field: string | undefined;
  readonly size: number;
  readonly text: string;
}

function printed(svg: string): PrintedText[] {
  return [...svg.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)].map((m) => ({
    field: /class="([^"]+)"/.exec(m[1]!)?.[1],
    size: Number(/font-size="([\d.]+)"/.exec(m[1]!)![1]),
    text: m[2]!.replace(/&#(\d+);/g, (_x, n: string) => String.fromCodePoint(Number(n))),
  }));
}

function valueOf(svg: string, field: string): string | undefined {
  return printed(svg).find((t) => t.field === field)?.text;
}

/** Advance widths read from a TrueType file: head, hhea, hmtx and the Unicode BMP cmap (format 4). */
function fontAdvances(file: string): { unitsPerEm: number; advanceWidthMax: number; advance(ch: string): number } {
  const fontDir = createRequire(import.meta.url)
    .resolve('dejavu-fonts-ttf/package.json')
    .replace(/package\.json$/, 'ttf/');
  const b = readFileSync(fontDir + file);
  const table = new Map<string, number>();
  for (let i = 0; i < b.readUInt16BE(4); i++)
    table.set(b.toString('latin1', 12 + 16 * i, 16 + 16 * i), b.readUInt32BE(20 + 16 * i));
  const [head, hhea, hmtx, cmap] = ['head', 'hhea', 'hmtx', 'cmap'].map((t) => table.get(t)!) as [
    number,
    number,
    number,
    number,
  ];
  const metrics = b.readUInt16BE(hhea + 34);
  let sub = 0;
  for (let i = 0; i < b.readUInt16BE(cmap + 2); i++) {
    const at = cmap + 4 + 8 * i;
    if (b.readUInt16BE(at) === 3 && b.readUInt16BE(at + 2) === 1) sub = cmap + b.readUInt32BE(at + 4);
  }
  const segments = b.readUInt16BE(sub + 6) / 2;
  const [ends, starts, deltas, offsets] = [14, 16 + 2 * segments, 16 + 4 * segments, 16 + 6 * segments].map(
    (o) => sub + o,
  );
  const glyph = (code: number): number => {
    let s = 0;
    while (b.readUInt16BE(ends! + 2 * s) < code) s++;
    const start = b.readUInt16BE(starts! + 2 * s),
      delta = b.readInt16BE(deltas! + 2 * s);
    const offset = b.readUInt16BE(offsets! + 2 * s);
    if (code < start) return 0;
    if (offset === 0) return (code + delta) & 0xffff;
    const g = b.readUInt16BE(offsets! + 2 * s + offset + 2 * (code - start));
    return g === 0 ? 0 : (g + delta) & 0xffff;
  };
  return {
    unitsPerEm: b.readUInt16BE(head + 18),
    advanceWidthMax: b.readUInt16BE(hhea + 10),
    advance: (ch) => b.readUInt16BE(hmtx + 4 * Math.min(glyph(ch.codePointAt(0)!), metrics - 1)),
  };
}

const FONT_FILES: Record<StickerFace, string> = {
  sans: 'DejaVuSans.ttf',
  'sans-bold': 'DejaVuSans-Bold.ttf',
  'mono-bold': 'DejaVuSansMono-Bold.ttf',
};

test('the layout measures text with the advance widths of the DejaVu fonts the PNG renderer loads', () => {
  const ascii = Array.from({ length: 95 }, (_x, i) => String.fromCharCode(0x20 + i));
  for (const [face, file] of Object.entries(FONT_FILES) as Array<[StickerFace, string]>) {
    const font = fontAdvances(file);
    for (const ch of ascii)
      assert.equal(stickerTextWidth(ch, face, font.unitsPerEm), font.advance(ch), `${file} '${ch}'`);
  }
  const widest = Math.max(...Object.values(FONT_FILES).map((f) => fontAdvances(f).advanceWidthMax));
  const regular = fontAdvances('DejaVuSansMono.ttf').advanceWidthMax;
  for (const face of Object.keys(FONT_FILES) as StickerFace[]) {
    assert.ok(stickerTextWidth('\u00e9', face, 2048) >= Math.max(widest, regular), `${face}: a letter outside ASCII`);
  }
});

test('prints the claim code and setup code in the groups a person types, whatever separators they came with', () => {
  const claim = generateClaimCode(),
    setup = generateSetupCode();
  const svg = renderStickerSvg(
    content({ claimCode: claim.replace(/-/g, ' ').toLowerCase(), setupCode: setup.replace(/-/g, '') }),
  );
  assert.equal(valueOf(svg, 'claim-code'), claim);
  assert.equal(valueOf(svg, 'setup-code'), setup);
});

test('prints where the admin page is: https, the lower-case .local name of the serial and the port', () => {
  const c = content();
  assert.equal(valueOf(renderStickerSvg(c), 'admin-address'), `https://${c.serial.toLowerCase()}.local:8443`);
  assert.equal(stickerAdminAddress(c.serial, 443), `https://${c.serial.toLowerCase()}.local`, 'no port for 443');
});

test('a model whose owner sets the first password at install gets no password line', () => {
  const { adminPassword: _, ...rest } = content();
  const svg = renderStickerSvg(rest);
  assert.equal(valueOf(svg, 'admin-password'), undefined);
  assert.ok(!printed(svg).some((t) => /password/i.test(t.text)), 'a password label is printed');
  assert.ok(valueOf(svg, 'setup-code') !== undefined && valueOf(svg, 'claim-code') !== undefined);
});

test('a maker name too long for its column is set smaller, then cut with an ellipsis; a short one is whole', () => {
  const short = printed(renderStickerSvg(content()))[0]!;
  assert.equal(short.text, 'Bulwark Reference Devices');
  const long = printed(renderStickerSvg(content({ maker: 'Wide Works '.repeat(6) })))[0]!;
  assert.ok(long.text.endsWith('\u2026') && 'Wide Works '.repeat(6).startsWith(long.text.slice(0, -1)), long.text);
  assert.ok(long.size < short.size, 'the long name is set smaller before it is shortened');
  assert.ok(stickerTextWidth(long.text, 'sans', long.size) < STICKER_QR_BOX.x - STICKER_LABEL.inset);
});

test('refuses a malformed serial, setup code or claim code and an empty password, without echoing the value', () => {
  const setup = generateSetupCode();
  const lastDigit = Number(setup.slice(-1));
  const cases: Array<Partial<StickerContent>> = [
    { serial: 'plg-lowercase1' },
    { setupCode: setup.slice(0, -1) + String((lastDigit + 1) % 10) },
    { claimCode: 'ABCD-EFGH-JKLM-NPQ' },
    { claimCode: 'ABCD-EFGH-JKLM-NPQ0' },
    { adminPassword: '' },
  ];
  for (const bad of cases) {
    assert.throws(
      () => renderStickerSvg(content(bad)),
      (e: Error) => hasCode(e, 'INVALID_INPUT') && !Object.values(bad).some((v) => v !== '' && e.message.includes(v)),
      JSON.stringify(Object.keys(bad)),
    );
  }
});

test('refuses a password too long to print rather than cutting it short', () => {
  assert.throws(
    () => renderStickerSvg(content({ adminPassword: 'x'.repeat(40) })),
    (e: Error) => hasCode(e, 'INVALID_INPUT'),
  );
});

test('escapes markup in the names it prints', () => {
  const svg = renderStickerSvg(content({ maker: 'A & B <Devices>' }));
  assert.ok(svg.includes('A &#38; B &#60;Devices&#62;'));
  assert.equal(printed(svg)[0]!.text, 'A & B <Devices>');
});
