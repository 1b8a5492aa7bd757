/**
 * The device-cloud protocol both sides share: the topic scheme and the broker's access rule
 * (`topics.ts`), the payloads with their bounds and strict parsers (`payloads.ts`). Pure and
 * light (src/errors only), so the device loads it with its cloud link and nothing of the cloud.
 *
 * @example
 *   const t = parseDeviceTopic(topic);
 *   if (t?.kind === 'telemetry') store(t.serial, parseTelemetry(parseJsonPayload(payload)));
 */
export {
  TOPIC_ROOT,
  UP_KINDS,
  DOWN_KINDS,
  SERIAL,
  SERVICE_CN,
  SHARED_GROUP,
  identityFromCommonName,
  enrolmentIdentity,
  ENROLMENT_KINDS,
  serviceCommonName,
  deviceTopic,
  parseDeviceTopic,
  mayPublish,
  maySubscribe,
  splitSharedFilter,
} from './topics.ts';
export type { UpKind, DownKind, TopicKind, MqttIdentity } from './topics.ts';
export {
  PAYLOAD_LIMITS,
  parseJsonPayload,
  encodePayload,
  parseTelemetry,
  parseState,
  parseClaim,
  parseClaimWindow,
  parseSync,
  parseReceipt,
  parsePresence,
  parseCommand,
  parseReply,
  parseFirmware,
  parseEnrol,
  parseCertificateMessage,
  ENROL_REASONS,
  UPDATE_OUTCOMES,
  PERSON_REMOVAL,
  toRanges,
  inRanges,
} from './payloads.ts';
export type {
  ScalarValue,
  TelemetryMessage,
  StateMessage,
  ClaimMessage,
  ClaimWindowMessage,
  SyncMessage,
  ReceiptMessage,
  PresenceMessage,
  CommandMessage,
  ReplyMessage,
  FirmwareMessage,
  FirmwareOutcome,
  RunningFirmware,
  UpdateOutcomeKind,
  EnrolMessage,
  CertificateMessage,
} from './payloads.ts';
