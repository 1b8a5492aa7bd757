// Fuzzing every parser of the channel with fast-check: random bytes, random JSON-ish values and
// mutated valid messages go into the frame decoder, parseMessage and the session. Only typed
// errors may come out, never a crash, and no state may grow past its bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameDecoder,
  ChannelFrameError,
  ChannelMessageError,
  ChannelSession,
  encodeFrame,
  encodeMessage,
  parseMessage,
  validateMessage,
  FRAME_HEADER_BYTES,
  type ChannelMessage,
} from '../../src/channel/index.ts';
import { validMessage } from './arbitraries.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const dangerousKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'type',
  'id',
  'value',
  'toString',
  'hasOwnProperty',
  '',
);

/** Accepted and valid, or refused with the typed error: nothing else. */
function parsesOrRefuses(body: Uint8Array | string): ChannelMessage | undefined {
  try {
    const message = parseMessage(body);
    assert.deepEqual(validateMessage(message), message);
    return message;
  } catch (err) {
    assert.ok(err instanceof ChannelMessageError, `unexpected ${String(err)}`);
    assert.equal(err.code, 'CHANNEL_BAD_MESSAGE');
    return undefined;
  }
}

test('random bytes into the frame decoder: frames or CHANNEL_FRAME_TOO_LARGE, buffer at most 4 + maxFrameBytes', () => {
  // Half the chunks start with a plausible length, so bodies get buffered and not only refused.
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: 3_000 }),
    fc.tuple(fc.nat(1_100), fc.uint8Array({ maxLength: 1_200 })).map(([length, rest]) => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(length);
      return Buffer.concat([header, rest]);
    }),
  );
  fc.assert(
    fc.property(fc.constantFrom(512, 1_024, 65_536), fc.array(chunk, { maxLength: 20 }), (maxFrameBytes, chunks) => {
      const decoder = new FrameDecoder({ maxFrameBytes });
      for (const chunk of chunks) {
        try {
          for (const body of decoder.push(chunk)) assert.ok(body.length <= maxFrameBytes);
        } catch (err) {
          assert.ok(err instanceof ChannelFrameError, `unexpected ${String(err)}`);
          assert.ok(err.code === 'CHANNEL_FRAME_TOO_LARGE' || err.code === 'CHANNEL_DECODER_FAILED');
        }
        assert.ok(decoder.bufferedBytes <= FRAME_HEADER_BYTES + maxFrameBytes);
      }
    }),
    { numRuns: RUNS },
  );
});

test('random bytes and random strings into parseMessage: only CHANNEL_BAD_MESSAGE', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2_000 }), (bytes) => {
      parsesOrRefuses(bytes);
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (s) => {
      parsesOrRefuses(s);
      parsesOrRefuses('{' + s);
    }),
    { numRuns: RUNS },
  );
});

test('random JSON values into parseMessage and any JS value into validateMessage: only CHANNEL_BAD_MESSAGE', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      parsesOrRefuses(JSON.stringify(value) ?? 'null');
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(
      fc.anything({
        maxDepth: 3,
        withBoxedValues: true,
        withMap: true,
        withSet: true,
        withObjectString: true,
        withNullPrototype: true,
        withTypedArray: true,
        withSparseArray: true,
      }),
      (value) => {
        try {
          validateMessage(value);
        } catch (err) {
          assert.ok(err instanceof ChannelMessageError, `unexpected ${String(err)}`);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('a valid message with a key added, replaced or dropped: valid or a typed refusal; prototype stays clean', () => {
  const mutated = fc
    .tuple(validMessage, dangerousKey, fc.jsonValue({ maxDepth: 2 }), fc.boolean())
    .map(([message, key, value, drop]) => {
      const copy: Record<string, unknown> = { ...message };
      if (drop) delete copy[key];
      else Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
      return JSON.stringify(copy);
    });
  fc.assert(
    fc.property(mutated, (json) => {
      const message = parsesOrRefuses(json);
      if (message)
        for (const key of Object.keys(message)) assert.ok(!['__proto__', 'constructor', 'prototype'].includes(key));
    }),
    { numRuns: RUNS * 3 },
  );
  assert.equal(Object.getOwnPropertyNames(Object.prototype).includes('polluted'), false);
  assert.equal(({} as Record<string, unknown>).value, undefined);
});

// Moved from src/channel/messages.test.ts: src files reach test helpers through no index.
test('every valid message round-trips through encode and parse', () => {
  fc.assert(
    fc.property(validMessage, (message) => {
      const [body] = new FrameDecoder().push(encodeMessage(message));
      const normalised = JSON.parse(JSON.stringify(message)) as unknown;
      assert.deepEqual(parseMessage(body!), normalised);
    }),
    { numRuns: 2_000 },
  );
});

test('every valid message survives being split anywhere and decoded', () => {
  fc.assert(
    fc.property(
      fc.array(validMessage, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => encodeMessage(m)));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const decoder = new FrameDecoder();
        const out: ChannelMessage[] = [];
        let from = 0;
        for (const p of [...points, stream.length]) {
          out.push(...decoder.push(stream.subarray(from, p)).map((b) => parseMessage(b)));
          from = p;
        }
        assert.deepEqual(
          out,
          messages.map((m) => JSON.parse(JSON.stringify(m)) as unknown),
        );
      },
    ),
    { numRuns: RUNS },
  );
});

/** A chunk from the peer: a valid frame, a frame with a random body, or raw random bytes. */
const peerChunk = fc.oneof(
  validMessage.map((m) => encodeMessage(m)),
  fc.uint8Array({ maxLength: 300 }).map((b) => encodeFrame(b)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => encodeFrame(Buffer.from(JSON.stringify(v) ?? 'null'))),
  fc.uint8Array({ maxLength: 64 }),
);

test('random traffic into a session: never throws, never answers past its bounds, nothing happens after close', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(peerChunk, fc.nat(200)), { maxLength: 40 }), (chunks) => {
      let now = 1_000;
      const session = new ChannelSession(
        { maxFrameBytes: 1_024, maxInFlight: 4, requestTimeoutMs: 100, keepaliveMs: 50, deadAfterMs: 150 },
        now,
      );
      let closed = false;
      for (const [chunk, advance] of chunks) {
        now += advance;
        const effects = [...session.receive(chunk, now), ...session.tick(now)];
        if (closed) assert.deepEqual(effects, []);
        for (const e of effects) {
          if (e.type === 'closed') closed = true;
          if (e.type === 'send') assert.ok(e.bytes.length <= FRAME_HEADER_BYTES + 1_024);
        }
        assert.ok(session.incomingInFlight <= 4);
        assert.ok(session.bufferedBytes <= FRAME_HEADER_BYTES + 1_024);
      }
      assert.equal(session.isOpen, !closed);
    }),
    { numRuns: RUNS },
  );
});

test('a refused frame changes nothing but closing: no request delivered, nothing pending settled as answered', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      ),
      (body) => {
        if (parsesOrRefuses(body) !== undefined) return;
        const session = new ChannelSession({}, 0);
        session.request('switch', 'set', true, 0);
        const effects = session.receive(encodeFrame(body), 1);
        assert.deepEqual(
          effects.map((e) => e.type),
          ['send', 'reject', 'closed'],
        );
        const reject = effects[1];
        assert.ok(reject?.type === 'reject' && reject.error.code === 'CHANNEL_CLOSED');
      },
    ),
    { numRuns: RUNS },
  );
});
