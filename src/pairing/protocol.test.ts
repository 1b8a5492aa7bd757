// The pairing exchange without sockets: the window's rules, both modes end to end, wrong codes,
// a proxy's keys in the transcript, replay, and the message schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { hasCode } from '../errors/index.ts';
import {
  DevicePairingExchange,
  HubPairingExchange,
  PairingWindow,
  PairingError,
  createPairingVerifierRecord,
  pairingVerifierFromRecord,
  encodeHubMessage,
  parseDeviceMessage,
  parseHubMessage,
  encodeDeviceMessage,
  validatePairingConfig,
  MAX_PAIRING_MODEL_BYTES,
  PairingRefusedError,
  type AcceptPairingModel,
  type DevicePairingContext,
  type DevicePairingStep,
  type HubPairingStep,
  type PairingMode,
} from './index.ts';

const CODE = '1234-5678-9012';
const record = createPairingVerifierRecord(CODE, { iterations: 1_000 });
const verifier = {
  ...pairingVerifierFromRecord(record),
  salt: new Uint8Array(Buffer.from(record.pbkdf2.salt, 'base64')),
  iterations: record.pbkdf2.iterations,
};
const SERIAL = 'PLG-ABCDEFGH23';

function device(o: {
  window: PairingWindow;
  hubPin: Uint8Array;
  devicePin: Uint8Array;
  pushButton?: boolean;
  hubs?: number;
  modelDocument?: Uint8Array;
}): DevicePairingExchange {
  const ctx: DevicePairingContext = {
    serial: SERIAL,
    model: 'plug',
    ...(o.modelDocument ? { modelDocument: o.modelDocument } : {}),
    allowsPushButton: o.pushButton ?? true,
    verifier,
    ownPin: o.devicePin,
    peerPin: o.hubPin,
    window: o.window,
    hubCount: () => o.hubs ?? 0,
  };
  return new DevicePairingExchange(ctx);
}

/**
 * Runs an exchange between the two cores, each seeing the pins given; returns the hub's result
 * or error and the device's last step.
 */
function run(o: {
  mode: PairingMode;
  code?: string;
  window: PairingWindow;
  hubSees: { own: Uint8Array; peer: Uint8Array };
  deviceSees: { own: Uint8Array; peer: Uint8Array };
  pushButton?: boolean;
  now?: number;
  tap?: (action: string, value: string) => void;
  modelDocument?: Uint8Array;
  acceptModel?: AcceptPairingModel;
}): { result?: ReturnType<typeof resultOf>; error?: unknown; last?: DevicePairingStep } {
  const hub = new HubPairingExchange({
    mode: o.mode,
    ...(o.code !== undefined ? { setupCode: o.code } : {}),
    ownPin: o.hubSees.own,
    peerPin: o.hubSees.peer,
    ...(o.acceptModel ? { acceptModel: o.acceptModel } : {}),
  });
  const dev = device({
    window: o.window,
    hubPin: o.deviceSees.peer,
    devicePin: o.deviceSees.own,
    pushButton: o.pushButton ?? true,
    ...(o.modelDocument ? { modelDocument: o.modelDocument } : {}),
  });
  let step: HubPairingStep = hub.start();
  let last: DevicePairingStep | undefined;
  try {
    for (let i = 0; i < 1_000 && step.kind === 'send'; i++) {
      o.tap?.(step.action, step.value);
      last = dev.step(step.action, step.value, o.now ?? 0);
      step = hub.receive(last.reply);
    }
    return { result: resultOf(step), last };
  } catch (error) {
    return { error, last };
  }
}

function resultOf(step: HubPairingStep) {
  assert.equal(step.kind, 'done');
  return step.kind === 'done' ? step.result : undefined;
}

const pins = () => ({ hub: randomBytes(32), device: randomBytes(32) });

/** Each core sees the other's real key: no one in the middle. */
function honest(p: { hub: Uint8Array; device: Uint8Array }) {
  return { hubSees: { own: p.hub, peer: p.device }, deviceSees: { own: p.device, peer: p.hub } };
}

/** A setup-code exchange with `code` between honest cores. */
function runSetupCode(window: PairingWindow, p: { hub: Uint8Array; device: Uint8Array }, code: string) {
  return run({ mode: 'setup-code', code, window, ...honest(p) });
}

test('setup code: both cores agree, the device pins exactly the key the hub showed and the window closes', () => {
  const p = pins();
  const window = new PairingWindow();
  window.open(0, 'button');
  const r = runSetupCode(window, p, CODE);
  assert.ifError(r.error);
  assert.equal(r.result?.serial, SERIAL);
  assert.equal(r.result?.mode, 'setup-code');
  assert.deepEqual(Buffer.from(r.result.devicePin), p.device);
  assert.equal(r.last?.outcome?.kind, 'paired');
  assert.deepEqual(Buffer.from((r.last?.outcome as { hubPin: Uint8Array }).hubPin), p.hub);
  assert.deepEqual(window.status(1), { open: false, failures: 0, reason: 'paired', openedBy: 'button' });
});

test('push button: both cores compare the pins each saw; a plug pairs, a lock refuses', () => {
  const p = pins();
  const window = new PairingWindow();
  window.open(0, 'owner');
  const ok = run({ mode: 'push-button', window, ...honest(p) });
  assert.ifError(ok.error);
  assert.equal(ok.result?.mode, 'push-button');
  window.open(0, 'owner');
  const lock = run({
    mode: 'push-button',
    window,
    pushButton: false,
    ...honest(p),
  });
  assert.ok(hasCode(lock.error, 'PAIRING_PUSH_BUTTON_REFUSED'));
  assert.equal(window.status(0).failures, 0, 'a refusal by model is not a failed attempt');
});

test('a wrong setup code fails on both sides and counts as one failed attempt', () => {
  const p = pins();
  const window = new PairingWindow();
  window.open(0, 'button');
  const r = runSetupCode(window, p, '1234-5678-9013');
  assert.ok(hasCode(r.error, 'PAIRING_CONFIRMATION_FAILED'));
  assert.equal(r.last?.outcome, undefined, "the hub hung up after the device's confirmation failed");
  assert.equal(window.status(0).failures, 1, 'an attempt abandoned after the share still counts');
  assert.equal(window.status(0).open, true);
});

test('keys swapped by a proxy make the confirmations fail on both sides, even with the right code', () => {
  const p = pins();
  const proxy = pins();
  const window = new PairingWindow();
  window.open(0, 'button');
  // The hub sees the proxy's key as the device's; the device sees the proxy's key as the hub's.
  const r = run({
    mode: 'setup-code',
    code: CODE,
    window,
    hubSees: { own: p.hub, peer: proxy.device },
    deviceSees: { own: p.device, peer: proxy.hub },
  });
  assert.ok(hasCode(r.error, 'PAIRING_CONFIRMATION_FAILED'));
  const pb = run({
    mode: 'push-button',
    window,
    hubSees: { own: p.hub, peer: proxy.device },
    deviceSees: { own: p.device, peer: proxy.hub },
  });
  assert.ok(hasCode(pb.error, 'PAIRING_FINGERPRINT_MISMATCH'));
});

test('a recorded transcript replayed to the device fails: its share is fresh every time', () => {
  const p = pins();
  const window = new PairingWindow();
  window.open(0, 'button');
  const recorded: Array<[string, string]> = [];
  const first = run({
    mode: 'setup-code',
    code: CODE,
    window,
    ...honest(p),
    tap: (a, v) => recorded.push([a, v]),
  });
  assert.ifError(first.error);
  assert.equal(recorded.length, 3);
  window.open(0, 'button');
  const replay = device({ window, hubPin: p.hub, devicePin: p.device });
  const steps = recorded.map(([a, v]) => replay.step(a, v, 0));
  assert.equal(steps[1]!.done, false);
  assert.notEqual(steps[1]!.reply, undefined);
  assert.deepEqual(parseDeviceMessage(steps[2]!.reply), { t: 'refused', code: 'PAIRING_CONFIRMATION_FAILED' });
  assert.equal(steps[2]!.outcome?.kind, 'failed');
  assert.equal(window.status(0).failures, 1);
});

test(
  'the device gives its model document in parts before the deciding step; the hub judges it there, and a ' +
    'refusal ends the exchange with no attempt counted and nothing pinned',
  () => {
    const p = pins();
    const window = new PairingWindow();
    const doc = JSON.stringify({ schema: 'bulwark.model/v1', id: 'plug', description: 'ü'.repeat(400) });
    const bytes = new Uint8Array(Buffer.from(doc, 'utf8'));
    const seen: Array<[string | undefined, string, string]> = [];
    let parts = 0;
    for (const mode of ['setup-code', 'push-button'] as const) {
      window.open(0, 'owner');
      const r = run({
        mode,
        ...(mode === 'setup-code' ? { code: CODE } : {}),
        window,
        ...honest(p),
        modelDocument: bytes,
        acceptModel: (d, id, m) => seen.push([d, id, m]),
        tap: (action) => (parts += action === 'model' ? 1 : 0),
      });
      assert.ifError(r.error);
      assert.equal(r.result?.modelDocument, doc, `${mode}: the hub has the whole document`);
    }
    assert.deepEqual(seen, [
      [doc, 'plug', 'setup-code'],
      [doc, 'plug', 'push-button'],
    ]);
    assert.equal(parts, 2 * Math.ceil(bytes.length / 150), 'one request per 150-byte part');
    for (const mode of ['setup-code', 'push-button'] as const) {
      window.open(0, 'owner');
      const refused = run({
        mode,
        ...(mode === 'setup-code' ? { code: CODE } : {}),
        window,
        ...honest(p),
        modelDocument: bytes,
        acceptModel: () => {
          throw new PairingRefusedError('PAIRING_PUSH_BUTTON_REFUSED');
        },
      });
      assert.ok(hasCode(refused.error, 'PAIRING_PUSH_BUTTON_REFUSED'), `${mode}: acceptModel's error ends it`);
      assert.equal(refused.last?.outcome, undefined, `${mode}: the device neither pinned nor counted anything`);
      assert.deepEqual(window.status(1), { open: true, closesAt: 300_000, failures: 0, openedBy: 'owner' });
    }
    const none = run({ mode: 'push-button', window, ...honest(p), acceptModel: (d, id, m) => seen.push([d, id, m]) });
    assert.ifError(none.error);
    assert.equal(none.result?.modelDocument, undefined);
    assert.deepEqual(seen.at(-1), [undefined, 'plug', 'push-button'], 'a device without a document: judged by id');
  },
);

test('a model document over 64 KiB, a part out of order or of the wrong length is PAIRING_BAD_MESSAGE', () => {
  const p = pins();
  const window = new PairingWindow();
  window.open(0, 'owner');
  const big = run({
    mode: 'push-button',
    window,
    ...honest(p),
    modelDocument: new Uint8Array(MAX_PAIRING_MODEL_BYTES + 1),
  });
  assert.ok(hasCode(big.error, 'PAIRING_BAD_MESSAGE'));
  assert.match((big.error as Error).message, /modelBytes/);
  const params = (extra: string) =>
    `{"v":1,"t":"params","serial":"${SERIAL}","model":"plug","salt":"${record.pbkdf2.salt}",` +
    `"iterations":1000${extra}}`;
  assert.equal(parseDeviceMessage(params(',"modelBytes":65536')).t, 'params');
  for (const bad of [',"modelBytes":65537', ',"modelBytes":0', ',"modelBytes":"1"', ',"modelBytes":1.5'])
    assert.throws(
      () => parseDeviceMessage(params(bad)),
      (e) => hasCode(e, 'PAIRING_BAD_MESSAGE'),
      bad,
    );
  const hub = new HubPairingExchange({ mode: 'push-button', ownPin: p.hub, peerPin: p.device });
  hub.start();
  const fingerprints = encodeDeviceMessage({
    t: 'fingerprints',
    serial: SERIAL,
    model: 'plug',
    hub: p.hub,
    device: p.device,
    modelBytes: 200,
  });
  assert.equal(hub.receive(fingerprints).kind, 'send');
  const skipped = encodeDeviceMessage({ t: 'model', i: 1, d: new Uint8Array(50) });
  assert.throws(
    () => hub.receive(skipped),
    (e) => hasCode(e, 'PAIRING_BAD_MESSAGE'),
    'part 1 before part 0',
  );
  const hub2 = new HubPairingExchange({ mode: 'push-button', ownPin: p.hub, peerPin: p.device });
  hub2.start();
  hub2.receive(fingerprints);
  const short = encodeDeviceMessage({ t: 'model', i: 0, d: new Uint8Array(10) });
  assert.throws(
    () => hub2.receive(short),
    (e) => hasCode(e, 'PAIRING_BAD_MESSAGE'),
    'a short part',
  );
  const dev = device({ window, hubPin: p.hub, devicePin: p.device, modelDocument: new Uint8Array(10) });
  dev.step('hello', encodeHubMessage({ t: 'hello', mode: 'push-button' }).value, 0);
  assert.match(dev.step('model', encodeHubMessage({ t: 'model', i: 0 }).value, 0).reply, /"t":"model"/);
  const again = dev.step('model', encodeHubMessage({ t: 'model', i: 0 }).value, 0);
  assert.match(again.reply, /PAIRING_BAD_MESSAGE/, 'each part is given once, in order');
  assert.equal(window.status(0).failures, 0);
});

test('the window: closed refuses, expires after windowMs, closes after maxFailures, refuses the next attempt', () => {
  const window = new PairingWindow({ windowMs: 1_000, maxFailures: 20 });
  assert.equal(window.admit(0), 'PAIRING_WINDOW_CLOSED');
  window.open(100, 'button');
  assert.equal(window.admit(1_099), undefined);
  assert.equal(window.admit(1_100), 'PAIRING_WINDOW_CLOSED');
  assert.equal(window.status(1_100).reason, 'expired');
  window.open(2_000, 'button');
  for (let i = 0; i < 20; i++) assert.equal(window.beginAttempt(2_000), undefined, `attempt ${i + 1} is admitted`);
  assert.equal(window.beginAttempt(2_000), 'PAIRING_TOO_MANY_ATTEMPTS', 'the 21st attempt is refused');
  assert.equal(window.status(2_000).reason, 'too-many-failures');
  window.open(3_000, 'owner');
  assert.equal(window.beginAttempt(3_000), undefined, 'a new window starts a new count');
});

test('the 20th attempt may still succeed; the 21st is refused with the right code', () => {
  const p = pins();
  const window = new PairingWindow();
  window.open(0, 'button');
  for (let i = 0; i < 19; i++) {
    const r = runSetupCode(window, p, '0000-0000-0000');
    assert.ok(hasCode(r.error, 'PAIRING_CONFIRMATION_FAILED'));
  }
  const twentieth = runSetupCode(window, p, CODE);
  assert.ifError(twentieth.error);
  window.open(0, 'button');
  for (let i = 0; i < 20; i++) runSetupCode(window, p, '0000-0000-0000');
  const r = runSetupCode(window, p, CODE);
  assert.ok(hasCode(r.error, 'PAIRING_TOO_MANY_ATTEMPTS'));
});

test('the hub limit and an out-of-order message are refused without counting an attempt', () => {
  const p = pins();
  const window = new PairingWindow({ maxHubs: 1 });
  window.open(0, 'button');
  const full = device({ window, hubPin: p.hub, devicePin: p.device, hubs: 1 });
  assert.deepEqual(
    parseDeviceMessage(full.step('hello', encodeHubMessage({ t: 'hello', mode: 'setup-code' }).value, 0).reply),
    { t: 'refused', code: 'PAIRING_HUB_LIMIT' },
  );
  const early = device({ window, hubPin: p.hub, devicePin: p.device });
  const step = early.step('confirm', encodeHubMessage({ t: 'confirm', cp: randomBytes(32) }).value, 0);
  assert.deepEqual(parseDeviceMessage(step.reply), { t: 'refused', code: 'PAIRING_BAD_MESSAGE' });
  assert.equal(window.status(0).failures, 0);
});

test('messages round-trip and anything else is PAIRING_BAD_MESSAGE', () => {
  const m = encodeHubMessage({ t: 'fingerprints', hub: randomBytes(32), device: randomBytes(32) });
  assert.deepEqual(encodeHubMessage(parseHubMessage(m.action, m.value)), m);
  const d = encodeDeviceMessage({
    t: 'params',
    serial: SERIAL,
    model: 'lock',
    salt: randomBytes(32),
    iterations: 10_000,
  });
  assert.equal(encodeDeviceMessage(parseDeviceMessage(d)), d);
  for (const [action, value] of [
    ['hello', '{"v":1,"t":"hello","mode":"guess"}'],
    ['hello', '{"v":2,"t":"hello","mode":"push-button"}'],
    ['share', '{"v":1,"t":"share","x":"AAAA"}'],
    ['hello', '{"v":1,"t":"hello","mode":"push-button","extra":1}'],
    ['share', '{"v":1,"t":"hello","mode":"push-button"}'],
    ['nope', '{}'],
    ['hello', 42],
  ] as const) {
    assert.throws(
      () => parseHubMessage(action, value),
      (e) => e instanceof PairingError && e.code === 'PAIRING_BAD_MESSAGE',
      `${action} ${String(value)}`,
    );
  }
  assert.throws(
    () => parseDeviceMessage('{"v":1,"t":"params","serial":"x","model":"plug","salt":"","iterations":1}'),
    (e) => hasCode(e, 'PAIRING_BAD_MESSAGE'),
  );
});

test('fuzz: any action and value into the device core: a refusal or a next step, never throws, never pins', () => {
  const hello = fc.constantFrom(
    ...(['setup-code', 'push-button'] as const).map((mode) => encodeHubMessage({ t: 'hello', mode })),
  );
  const junk = fc.record({
    action: fc.oneof(fc.constantFrom('hello', 'share', 'confirm', 'fingerprints'), fc.string()),
    value: fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
    ),
  });
  fc.assert(
    fc.property(fc.option(hello, { nil: undefined }), fc.array(junk, { maxLength: 6 }), (first, rest) => {
      const p = pins();
      const window = new PairingWindow();
      window.open(0, 'button');
      const dev = device({ window, hubPin: p.hub, devicePin: p.device });
      const steps = [...(first ? [first] : []), ...rest];
      for (const s of steps) {
        const step = dev.step(s.action, s.value, 0);
        parseDeviceMessage(step.reply); // always a well-formed answer
        assert.notEqual(step.outcome?.kind, 'paired');
      }
      assert.ok(window.status(0).failures <= 1);
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 500) },
  );
});

test('config: unsafe values are refused by key', () => {
  assert.throws(
    () => validatePairingConfig({ windowMs: 3_600_000 }),
    (e) => hasCode(e, 'PAIRING_CONFIG_INVALID') && /windowMs/.test((e as Error).message),
  );
  assert.throws(() => validatePairingConfig({ maxFailures: 0 }), /maxFailures/);
  assert.throws(() => validatePairingConfig({ nope: 1 } as never), /nope/);
});
