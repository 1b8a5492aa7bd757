/**
 * The device side of the manufacturer connection, and the device-cloud protocol both sides use.
 */
export {
  TOPIC_ROOT, UP_KINDS, DOWN_KINDS, SERIAL, SERVICE_CN, SHARED_GROUP, PAYLOAD_LIMITS,
  identityFromCommonName, serviceCommonName, deviceTopic, parseDeviceTopic, mayPublish, maySubscribe, splitSharedFilter,
  parseJsonPayload, encodePayload, parseTelemetry, parseState, parseClaim, parseSync, parseReceipt, parsePresence, parseCommand, parseReply,
  toRanges, inRanges,
} from './protocol.ts';
export type {
  UpKind, DownKind, TopicKind, MqttIdentity, ScalarValue, TelemetryMessage, StateMessage, ClaimMessage, SyncMessage,
  ReceiptMessage, PresenceMessage, CommandMessage, ReplyMessage,
} from './protocol.ts';
export { CloudLink, defaultCloudLinkConfig, validateCloudLinkConfig } from './link.ts';
export type { CloudLinkConfig, CloudLinkIdentity, CloudLinkEvent, CloudLinkOptions } from './link.ts';
export { Outbox, defaultOutboxLimits, OUTBOX_FILE } from './outbox.ts';
export type { OutboxEntry, OutboxKind, OutboxLimits } from './outbox.ts';
export { startAgentCloudLink, telemetryValues } from './agent-link.ts';
export type { AgentCloudLinkOptions, LinkedCapabilities } from './agent-link.ts';
