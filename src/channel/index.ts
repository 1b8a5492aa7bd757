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
 * const link = reconnectingClient({
 *   host, port: server.port, key, cert, pinnedPeer: pinnedPeers([[devicePin, device]]),
 * });
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
  type ChannelFailureCode,
} from './errors.ts';
export { isLoopbackIpv4, inIpv4Subnet } from './subnet.ts';
export { defaultChannelConfig, validateChannelConfig, CHANNEL_CONFIG_BOUNDS, type ChannelConfig } from './config.ts';
export { FrameDecoder, encodeFrame, FRAME_HEADER_BYTES } from './frame.ts';
export {
  parseMessage,
  validateMessage,
  encodeMessage,
  MESSAGE_LIMITS,
  CHANNEL_ERROR_CODES,
  CHANNEL_EVENT_NAMES,
  type ChannelMessage,
  type ChannelValue,
  type ChannelErrorCode,
  type ChannelEventName,
  type RequestMessage,
  type ResponseMessage,
  type ErrorMessage,
  type EventMessage,
  type PingMessage,
  type PongMessage,
  type ByeMessage,
} from './messages.ts';
export { ChannelSession, type SessionEffect, type RequestOutcome, type ChannelCloseInitiator } from './session.ts';
export { reconnectDelay } from './backoff.ts';
export { spkiSha256, pinnedPeers, PIN_BYTES, type PinnedPeerLookup } from './pins.ts';
export {
  ChannelConnection,
  type ChannelCloseInfo,
  type ChannelResumption,
  type ChannelIncomingRequest,
  type ChannelRequestHandler,
  type ChannelEventListener,
} from './connection.ts';
export {
  createChannelServer,
  connectChannel,
  createChannelClientContext,
  type ChannelServer,
  type ChannelServerOptions,
  type ConnectChannelOptions,
  type ChannelIdentity,
  type ChannelClientContext,
  type RemoteEndpoint,
} from './tls.ts';
export { ReconnectingChannel, reconnectingClient, type ReconnectingChannelEvents } from './reconnect.ts';
export { verifyServerCertificateAt } from './peer-at-time.ts';
