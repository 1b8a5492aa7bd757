/**
 * The device side of the manufacturer connection (the protocol it speaks is src/cloudprotocol).
 */
export { CloudLink, defaultCloudLinkConfig, validateCloudLinkConfig } from './link.ts';
export type { CloudLinkConfig, CloudLinkIdentity, CloudLinkEvent, CloudLinkOptions } from './link.ts';
export { Outbox, defaultOutboxLimits, OUTBOX_FILE } from './outbox.ts';
export type { OutboxEntry, OutboxKind, OutboxLimits } from './outbox.ts';
export { startAgentCloudLink, telemetryValues } from './agent-link.ts';
export type { AgentCloudLinkOptions, LinkedCapabilities } from './agent-link.ts';
export { firmwareReport } from './firmware-report.ts';
export type { LinkedFirmware, LinkedOutcome } from './firmware-report.ts';
export type { CloudLinkErrorCode } from './errors.ts';
export {
  OperationalIdentityStore,
  OPERATIONAL_IDENTITY_FILE,
  acceptIssuedCertificate,
  candidates,
  renewAt,
  renewalDue,
} from './operational-identity.ts';
export type { OperationalCertificate, OperationalIdentityState, CredentialKind } from './operational-identity.ts';
export type { CloudIdentityStatus, EnrolmentEvent } from './enrolment.ts';
