import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import {
  ChannelSession,
  ChannelRequestError,
  FrameDecoder,
  encodeMessage,
  encodeFrame,
  parseMessage,
  type ChannelMessage,
  type SessionEffect,
  type ChannelConfig,
} from './index.ts';

const T0 = 1_000;
const cfg: Partial<ChannelConfig> = { requestTimeoutMs: 100, keepaliveMs: 50, deadAfterMs: 150, maxInFlight: 4 };

/** The messages in the 'send' effects. */
function sent(effects: SessionEffect[]): ChannelMessage[] {
  const decoder = new FrameDecoder();
  return effects.flatMap((e) => (e.type === 'send' ? decoder.push(e.bytes).map((b) => parseMessage(b)) : []));
}

/** Feeds the sent bytes of one session into another. */
function deliver(effects: SessionEffect[], to: ChannelSession, now: number): SessionEffect[] {
  return effects.flatMap((e) => (e.type === 'send' ? to.receive(e.bytes, now) : []));
}

function frame(message: ChannelMessage): Buffer {
  return encodeMessage(message);
}

test('a request is delivered to the peer and its answer resolves it', () => {
  const hub = new ChannelSession(cfg, T0);
  const device = new ChannelSession(cfg, T0);
  const { id, effects } = hub.request('switch', 'set', true, T0);
  assert.deepEqual(sent(effects), [{ type: 'request', id, capability: 'switch', action: 'set', value: true }]);
  const atDevice = deliver(effects, device, T0 + 1);
  assert.deepEqual(atDevice, [
    { type: 'request', request: { type: 'request', id, capability: 'switch', action: 'set', value: true } },
  ]);
  assert.equal(device.incomingInFlight, 1);
  const answer = device.reply(id, { ok: true, value: 'on' });
  assert.equal(device.incomingInFlight, 0);
  assert.deepEqual(deliver(answer, hub, T0 + 2), [{ type: 'resolve', id, value: 'on' }]);
  assert.equal(hub.outgoingInFlight, 0);
});

test('a typed error reply rejects the request with ChannelRequestError carrying the remote code', () => {
  const hub = new ChannelSession(cfg, T0);
  const device = new ChannelSession(cfg, T0);
  const { id, effects } = hub.request('camera', 'snapshot', undefined, T0);
  deliver(effects, device, T0);
  const [reject] = deliver(device.reply(id, { ok: false, code: 'CAPABILITY_DENIED', message: 'not granted' }), hub, T0);
  assert.equal(reject?.type, 'reject');
  const error = reject?.type === 'reject' ? reject.error : undefined;
  assert.ok(error instanceof ChannelRequestError);
  assert.equal(error.code, 'CHANNEL_REQUEST_FAILED');
  assert.equal(error.remoteCode, 'CAPABILITY_DENIED');
});

test('a request with no answer times out at requestTimeoutMs, and a late answer is dropped', () => {
  const hub = new ChannelSession(cfg, T0);
  const { id } = hub.request('switch', 'set', false, T0);
  assert.equal(hub.nextDeadline(), T0 + 50); // the keepalive comes first
  assert.deepEqual(hub.tick(T0 + 49), []);
  hub.receive(frame({ type: 'pong', n: 0 }), T0 + 49); // traffic: no ping needed yet
  assert.equal(hub.nextDeadline(), T0 + 99);
  const effects = hub.tick(T0 + 100);
  const reject = effects.find((e) => e.type === 'reject');
  assert.ok(reject && reject.type === 'reject' && reject.id === id && hasCode(reject.error, 'CHANNEL_REQUEST_TIMEOUT'));
  assert.equal(hub.outgoingInFlight, 0);
  assert.deepEqual(hub.receive(frame({ type: 'response', id, ok: true, value: 1 }), T0 + 120), []);
  assert.equal(hub.isOpen, true);
});

test('a per-request timeout overrides the default within the bounds', () => {
  const hub = new ChannelSession({ ...cfg, keepaliveMs: 1_000, deadAfterMs: 3_000 }, T0);
  hub.request('a', 'b', null, T0, 20);
  assert.equal(hub.nextDeadline(), T0 + 20);
  assert.throws(
    () => hub.request('a', 'b', null, T0, 0),
    (e) => hasCode(e, 'CHANNEL_CONFIG_INVALID'),
  );
});

test('refuses a request beyond maxInFlight without sending it, and accepts again once one settles', () => {
  const hub = new ChannelSession(cfg, T0);
  const ids = [1, 2, 3, 4].map(() => hub.request('a', 'b', null, T0).id);
  assert.deepEqual(ids, [1, 2, 3, 4]);
  assert.throws(
    () => hub.request('a', 'b', null, T0),
    (e) => hasCode(e, 'CHANNEL_BUSY'),
  );
  hub.receive(frame({ type: 'response', id: 2, ok: true, value: null }), T0);
  assert.equal(hub.request('a', 'b', null, T0).id, 5);
});

test("answers BUSY to the peer's requests beyond maxInFlight and BAD_REQUEST to an id already in flight", () => {
  const device = new ChannelSession(cfg, T0);
  for (let id = 1; id <= 4; id++) device.receive(frame({ type: 'request', id, capability: 'a', action: 'b' }), T0);
  assert.deepEqual(sent(device.receive(frame({ type: 'request', id: 5, capability: 'a', action: 'b' }), T0)), [
    { type: 'error', id: 5, code: 'BUSY', message: 'too many requests in flight' },
  ]);
  assert.deepEqual(sent(device.receive(frame({ type: 'request', id: 3, capability: 'a', action: 'b' }), T0)), [
    { type: 'error', id: 3, code: 'BAD_REQUEST', message: 'request id already in flight' },
  ]);
  assert.equal(device.incomingInFlight, 4);
});

test('a handler slower than requestTimeoutMs gets a TIMEOUT error sent for it; its late answer is not sent', () => {
  const device = new ChannelSession(cfg, T0);
  device.receive(frame({ type: 'request', id: 9, capability: 'a', action: 'b' }), T0);
  device.receive(frame({ type: 'ping', n: 0 }), T0 + 90);
  assert.deepEqual(sent(device.tick(T0 + 100)), [
    { type: 'error', id: 9, code: 'TIMEOUT', message: 'the handler did not answer in time' },
  ]);
  // The slot stays taken until the handler settles: a slow handler cannot be stacked up.
  assert.equal(device.incomingInFlight, 1);
  assert.deepEqual(device.reply(9, { ok: true, value: 1 }), []);
  assert.equal(device.incomingInFlight, 0);
});

test('an answer outside the schema is replaced by INTERNAL', () => {
  const device = new ChannelSession(cfg, T0);
  device.receive(frame({ type: 'request', id: 1, capability: 'a', action: 'b' }), T0);
  assert.deepEqual(sent(device.reply(1, { ok: true, value: 'x'.repeat(300) })), [
    { type: 'error', id: 1, code: 'INTERNAL', message: 'the answer could not be encoded' },
  ]);
});

test('refuses a request whose names or value are outside the schema, without taking a slot', () => {
  const hub = new ChannelSession(cfg, T0);
  assert.throws(
    () => hub.request('Bad Name', 'b', null, T0),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
  );
  assert.throws(
    () => hub.request('a', 'b', { x: 1 } as never, T0),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
  );
  assert.equal(hub.outgoingInFlight, 0);
});

test('sends a ping after keepaliveMs of silence, answers pings with pongs, and declares a silent peer dead', () => {
  const hub = new ChannelSession(cfg, T0);
  assert.deepEqual(sent(hub.tick(T0 + 50)), [{ type: 'ping', n: 0 }]);
  assert.deepEqual(hub.tick(T0 + 60), []); // one ping per keepalive period
  assert.deepEqual(sent(hub.tick(T0 + 100)), [{ type: 'ping', n: 1 }]);
  assert.deepEqual(sent(hub.receive(frame({ type: 'ping', n: 77 }), T0 + 100)), [{ type: 'pong', n: 77 }]);
  const pending = hub.request('a', 'b', null, T0 + 240);
  assert.deepEqual(
    hub.tick(T0 + 249).filter((e) => e.type === 'closed'),
    [],
  );
  const effects = hub.tick(T0 + 250);
  const closed = effects.find((e) => e.type === 'closed');
  assert.ok(
    closed && closed.type === 'closed' && hasCode(closed.error, 'CHANNEL_PEER_DEAD') && closed.reason === 'peer-dead',
  );
  const reject = effects.find((e) => e.type === 'reject');
  assert.ok(reject && reject.type === 'reject' && reject.id === pending.id && hasCode(reject.error, 'CHANNEL_CLOSED'));
  assert.equal(hub.isOpen, false);
  assert.equal(hub.nextDeadline(), undefined);
});

test('a bye from the peer ends the session and fails what is pending', () => {
  const hub = new ChannelSession(cfg, T0);
  const { id } = hub.request('a', 'b', null, T0);
  const effects = hub.receive(frame({ type: 'bye', reason: 'unpaired' }), T0);
  assert.deepEqual(
    effects.map((e) => e.type),
    ['reject', 'closed'],
  );
  assert.ok(effects[0]?.type === 'reject' && effects[0].id === id && hasCode(effects[0].error, 'CHANNEL_CLOSED'));
  assert.deepEqual(effects[1], { type: 'closed', reason: 'unpaired', initiator: 'peer' });
  assert.throws(
    () => hub.request('a', 'b', null, T0),
    (e) => hasCode(e, 'CHANNEL_CLOSED'),
  );
  assert.throws(
    () => hub.event('state', 1, 0),
    (e) => hasCode(e, 'CHANNEL_CLOSED'),
  );
  assert.deepEqual(hub.receive(frame({ type: 'ping', n: 1 }), T0), []);
});

test('closing says bye first', () => {
  const hub = new ChannelSession(cfg, T0);
  const effects = hub.close('shutdown', T0);
  assert.deepEqual(sent(effects), [{ type: 'bye', reason: 'shutdown' }]);
  assert.deepEqual(effects.at(-1), { type: 'closed', reason: 'shutdown', initiator: 'local' });
  assert.deepEqual(hub.close('again', T0), []);
});

test('a malformed message or an oversize frame ends the session (protocol-error) before later frames act', () => {
  const device = new ChannelSession(cfg, T0);
  const chunk = Buffer.concat([
    encodeFrame(Buffer.from('{"type":"ping","n":1,"x":2}')),
    frame({ type: 'request', id: 1, capability: 'a', action: 'b' }),
  ]);
  const effects = device.receive(chunk, T0);
  assert.deepEqual(sent(effects), [{ type: 'bye', reason: 'protocol-error' }]);
  const closed = effects.at(-1);
  assert.ok(closed?.type === 'closed' && hasCode(closed.error, 'CHANNEL_BAD_MESSAGE'));
  assert.equal(device.incomingInFlight, 0);

  const other = new ChannelSession(cfg, T0);
  const last = other.receive(Buffer.from([0, 1, 0, 1]), T0).at(-1);
  assert.ok(last?.type === 'closed' && hasCode(last.error, 'CHANNEL_FRAME_TOO_LARGE'));
});

test('events are pushed and delivered', () => {
  const device = new ChannelSession(cfg, T0);
  const hub = new ChannelSession(cfg, T0);
  const out = device.event('telemetry', 21.5, 1_750_000_000_000, 'temperature');
  assert.deepEqual(deliver(out, hub, T0), [
    {
      type: 'event',
      event: { type: 'event', name: 'telemetry', capability: 'temperature', value: 21.5, at: 1_750_000_000_000 },
    },
  ]);
});

test('the server greets with an unsolicited pong, which needs no answer', () => {
  const server = new ChannelSession(cfg, T0);
  const client = new ChannelSession(cfg, T0);
  const greeting = server.greet();
  assert.deepEqual(sent(greeting), [{ type: 'pong', n: 0 }]);
  assert.deepEqual(deliver(greeting, client, T0 + 1), []);
  assert.equal(client.messagesReceived, 1);
});
