/**
 * The hub-device channel: length-prefixed frames with a size limit, strict message schemas,
 * requests with ids, timeouts and typed error replies, events, keepalive, and mutual TLS 1.3
 * with each side pinning the other's public key; reconnect with jittered back-off and TLS
 * session resumption.
 *
 * @example
 * // device
 * const server = await createChannelServer({ key, cert, pinnedPeer: pinnedPeers([[hubPin, hub]]),
 *   onConnection: (conn) => conn.onRequest(({ capability, action, value }) => act(capability, action, value)) });
 * // hub
 * const link = reconnectingClient({ host, port: server.port, key, cert, pinnedPeer: pinnedPeers([[devicePin, device]]) });
 * await (await link.whenConnected()).request('switch', 'set', true);
 */
export {
  ChannelError,
  ChannelConfigError,
  ChannelFrameError,
  ChannelMessageError,
  ChannelRequestError,
  ChannelTimeoutError,
  ChannelBusyError,
  ChannelClosedError,
  ChannelPeerError,
  ChannelPeerDeadError,
  ChannelTransportError,
} from './errors.ts';
export { defaultChannelConfig, validateChannelConfig, CHANNEL_CONFIG_BOUNDS } from './config.ts';
export type { ChannelConfig } from './config.ts';
export { FrameDecoder, encodeFrame, FRAME_HEADER_BYTES } from './frame.ts';
export {
  parseMessage,
  validateMessage,
  encodeMessage,
  MESSAGE_LIMITS,
  CHANNEL_ERROR_CODES,
  CHANNEL_EVENT_NAMES,
} from './messages.ts';
export type {
  ChannelMessage,
  ChannelValue,
  ChannelErrorCode,
  ChannelEventName,
  RequestMessage,
  ResponseMessage,
  ErrorMessage,
  EventMessage,
  PingMessage,
  PongMessage,
  ByeMessage,
} from './messages.ts';
export { ChannelSession } from './session.ts';
export type { SessionEffect, RequestOutcome, ChannelCloseInitiator } from './session.ts';
export { reconnectDelay } from './backoff.ts';
export { spkiSha256, pinnedPeers, PIN_BYTES } from './pins.ts';
export type { PinnedPeerLookup } from './pins.ts';
export { ChannelConnection } from './connection.ts';
export type {
  ChannelCloseInfo,
  ChannelResumption,
  ChannelIncomingRequest,
  ChannelRequestHandler,
  ChannelEventListener,
} from './connection.ts';
export { createChannelServer, connectChannel, createChannelClientContext } from './tls.ts';
export type {
  ChannelServer,
  ChannelServerOptions,
  ConnectChannelOptions,
  ChannelIdentity,
  ChannelClientContext,
  RemoteEndpoint,
} from './tls.ts';
export { ReconnectingChannel, reconnectingClient } from './reconnect.ts';
export type { ReconnectingChannelEvents } from './reconnect.ts';
export type { ChannelFailureCode } from './errors.ts';
