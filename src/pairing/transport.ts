// The pairing exchange over the channel: the thin edge around the pure core in protocol.ts.
// The device serves it on a channel from a peer whose key it has not pinned; the hub runs it
// on a channel to a device whose key it does not know yet. Both are ordinary mutual-TLS 1.3
// channels (framed, schema-checked); the pairing messages are string values inside them.
import {
  connectChannel,
  spkiSha256,
  ChannelRequestError,
  type ChannelConfig,
  type ChannelConnection,
  type ChannelClientContext,
  type ChannelIdentity,
  type ChannelResumption,
} from '../channel/index.ts';
import { PairingError } from './errors.ts';
import {
  PAIRING_CAPABILITY,
  HubPairingExchange,
  MAX_PAIRING_MODEL_BYTES,
  PAIRING_MODEL_PART_BYTES,
  defaultPairingConfig,
  type AcceptPairingModel,
  type DevicePairingExchange,
  type DevicePairingOutcome,
  type DevicePairingStep,
  type HubPairingResult,
  type PairingMode,
} from './protocol.ts';

/** Options of {@link servePairingExchange}. */
export interface ServePairingOptions {
  /** The exchange must end within this, ms; then the channel closes with 'pairing-timeout'. */
  readonly timeoutMs?: number;
  /** Monotonic clock, ms (default performance.now). */
  readonly now?: () => number;
  /**
   * Hears every step, before the answer goes out: the place to pin a hub that paired, durably.
   * If it throws (or its promise rejects) the answer is INTERNAL instead, and the hub is not paired.
   */
  readonly onStep?: (step: DevicePairingStep) => void | Promise<void>;
  /** Told when the peer asked for anything but pairing (an unpaired hub trying to use the device). */
  readonly onNotPaired?: (capability: string, action: string) => void;
  /** Told when the exchange timed out. */
  readonly onTimeout?: () => void;
  /** Told when the peer left mid-attempt (after the device's confirmation, before its own): a failed attempt. */
  readonly onAbandoned?: (outcome: DevicePairingOutcome) => void;
}

/**
 * Device side: serves one pairing exchange on `conn`, a channel whose peer is not pinned. Any
 * request other than pairing is answered CAPABILITY_DENIED and the channel closed ('not-paired');
 * the channel also closes when the exchange ends ('paired' or 'pairing-ended') or times out.
 *
 * @example
 * onConnection: (conn) => servePairingExchange(conn, new DevicePairingExchange(ctx), { onStep: (s) => journal(s) })
 */
export function servePairingExchange<P>(
  conn: ChannelConnection<P>,
  exchange: DevicePairingExchange,
  options: ServePairingOptions = {},
): void {
  const now = options.now ?? (() => performance.now());
  let over = false;
  const closeSoon = (reason: string): void => {
    over = true;
    // After the answer to the current request has been written.
    setImmediate(() => {
      void conn.close(reason);
    });
  };
  const timer = setTimeout(() => {
    if (over || !conn.isOpen) return;
    try {
      options.onTimeout?.();
    } catch {
      /* reporting must not break the exchange */
    }
    closeSoon('pairing-timeout');
  }, options.timeoutMs ?? defaultPairingConfig.exchangeTimeoutMs);
  timer.unref();
  conn.onClose(() => {
    clearTimeout(timer);
    const abandoned = exchange.abandon();
    if (abandoned) {
      try {
        options.onAbandoned?.(abandoned);
      } catch {
        /* as above */
      }
    }
  });
  conn.onRequest(async ({ capability, action, value }) => {
    if (over) throw new ChannelRequestError('BAD_REQUEST', 'the pairing exchange is over');
    if (capability !== PAIRING_CAPABILITY) {
      try {
        options.onNotPaired?.(capability, action);
      } catch {
        /* as above */
      }
      closeSoon('not-paired');
      throw new ChannelRequestError('CAPABILITY_DENIED', 'this hub is not paired with this device');
    }
    const step = exchange.step(action, value, now());
    // No second request is taken while this one's outcome is being recorded.
    if (step.done) over = true;
    try {
      await options.onStep?.(step);
    } catch {
      closeSoon('pairing-ended');
      throw new ChannelRequestError('INTERNAL', 'the device could not complete pairing');
    }
    if (step.done) closeSoon(step.outcome?.kind === 'paired' ? 'paired' : 'pairing-ended');
    return step.reply;
  });
}

/** Options of {@link pairWithDevice}. */
export interface PairWithDeviceOptions {
  readonly host: string;
  readonly port: number;
  /** The hub's own key and certificate. */
  readonly identity: ChannelIdentity;
  /** The same identity parsed once (a hub that pairs often passes its shared one). */
  readonly context?: ChannelClientContext;
  readonly mode: PairingMode;
  /** The setup code from the device's label (setup-code mode). */
  readonly setupCode?: string;
  readonly config?: Partial<ChannelConfig>;
  /** Most PBKDF2 iterations to compute for the device's verifier parameters. */
  readonly maxIterations?: number;
  /** Judges the device's model before the deciding step; throwing ends the exchange with that error. */
  readonly acceptModel?: AcceptPairingModel;
  readonly signal?: AbortSignal;
}

/**
 * What {@link pairWithDevice} returns: the exchange's result, where the device was, and how to
 * resume its TLS session.
 */
export interface PairedDevice extends HubPairingResult {
  readonly host: string;
  readonly port: number;
  /**
   * The pairing connection's session ticket (a secret: memory only), remembered with the
   * device's confirmed pin, so the first pinned channel can resume instead of a full handshake.
   */
  readonly resumption?: ChannelResumption;
}

/** The steps of the longest exchange (setup code: hello, each part of the largest model, share, confirm), plus one. */
const MAX_STEPS = 4 + Math.ceil(MAX_PAIRING_MODEL_BYTES / PAIRING_MODEL_PART_BYTES);

/**
 * Hub side: connects to the device's hub port, runs the exchange and returns the device's
 * confirmed key pin. The TLS handshake accepts whatever key the device shows: the exchange is
 * what confirms it (setup code: under SPAKE2+; push button: by both sides comparing pins).
 * Throws PairingRefusedError (the device's code), PairingError ('PAIRING_CONFIRMATION_FAILED',
 * 'PAIRING_FINGERPRINT_MISMATCH', 'PAIRING_BAD_MESSAGE') or a ChannelError.
 *
 * @example
 * const paired = await pairWithDevice({
 *   host, port: 5541, identity: hubKeys, mode: 'setup-code', setupCode: '1234-5678-9012',
 * });
 * store.add(paired.serial, paired.devicePin);
 */
export async function pairWithDevice(options: PairWithDeviceOptions): Promise<PairedDevice> {
  const ownPin = spkiSha256(
    Buffer.isBuffer(options.identity.cert) ? options.identity.cert : String(options.identity.cert),
  );
  const conn = await connectChannel<{ readonly unverified: true }>({
    host: options.host,
    port: options.port,
    key: options.identity.key,
    cert: options.identity.cert,
    ...(options.context ? { context: options.context } : {}),
    ...(options.config ? { config: options.config } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    // Not pinned yet: pairing is the step that decides whether this key is the device's.
    pinnedPeer: () => ({ unverified: true }),
  });
  let ok = false;
  try {
    const exchange = new HubPairingExchange({
      mode: options.mode,
      ownPin,
      peerPin: conn.peerSpkiSha256,
      ...(options.setupCode !== undefined ? { setupCode: options.setupCode } : {}),
      ...(options.maxIterations !== undefined ? { maxIterations: options.maxIterations } : {}),
      ...(options.acceptModel ? { acceptModel: options.acceptModel } : {}),
    });
    let step = exchange.start();
    for (let i = 0; i < MAX_STEPS; i++) {
      if (step.kind === 'done') {
        ok = true;
        const resumption = conn.resumption;
        return { ...step.result, host: options.host, port: options.port, ...(resumption ? { resumption } : {}) };
      }
      step = exchange.receive(await conn.request(PAIRING_CAPABILITY, step.action, step.value));
    }
    throw new PairingError('PAIRING_BAD_MESSAGE', 'the device did not finish the exchange');
  } finally {
    // Not awaited: the device's answer is in, and waiting for its FIN adds nothing.
    void conn.close(ok ? 'paired' : 'pairing-failed');
  }
}
