/**
 * The channel's limits: one typed object with its secure default beside it. Every value from
 * outside the process is bounded by one of these.
 */
import { ChannelConfigError } from './errors.ts';

/** Limits of a channel. Times in milliseconds, sizes in bytes. */
export interface ChannelConfig {
  /** Largest frame body accepted or sent, bytes (512..1 MiB). */
  readonly maxFrameBytes: number;
  /** A request with no answer after this long fails with 'CHANNEL_REQUEST_TIMEOUT', ms. */
  readonly requestTimeoutMs: number;
  /** Send a ping after this long with nothing received, ms. */
  readonly keepaliveMs: number;
  /** Consider the peer dead after this long with nothing received, ms (at least 2x keepaliveMs). */
  readonly deadAfterMs: number;
  /** Most requests outstanding in each direction. */
  readonly maxInFlight: number;
  /** A TLS handshake (and, for a client, the peer's first answer) must finish within this, ms. */
  readonly handshakeTimeoutMs: number;
  /**
   * Most bytes waiting to go out before the channel closes with 'CHANNEL_BACKPRESSURE', bytes:
   * a peer that does not read, or a sender outrunning the link, cannot grow memory past it.
   */
  readonly maxQueuedBytes: number;
  /** Most simultaneous connections a server holds (handshaking ones included). */
  readonly maxConnections: number;
  /** How long a server honours a TLS session ticket for resumption, ms (1 s..7 days). */
  readonly resumptionLifetimeMs: number;
  /** The first reconnect delay, ms; doubles with each failed attempt. */
  readonly reconnectBaseMs: number;
  /** The longest reconnect delay, ms. */
  readonly reconnectMaxMs: number;
  /** Fraction of each delay taken off at random (0: none, 1: anywhere from 0 to the delay). */
  readonly reconnectJitter: number;
  /** Failed attempts in a row before a reconnecting client gives up (Infinity: never). */
  readonly reconnectMaxAttempts: number;
}

/** The secure default. */
export const defaultChannelConfig: Readonly<ChannelConfig> = Object.freeze({
  maxFrameBytes: 65_536,
  requestTimeoutMs: 5_000,
  keepaliveMs: 15_000,
  deadAfterMs: 45_000,
  maxInFlight: 64,
  handshakeTimeoutMs: 10_000,
  maxQueuedBytes: 1_048_576,
  maxConnections: 16,
  resumptionLifetimeMs: 3_600_000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 30_000,
  reconnectJitter: 0.5,
  reconnectMaxAttempts: Infinity,
});

/** Hard bounds that no config may cross. */
export const CHANNEL_CONFIG_BOUNDS = Object.freeze({
  minFrameBytes: 512,
  maxFrameBytes: 1_048_576,
  maxQueuedBytes: 67_108_864,
  maxInFlight: 4_096,
  maxConnections: 65_536,
  minTimeMs: 10,
  maxTimeMs: 86_400_000,
  maxResumptionLifetimeMs: 604_800_000,
});

function requireInt(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ChannelConfigError(key, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Configs this module produced: frozen and valid, so they need no second look. */
const validated = new WeakSet<object>();
/** The default, validated on first use. */
let validatedDefault: ChannelConfig | undefined;

/**
 * Validates a (partial) config against the defaults. Refuses unknown keys and unsafe values
 * (no keepalive, unbounded frames or queues, a reconnect storm), naming the key at fault.
 */
export function validateChannelConfig(config?: Partial<ChannelConfig>): ChannelConfig {
  if (config === undefined) return (validatedDefault ??= checkChannelConfig({}));
  if (config === null || typeof config !== 'object') throw new ChannelConfigError('config', 'must be an object');
  if (validated.has(config)) return config as ChannelConfig;
  return checkChannelConfig(config);
}

function checkChannelConfig(config: Partial<ChannelConfig>): ChannelConfig {
  for (const key of Object.keys(config)) {
    if (!Object.hasOwn(defaultChannelConfig, key)) throw new ChannelConfigError(key, 'is not a channel setting');
  }
  const m = { ...defaultChannelConfig, ...config };
  const B = CHANNEL_CONFIG_BOUNDS;
  const maxFrameBytes = requireInt('maxFrameBytes', m.maxFrameBytes, B.minFrameBytes, B.maxFrameBytes);
  const requestTimeoutMs = requireInt('requestTimeoutMs', m.requestTimeoutMs, B.minTimeMs, B.maxTimeMs);
  const keepaliveMs = requireInt('keepaliveMs', m.keepaliveMs, B.minTimeMs, B.maxTimeMs);
  const deadAfterMs = requireInt('deadAfterMs', m.deadAfterMs, 2 * keepaliveMs, B.maxTimeMs);
  const maxInFlight = requireInt('maxInFlight', m.maxInFlight, 1, B.maxInFlight);
  const handshakeTimeoutMs = requireInt('handshakeTimeoutMs', m.handshakeTimeoutMs, B.minTimeMs, 120_000);
  const maxQueuedBytes = requireInt('maxQueuedBytes', m.maxQueuedBytes, 2 * (maxFrameBytes + 4), B.maxQueuedBytes);
  const maxConnections = requireInt('maxConnections', m.maxConnections, 1, B.maxConnections);
  const resumptionLifetimeMs = requireInt(
    'resumptionLifetimeMs',
    m.resumptionLifetimeMs,
    1_000,
    B.maxResumptionLifetimeMs,
  );
  const reconnectBaseMs = requireInt('reconnectBaseMs', m.reconnectBaseMs, B.minTimeMs, 60_000);
  const reconnectMaxMs = requireInt('reconnectMaxMs', m.reconnectMaxMs, reconnectBaseMs, B.maxTimeMs);
  const reconnectJitter = m.reconnectJitter;
  if (typeof reconnectJitter !== 'number' || !(reconnectJitter >= 0 && reconnectJitter <= 1)) {
    throw new ChannelConfigError('reconnectJitter', 'must be a number from 0 to 1');
  }
  const reconnectMaxAttempts =
    m.reconnectMaxAttempts === Infinity
      ? Infinity
      : requireInt('reconnectMaxAttempts', m.reconnectMaxAttempts, 1, 1_000_000);
  const result: ChannelConfig = Object.freeze({
    maxFrameBytes,
    requestTimeoutMs,
    keepaliveMs,
    deadAfterMs,
    maxInFlight,
    handshakeTimeoutMs,
    maxQueuedBytes,
    maxConnections,
    resumptionLifetimeMs,
    reconnectBaseMs,
    reconnectMaxMs,
    reconnectJitter,
    reconnectMaxAttempts,
  });
  validated.add(result);
  return result;
}
