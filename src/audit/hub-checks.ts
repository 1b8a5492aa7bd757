/**
 * Checks of the local-hub surface. Black-box, against the device's hub port (--hub host:port):
 * a handful of connections with a throwaway key the auditor makes at audit time, each asking one
 * thing (a pairing hello, a capability) and hanging up; nothing is guessed, so no pairing
 * attempt is counted against the device's window. White-box: the model catalogue, the pairing
 * limits, the bundle's verifier and the paired hubs (hubs.json) in the state folder.
 */
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { join } from 'node:path';
import type { ModelSpec } from '../models/index.ts';
import type { AuditContext } from './context.ts';
import { acceptsConfig, notTested, verdict, type CheckOutcome } from './context.ts';
import { readBounded, readJsonBounded } from './files.ts';
import { readJournal } from './stored-journal.ts';
import { auditedModel, isBulwark, NOT_BULWARK_DEVICE } from './device-info.ts';
import type { Evidence } from './types.ts';

const NO_HUB = "needs the device's hub port: give --hub host:port";

/** host and port of --hub. */
function hubTarget(ctx: AuditContext): { host: string; port: number; text: string } | undefined {
  const value = ctx.inputs.hub;
  if (value === undefined) return undefined;
  const url = new URL(`x://${value}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), text: value };
}

/** A throwaway hub identity, made once per audit: never pinned by anything. */
const identities = new WeakMap<AuditContext, Promise<{ key: string; cert: string; pin: string }>>();
function auditorIdentity(ctx: AuditContext): Promise<{ key: string; cert: string; pin: string }> {
  let p = identities.get(ctx);
  if (p === undefined) {
    p = (async () => {
      const { createHubIdentity } = await import('../hub/index.ts');
      const id = await createHubIdentity('bulwark-audit');
      return { key: id.key, cert: id.cert, pin: 'sha256:' + id.pin.toString('hex') };
    })();
    identities.set(ctx, p);
  }
  return p;
}

/** What one raw TLS connection to the hub port showed. */
interface RawProbe {
  readonly handshake: boolean;
  readonly protocol?: string;
  /** Bytes the device sent after the handshake (its channel greeting), within the wait. */
  readonly bytesAfterHandshake: number;
  readonly ended: 'peer' | 'wait-over' | 'error';
  readonly error?: string;
}

/**
 * One TLS connection to the hub port; waits `waitMs` after the handshake for the device to send or hang up. Sends
 * nothing.
 */
function rawTlsProbe(
  host: string,
  port: number,
  o: {
    minVersion: SecureVersion;
    maxVersion: SecureVersion;
    key?: string;
    cert?: string;
    timeoutMs: number;
    waitMs: number;
  },
): Promise<RawProbe> {
  return new Promise((resolve) => {
    let handshake = false,
      protocol: string | undefined,
      bytes = 0,
      settled = false;
    const finish = (ended: RawProbe['ended'], error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        handshake,
        ...(protocol ? { protocol } : {}),
        bytesAfterHandshake: bytes,
        ended,
        ...(error ? { error } : {}),
      });
    };
    const socket = tlsConnect(
      {
        host,
        port,
        rejectUnauthorized: false,
        minVersion: o.minVersion,
        maxVersion: o.maxVersion,
        ...(o.key && o.cert ? { key: o.key, cert: o.cert } : {}),
      },
      () => {
        handshake = true;
        protocol = socket.getProtocol() ?? undefined;
        clearTimeout(timer);
        timer = setTimeout(() => finish('wait-over'), o.waitMs);
      },
    );
    let timer = setTimeout(() => finish('error', 'timeout'), o.timeoutMs);
    socket.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish(handshake ? 'peer' : 'error', err.code ?? err.message.slice(0, 80)),
    );
    socket.on('close', () =>
      finish(handshake ? 'peer' : 'error', handshake ? undefined : 'closed during the handshake'),
    );
  });
}

/** The device's answer to one request on a fresh channel from the auditor's unpinned key. */
interface ChannelProbe {
  /** The channel opened (the device greeted the key). */
  readonly opened: boolean;
  /** The device's pin as the channel showed it. */
  readonly devicePin?: string;
  /** The answer's text, or the refusal's remote code. */
  readonly answer?: string;
  readonly refusedCode?: string;
  /** How the channel ended after the answer. */
  readonly closeReason?: string;
  readonly error?: string;
}

/** Opens a channel with the auditor's key, sends one request, waits for the answer and the device's hang-up, closes. */
async function channelProbe(
  ctx: AuditContext,
  capability: string,
  action: string,
  value?: string,
): Promise<ChannelProbe> {
  const target = hubTarget(ctx)!;
  const id = await auditorIdentity(ctx);
  const { connectChannel, ChannelRequestError } = await import('../channel/index.ts');
  const limits = ctx.inputs.limits;
  let conn;
  try {
    conn = await connectChannel<{ readonly unverified: true }>({
      host: target.host,
      port: target.port,
      key: id.key,
      cert: id.cert,
      config: { handshakeTimeoutMs: limits.connectTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs },
      pinnedPeer: () => ({ unverified: true }),
    });
  } catch (err) {
    return {
      opened: false,
      error: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message.slice(0, 100)}`,
    };
  }
  const devicePin = 'sha256:' + conn.peerSpkiSha256.toString('hex');
  let answer: string | undefined, refusedCode: string | undefined, error: string | undefined;
  try {
    const v = await conn.request(capability, action, value);
    answer = typeof v === 'string' ? v.slice(0, 256) : JSON.stringify(v)?.slice(0, 256);
  } catch (err) {
    if (err instanceof ChannelRequestError) refusedCode = err.remoteCode;
    else error = `${(err as { code?: string }).code ?? 'error'}`;
  }
  // The device closes a refused or finished exchange itself; wait briefly to see how.
  const info = await Promise.race([
    conn.closed,
    new Promise<undefined>((r) => {
      setTimeout(() => r(undefined), Math.min(2_000, limits.requestTimeoutMs)).unref();
    }),
  ]);
  if (info === undefined) await conn.close('audit-done');
  return {
    opened: true,
    devicePin,
    ...(answer !== undefined ? { answer } : {}),
    ...(refusedCode ? { refusedCode } : {}),
    ...(info
      ? { closeReason: `${info.initiator === 'peer' ? 'the device' : 'the auditor'}: ${info.reason}` }
      : { closeReason: 'still open after 2 s: closed by the auditor' }),
    ...(error ? { error } : {}),
  };
}

function pairingAnswer(p: ChannelProbe, parse: (v: unknown) => { t: string; code?: string }): string {
  if (!p.opened) return `no channel: ${p.error ?? 'refused'}`;
  if (p.refusedCode) return `request refused: ${p.refusedCode}`;
  if (p.answer === undefined) return `no answer (${p.error ?? 'none'})`;
  try {
    const m = parse(p.answer);
    return m.t === 'refused' ? `refused: ${m.code ?? '?'}` : `answered '${m.t}'`;
  } catch {
    return 'an answer that is not a pairing message';
  }
}

/** The device's journal (with --state), waited on for the auditor's two refused hellos under `pin`. */
async function refusedHelloJournalEvidence(ctx: AuditContext, pin: string): Promise<Evidence[]> {
  if (ctx.inputs.stateDir === undefined) return [];
  const until = Date.now() + ctx.inputs.limits.journalSettleMs;
  let seen = 0;
  for (;;) {
    const entries = (await readJournal(ctx)) ?? [];
    seen = entries.filter(
      (e) => e.surface === 'pairing' && e.identity === pin && e.event === 'pairing' && e.result === 'refused',
    ).length;
    if (seen >= 2 || Date.now() >= until) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return [
    {
      sent: "the device's journal, for the auditor's two refused hellos",
      received:
        seen >= 2 ? `both recorded as refused pairing attempts under the auditor's key pin` : `${seen} of 2 recorded`,
      finding: seen < 2,
    },
  ];
}

/**
 * hub.pairing-window: outside a window, an unpinned key's pairing hello is refused; a lock or camera refuses push
 * button outright.
 */
export async function checkPairingWindow(ctx: AuditContext): Promise<CheckOutcome> {
  const target = hubTarget(ctx);
  if (target === undefined) return notTested(NO_HUB);
  const { encodeHubMessage, parseDeviceMessage } = await import('../pairing/index.ts');
  const { allowsPushButtonPairing } = await import('../models/index.ts');
  const { model } = await auditedModel(ctx);
  const id = await auditorIdentity(ctx);
  const evidence: Evidence[] = [];
  const hello = (mode: 'setup-code' | 'push-button'): ReturnType<typeof encodeHubMessage> =>
    encodeHubMessage({ t: 'hello', mode });
  const setup = await channelProbe(ctx, 'pairing', 'hello', hello('setup-code').value);
  if (!setup.opened)
    return notTested(`the hub port ${target.text} did not open a channel: ${setup.error ?? 'refused'}`, [
      {
        sent: `TLS 1.3 channel to ${target.text} with a new key (${id.pin.slice(0, 23)}...)`,
        received: setup.error ?? 'refused',
      },
    ]);
  const setupText = pairingAnswer(setup, parseDeviceMessage);
  ctx.trace.hubProbe = { ...ctx.trace.hubProbe, setupCode: setupText };
  if (/answered 'params'/.test(setupText)) {
    return notTested(
      "the device's pairing window is open right now (its button was pressed or its owner opened it): the auditor " +
        'stopped after the hello and did not test a closed window; audit again when it has closed',
      [
        {
          sent: `pairing hello (setup code) from a key the device has never seen (${id.pin.slice(0, 23)}...)`,
          received: `${setupText}: the window is open; the auditor hung up (no share sent, so no attempt counted)`,
        },
      ],
    );
  }
  const closed = /refused: PAIRING_(WINDOW_CLOSED|TOO_MANY_ATTEMPTS)/.test(setupText);
  evidence.push({
    sent: `pairing hello (setup code) over TLS 1.3 from a key the device has never seen (${id.pin.slice(0, 23)}...)`,
    received: `${setupText}; then ${setup.closeReason ?? '?'}`,
    finding: !closed,
  });
  const push = await channelProbe(ctx, 'pairing', 'hello', hello('push-button').value);
  const pushText = pairingAnswer(push, parseDeviceMessage);
  ctx.trace.hubProbe = { ...ctx.trace.hubProbe, pushButton: pushText };
  const refusesPush = model !== undefined && !allowsPushButtonPairing(model);
  if (refusesPush) {
    evidence.push({
      sent: `pairing hello (push button) from the same kind of key (a ${model.name} must refuse push button)`,
      received: pushText,
      finding: !/refused: PAIRING_PUSH_BUTTON_REFUSED/.test(pushText),
    });
  } else {
    if (/answered 'fingerprints'/.test(pushText)) {
      return notTested('the pairing window opened while the auditor probed: audit again when it is closed', [
        ...evidence,
        { sent: 'pairing hello (push button)', received: `${pushText}; the auditor hung up` },
      ]);
    }
    evidence.push({
      sent: 'pairing hello (push button) from the same kind of key',
      received: pushText,
      finding: !/refused: PAIRING_(WINDOW_CLOSED|TOO_MANY_ATTEMPTS)/.test(pushText),
    });
  }
  evidence.push(...(await refusedHelloJournalEvidence(ctx, id.pin)));
  return verdict(
    evidence,
    `outside a pairing window the device refuses a new key's pairing${
      refusesPush ? `, and as a ${model.name} it refuses push button outright` : ''
    }`,
    (f) => `the device accepts pairing it should refuse: ${f.map((e) => `${e.sent} -> ${e.received}`).join('; ')}`,
  );
}

/** The key the hub port showed, against the bundle's web certificate (with --bundle). */
async function devicePinEvidence(ctx: AuditContext, devicePin: string | undefined): Promise<Evidence[]> {
  if (devicePin === undefined || ctx.inputs.bundleDir === undefined) return [];
  const { spkiSha256 } = await import('../channel/index.ts');
  const cert = await readBounded(join(ctx.inputs.bundleDir, 'web-cert.pem'), 65_536);
  if (!cert.ok) return [];
  const pin = 'sha256:' + spkiSha256(cert.text).toString('hex');
  return [
    {
      sent: "the key the hub port showed, against the bundle's web certificate (the key hubs pin)",
      received: pin === devicePin ? "the same key: the pin a hub stores is the unit's own" : 'a different key',
      finding: pin !== devicePin,
    },
  ];
}

/** The channel's limits (src/channel defaults), for the record. */
async function channelLimitsEvidence(): Promise<Evidence> {
  const { defaultChannelConfig: c } = await import('../channel/index.ts');
  return {
    sent: "the channel's limits (src/channel defaults)",
    received:
      `frames up to ${c.maxFrameBytes} bytes, ${c.maxInFlight} requests in flight, handshake within ` +
      `${c.handshakeTimeoutMs / 1000} s, dead after ${c.deadAfterMs / 1000} s of silence`,
  };
}

/**
 * channel.mutual-tls: the hub port speaks TLS 1.3 only, needs a client key, and gives an unpinned key nothing but
 * pairing.
 */
export async function checkChannelMutualTls(ctx: AuditContext): Promise<CheckOutcome> {
  const target = hubTarget(ctx);
  if (target === undefined) return notTested(NO_HUB);
  const id = await auditorIdentity(ctx);
  const limits = ctx.inputs.limits;
  const evidence: Evidence[] = [];
  const v12 = await rawTlsProbe(target.host, target.port, {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    key: id.key,
    cert: id.cert,
    timeoutMs: limits.connectTimeoutMs,
    waitMs: 500,
  });
  if (!v12.handshake && /ECONNREFUSED|timeout|EHOSTUNREACH/.test(v12.error ?? ''))
    return notTested(`nothing answered at the hub port ${target.text} (${v12.error ?? 'error'})`);
  evidence.push({
    sent: `TLS ClientHello offering only TLSv1.2, with a client key, to ${target.text}`,
    received: v12.handshake ? `handshake completed (${v12.protocol ?? '?'})` : `refused: ${v12.error ?? 'error'}`,
    finding: v12.handshake,
  });
  const bare = await rawTlsProbe(target.host, target.port, {
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    timeoutMs: limits.connectTimeoutMs,
    waitMs: 1_500,
  });
  const bareRefused = !bare.handshake || (bare.bytesAfterHandshake === 0 && bare.ended === 'peer');
  evidence.push({
    sent: 'TLS 1.3 without a client certificate, then waited 1.5 s',
    received: !bare.handshake
      ? `refused during the handshake: ${bare.error ?? 'error'}`
      : bare.bytesAfterHandshake === 0
        ? bare.ended === 'peer'
          ? 'the device hung up without sending a byte'
          : 'the device sent nothing but kept the connection open'
        : `the device sent ${bare.bytesAfterHandshake} bytes (a channel greeting) to a peer without a key`,
    finding: !bareRefused,
  });
  const { model } = await auditedModel(ctx);
  const capability = model?.capabilities[0]?.id ?? 'link';
  const action = model?.capabilities[0]?.actions.includes('get') ? 'get' : 'sync';
  const use = await channelProbe(ctx, capability, action);
  const denied = use.opened && use.refusedCode === 'CAPABILITY_DENIED' && /the device/.test(use.closeReason ?? '');
  evidence.push({
    sent: `channel request '${capability} ${action}' from a key the device has not pinned (${id.pin.slice(0, 23)}...)`,
    received: !use.opened
      ? `no channel: ${use.error ?? 'refused'}`
      : use.refusedCode
        ? `refused: ${use.refusedCode}; then ${use.closeReason ?? '?'}`
        : use.answer !== undefined
          ? `ANSWERED: ${use.answer.slice(0, 80)}`
          : `no answer (${use.error ?? '?'})`,
    finding: use.opened && !denied,
  });
  evidence.push(...(await devicePinEvidence(ctx, use.devicePin)), await channelLimitsEvidence());
  return verdict(
    evidence,
    'the hub port accepts TLS 1.3 with a client key only, and a key it has not pinned gets nothing but a pairing ' +
      'exchange',
    (f) => `the hub channel is not mutually authenticated: ${f.map((e) => e.received).join('; ')}`,
  );
}

/** Sensitive kinds of capability: ones whose misuse opens the home or looks into it. */
const SENSITIVE_KINDS = new Set(['lock', 'snapshot']);

/** The paired hubs in the state folder, or why not. */
async function pairedHubs(
  ctx: AuditContext,
): Promise<{ hubs?: Array<{ pin?: unknown; mode?: unknown; rights?: unknown }>; text: string; malformed?: boolean }> {
  if (ctx.inputs.stateDir === undefined) return { text: 'no --state' };
  const { value, reason } = await readJsonBounded(join(ctx.inputs.stateDir, 'hubs.json'), 1_048_576);
  if (reason === 'missing') return { hubs: [], text: 'hubs.json absent: no hub is paired' };
  const v = value as { version?: unknown; hubs?: unknown } | undefined;
  if (v === undefined || v.version !== 1 || !Array.isArray(v.hubs))
    return { text: `hubs.json is ${reason ?? 'not a list of paired hubs'}`, malformed: true };
  return {
    hubs: v.hubs as Array<{ pin?: unknown; mode?: unknown; rights?: unknown }>,
    text: `${v.hubs.length} paired hub(s)`,
  };
}

function sensitiveOf(model: ModelSpec): string[] {
  return model.capabilities.filter((c) => c.sensitive === true).map((c) => c.id);
}

/** pairing-verifier.json in the bundle (with --bundle): a SPAKE2+ verifier with enough PBKDF2 iterations. */
async function verifierEvidence(ctx: AuditContext): Promise<Evidence[]> {
  if (ctx.inputs.bundleDir === undefined) return [];
  const { pairingVerifierLimits, parsePairingVerifierRecord } = await import('../pairing/index.ts');
  const { value, reason } = await readJsonBounded(join(ctx.inputs.bundleDir, 'pairing-verifier.json'), 65_536);
  let text: string,
    finding = false;
  try {
    const r = parsePairingVerifierRecord(value);
    text = `a SPAKE2+ verifier (w0, L; no setup code), PBKDF2 ${r.pbkdf2.iterations} iterations`;
    finding = r.pbkdf2.iterations < pairingVerifierLimits.minIterations;
  } catch (err) {
    text =
      value === undefined ? (reason ?? 'unreadable') : `not a verifier record (${(err as Error).message.slice(0, 80)})`;
    finding = true;
  }
  return [{ sent: 'pairing-verifier.json in the bundle', received: text, finding }];
}

/** The paired hubs' pairing modes (with --state): none by push button where the model refuses it. */
async function pairedHubModeEvidence(ctx: AuditContext, push: boolean): Promise<Evidence[]> {
  const hubs = await pairedHubs(ctx);
  if (hubs.hubs !== undefined) {
    const pushPaired = hubs.hubs.filter((h) => h.mode === 'push-button').length;
    return [
      {
        sent: 'hubs.json in the state folder',
        received: `${hubs.text}${pushPaired ? `, ${pushPaired} by push button` : ''}`,
        finding: !push && pushPaired > 0,
      },
    ];
  }
  return hubs.malformed ? [{ sent: 'hubs.json in the state folder', received: hubs.text }] : [];
}

/** config.pairing-mode: a short window with an attempt limit; sensitive classes pair by setup code (SPAKE2+) only. */
export async function checkPairingMode(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_DEVICE);
  const { model, how } = await auditedModel(ctx);
  if (model === undefined) return notTested(`the firmware's pairing rules are known per catalogue model, and ${how}`);
  const { allowsPushButtonPairing } = await import('../models/index.ts');
  const { defaultPairingConfig: p, validatePairingConfig } = await import('../pairing/index.ts');
  const refuses = (partial: Record<string, number>): boolean => !acceptsConfig(() => validatePairingConfig(partial));
  const sensitiveClass = model.riskClass !== 'standard' || ctx.inputs.decision.tier >= 3;
  const push = allowsPushButtonPairing(model);
  const evidence: Evidence[] = [
    {
      sent: 'the audited model',
      received: `${model.name} (risk class ${model.riskClass}; ${how}); profile tier ${ctx.inputs.decision.tier}`,
    },
    {
      sent: 'pairing modes the firmware allows for this model (src/models allowsPushButtonPairing)',
      received: push ? 'setup code (SPAKE2+) and push button' : 'setup code (SPAKE2+) only',
      finding: sensitiveClass && push,
    },
    {
      sent: "the pairing window's defaults (src/pairing)",
      received:
        `${p.windowMs / 60_000} min, closed after ${p.maxFailures} failed attempts, after a pairing or on ` +
        `expiry; one exchange within ${p.exchangeTimeoutMs / 1000} s; ${p.maxExchanges} at once`,
      finding: p.windowMs > 600_000 || p.maxFailures > 20,
    },
    {
      sent: 'a configuration with a 1-hour window, and one allowing 1,000 failures',
      received: refuses({ windowMs: 3_600_000 }) && refuses({ maxFailures: 1_000 }) ? 'both refused' : 'accepted',
      finding: !(refuses({ windowMs: 3_600_000 }) && refuses({ maxFailures: 1_000 })),
    },
  ];
  evidence.push(...(await verifierEvidence(ctx)), ...(await pairedHubModeEvidence(ctx, push)));
  const seen = ctx.trace.hubProbe?.pushButton;
  if (seen !== undefined)
    evidence.push({
      sent: "the hub port's answer to a push-button hello (hub.pairing-window)",
      received: seen,
      finding: !push && !/PAIRING_PUSH_BUTTON_REFUSED/.test(seen),
    });
  return verdict(
    evidence,
    push
      ? `pairing windows are short (${p.windowMs / 60_000} min, ${p.maxFailures} failures) and bounded by configuration`
      : `a ${model.name} pairs only by its setup code (SPAKE2+ verifier), inside a short window with an attempt limit`,
    (f) => `pairing is looser than the class allows: ${f.map((e) => `${e.sent} -> ${e.received}`).join('; ')}`,
  );
}

/** config.hub-acl: each paired hub has a list of rights; sensitive capabilities are never granted without the owner. */
export async function checkHubAcl(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_DEVICE);
  const { model, how } = await auditedModel(ctx);
  if (model === undefined) return notTested(`the firmware's access rules are known per catalogue model, and ${how}`);
  const { initialAccess } = await import('../hub/index.ts');
  const { allowsPushButtonPairing } = await import('../models/index.ts');
  const sensitive = sensitiveOf(model);
  const unmarked = model.capabilities
    .filter((c) => SENSITIVE_KINDS.has(c.kind) && c.sensitive !== true)
    .map((c) => c.id);
  const initial = initialAccess(model);
  const evidence: Evidence[] = [
    {
      sent: `${model.name}'s capabilities in the catalogue`,
      received: `${model.capabilities.map((c) => `${c.id}${c.sensitive ? ' (sensitive)' : ''}`).join(', ' + '')}${
        unmarked.length ? `; ${unmarked.join(', ')} opens or looks into the home but is not marked ` + `sensitive` : ''
      }`,
      finding: unmarked.length > 0,
    },
    {
      sent: 'the access list a hub gives a newly paired device (src/hub initialAccess)',
      received: `${initial.join(', ') || 'nothing'}${
        initial.some((c) => sensitive.includes(c))
          ? ': includes ' + 'sensitive capabilities'
          : sensitive.length
            ? `; ${sensitive.join(', ')} only after the owner grants it (bulwark hub grant)`
            : ''
      }`,
      finding: initial.some((c) => sensitive.includes(c)),
    },
    {
      sent: 'the rights the device gives a hub by pairing mode (src/device hub surface)',
      received: allowsPushButtonPairing(model)
        ? 'setup code: every capability; push button: the non-sensitive ones'
        : "setup code only: the hub that proved the code; the hub's own access list gates the sensitive ones",
    },
  ];
  const hubs = await pairedHubs(ctx);
  if (hubs.malformed)
    evidence.push({ sent: 'hubs.json in the state folder', received: `${hubs.text} (the device pins nobody then)` });
  else if (hubs.hubs !== undefined) {
    const ids = new Set(model.capabilities.map((c) => c.id));
    const bad = hubs.hubs.filter(
      (h) => !Array.isArray(h.rights) || !(h.rights as unknown[]).every((r) => typeof r === 'string' && ids.has(r)),
    );
    const pushSensitive = hubs.hubs.filter(
      (h) =>
        h.mode === 'push-button' &&
        Array.isArray(h.rights) &&
        (h.rights as string[]).some((r) => sensitive.includes(r)),
    );
    evidence.push({
      sent: "hubs.json in the state folder: each hub's rights",
      received: `${hubs.text}${
        hubs.hubs.length
          ? `: ${hubs.hubs
              .map(
                (h) => `${String(h.mode)} ` + `[${Array.isArray(h.rights) ? (h.rights as string[]).join(', ') : '?'}]`,
              )
              .join('; ')}`
          : ''
      }${bad.length ? `; ${bad.length} without a valid list` : ''}${
        pushSensitive.length ? `; ` + `${pushSensitive.length} push-button hub(s) hold sensitive rights` : ''
      }`,
      finding: bad.length > 0 || pushSensitive.length > 0,
    });
  }
  return verdict(
    evidence,
    sensitive.length
      ? `every paired hub has a rights list, and ${sensitive.join(', ')} is used only after the owner's explicit grant`
      : "every paired hub has a rights list limited to the model's capabilities",
    (f) => `hub rights are broader than they should be: ${f.map((e) => e.received).join('; ')}`,
  );
}
