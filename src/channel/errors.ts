/**
 * The errors of the channel. Each carries a stable code; none carries key material, session
 * tickets or request values.
 */
import { BulwarkError, ConfigError } from '../errors/index.ts';

/** Stable codes of the channel's thrown errors (ChannelErrorCode is a peer's answer code on the wire). */
export type ChannelFailureCode =
  | 'CHANNEL_CONFIG_INVALID'
  | 'CHANNEL_FRAME_TOO_LARGE'
  | 'CHANNEL_DECODER_FAILED'
  | 'CHANNEL_BAD_MESSAGE'
  | 'CHANNEL_REQUEST_FAILED'
  | 'CHANNEL_REQUEST_TIMEOUT'
  | 'CHANNEL_CONNECT_TIMEOUT'
  | 'CHANNEL_BUSY'
  | 'CHANNEL_CLOSED'
  | 'CHANNEL_REFUSED'
  | 'CHANNEL_NOT_CONNECTED'
  | 'CHANNEL_PEER_NOT_PINNED'
  | 'CHANNEL_PEER_DEAD'
  | 'CHANNEL_TLS_FAILED'
  | 'CHANNEL_SOCKET_FAILED'
  | 'CHANNEL_BACKPRESSURE';

/** The base of every channel error, so callers can catch the folder's errors in one place. */
export class ChannelError extends BulwarkError<ChannelFailureCode> {}

/** Thrown when a channel config value is malformed or unsafe ('CHANNEL_CONFIG_INVALID'). */
export class ChannelConfigError extends ConfigError {
  constructor(key: string, message: string) {
    super('CHANNEL_CONFIG_INVALID', key, message);
  }
}

/**
 * Thrown by the frame decoder: a declared length above the limit ('CHANNEL_FRAME_TOO_LARGE'),
 * or a decoder used again after it failed ('CHANNEL_DECODER_FAILED').
 */
export class ChannelFrameError extends ChannelError {}

/** Thrown when a frame's body is not a valid message of the channel ('CHANNEL_BAD_MESSAGE'). */
export class ChannelMessageError extends ChannelError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CHANNEL_BAD_MESSAGE', message, details);
  }
}

/**
 * A request answered with a typed error by the peer ('CHANNEL_REQUEST_FAILED'); `remoteCode`
 * is the peer's code. A request handler throws one to answer with that code.
 *
 * @example
 * conn.onRequest(({ capability }) => { throw new ChannelRequestError('CAPABILITY_DENIED', 'not granted'); });
 */
export class ChannelRequestError extends ChannelError {
  /** The code the peer answered with, e.g. 'CAPABILITY_DENIED'. */
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super('CHANNEL_REQUEST_FAILED', message, { remoteCode });
    this.remoteCode = remoteCode;
  }
}

/**
 * Thrown when something took longer than its bound: a request with no answer in time
 * ('CHANNEL_REQUEST_TIMEOUT') or a connection not established in time ('CHANNEL_CONNECT_TIMEOUT').
 */
export class ChannelTimeoutError extends ChannelError {}

/** Thrown when a request would exceed `maxInFlight` outstanding requests ('CHANNEL_BUSY'). */
export class ChannelBusyError extends ChannelError {
  constructor(maxInFlight: number) {
    super('CHANNEL_BUSY', `already ${maxInFlight} requests in flight`, { maxInFlight });
  }
}

/**
 * The channel is closed: by either side ('CHANNEL_CLOSED'), by the peer before it accepted us
 * ('CHANNEL_REFUSED'), or not connected at the moment ('CHANNEL_NOT_CONNECTED').
 */
export class ChannelClosedError extends ChannelError {}

/** The peer's public key is not in the pinned set, or it showed no certificate ('CHANNEL_PEER_NOT_PINNED'). */
export class ChannelPeerError extends ChannelError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CHANNEL_PEER_NOT_PINNED', message, details);
  }
}

/** Nothing came from the peer for `deadAfterMs` ('CHANNEL_PEER_DEAD'). */
export class ChannelPeerDeadError extends ChannelError {
  constructor(silentMs: number) {
    const ms = Math.round(silentMs);
    super('CHANNEL_PEER_DEAD', `no traffic from the peer for ${ms} ms`, { silentMs: ms });
  }
}

/**
 * The transport failed: the TLS handshake ('CHANNEL_TLS_FAILED', e.g. a peer offering only TLS 1.2),
 * the socket ('CHANNEL_SOCKET_FAILED'), or a peer that does not read ('CHANNEL_BACKPRESSURE').
 */
export class ChannelTransportError extends ChannelError {}
