import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { FrameDecoder, encodeFrame, FRAME_HEADER_BYTES } from './index.ts';

const bodies = ['{"type":"ping","n":1}', '', 'x', '{"type":"bye","reason":"shutdown"}', 'é'.repeat(100)].map((s) =>
  Buffer.from(s),
);
const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));

test('encodes a 4-byte big-endian length before the body', () => {
  const frame = encodeFrame(Buffer.from('abc'));
  assert.deepEqual([...frame], [0, 0, 0, 3, 0x61, 0x62, 0x63]);
});

test('frames split at every byte boundary reassemble in order', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder();
    const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
    assert.deepEqual(out, bodies, `cut at ${cut}`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test('frames fed one byte at a time, and in three pieces cut anywhere, reassemble', () => {
  const decoder = new FrameDecoder();
  const out: Buffer[] = [];
  for (const byte of stream) out.push(...decoder.push(Uint8Array.of(byte)));
  assert.deepEqual(out, bodies);
  for (let a = 0; a <= stream.length; a += 7) {
    for (let b = a; b <= stream.length; b += 5) {
      const d = new FrameDecoder();
      const got = [...d.push(stream.subarray(0, a)), ...d.push(stream.subarray(a, b)), ...d.push(stream.subarray(b))];
      assert.deepEqual(got, bodies, `cuts at ${a}, ${b}`);
    }
  }
});

test('a declared length above maxFrameBytes is refused on the 4 length bytes, before any body is buffered', () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 1_024 });
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1_025);
  assert.deepEqual(decoder.push(header.subarray(0, 3)), []);
  assert.equal(decoder.bufferedBytes, 3);
  assert.throws(
    () => decoder.push(header.subarray(3)),
    (e) => hasCode(e, 'CHANNEL_FRAME_TOO_LARGE'),
  );
  assert.equal(decoder.bufferedBytes, 0);
  assert.equal(decoder.failed, true);
  // Whatever comes next is refused without being looked at.
  assert.throws(
    () => decoder.push(Buffer.alloc(10)),
    (e) => hasCode(e, 'CHANNEL_DECODER_FAILED'),
  );
  assert.equal(decoder.bufferedBytes, 0);
});

test('a 4 GiB declared length is refused at once, and the largest allowed one is accepted', () => {
  const huge = new FrameDecoder();
  assert.throws(
    () => huge.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
    (e) => hasCode(e, 'CHANNEL_FRAME_TOO_LARGE'),
  );
  const decoder = new FrameDecoder({ maxFrameBytes: 2_000 });
  const body = Buffer.alloc(2_000, 7);
  const frame = encodeFrame(body, 2_000);
  assert.deepEqual(decoder.push(frame.subarray(0, 100)), []);
  assert.ok(decoder.bufferedBytes <= FRAME_HEADER_BYTES + 2_000);
  assert.deepEqual(decoder.push(frame.subarray(100)), [body]);
});

test('the default limit is 65,536 bytes and encodeFrame refuses a body above the limit', () => {
  assert.equal(new FrameDecoder().maxFrameBytes, 65_536);
  assert.throws(
    () => encodeFrame(Buffer.alloc(65_537)),
    (e) => hasCode(e, 'CHANNEL_FRAME_TOO_LARGE'),
  );
  assert.throws(
    () => encodeFrame(Buffer.alloc(11), 10),
    (e) => hasCode(e, 'CHANNEL_FRAME_TOO_LARGE'),
  );
});

test('refuses a decoder limit that is not a positive integer within 1 MiB', () => {
  for (const maxFrameBytes of [0, -1, 1.5, 2 ** 21, Number.NaN]) {
    assert.throws(
      () => new FrameDecoder({ maxFrameBytes }),
      (e) => hasCode(e, 'CHANNEL_CONFIG_INVALID'),
    );
  }
});

test('a returned frame does not alias the chunk it came from', () => {
  const frame = encodeFrame(Buffer.from('hello'));
  const [body] = new FrameDecoder().push(frame);
  frame.fill(0);
  assert.equal(body?.toString(), 'hello');
});
