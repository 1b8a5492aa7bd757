// Pairing: the setup-code verifier record, SPAKE2+ (RFC 9383) over P-256, the pairing window and
// exchange (pure core in protocol.ts), and its transport over the channel (transport.ts).
export { PairingError } from './errors.ts';
export {
  PAIRING_SUITE,
  computeVerifier,
  createPairingVerifierRecord,
  defaultPairingVerifierOptions,
  deriveSetupCodeSecrets,
  normaliseSetupCode,
  pairingVerifierFromRecord,
  pairingVerifierLimits,
  parsePairingVerifierRecord,
  verifySetupCode,
} from './verifier.ts';
export type { PairingVerifier, PairingVerifierOptions, PairingVerifierRecord, SetupCodeSecrets } from './verifier.ts';
export {
  DEFAULT_SPAKE2PLUS_CONTEXT,
  SPAKE2PLUS_KEY_BYTES,
  SPAKE2PLUS_MAC_BYTES,
  SPAKE2PLUS_SHARE_BYTES,
  finishProver,
  finishVerifier,
  respondVerifier,
  spake2PlusLimits,
  startProver,
} from './spake2plus.ts';
export type {
  Spake2PlusBinding,
  Spake2PlusProverParams,
  Spake2PlusProverState,
  Spake2PlusTestHooks,
  Spake2PlusVerifierParams,
  Spake2PlusVerifierState,
} from './spake2plus.ts';
export {
  PAIRING_CAPABILITY,
  PAIRING_CONTEXT,
  PAIRING_MODES,
  PAIRING_PIN_BYTES,
  PAIRING_REFUSAL_CODES,
  DevicePairingExchange,
  HubPairingExchange,
  PairingRefusedError,
  PairingWindow,
  defaultPairingConfig,
  encodeDeviceMessage,
  encodeHubMessage,
  pairedMac,
  parseDeviceMessage,
  prepareVerifier,
  parseHubMessage,
  validatePairingConfig,
} from './protocol.ts';
export type {
  DevicePairingContext,
  DevicePairingMessage,
  DevicePairingOutcome,
  DevicePairingStep,
  HubPairingMessage,
  HubPairingOptions,
  HubPairingResult,
  HubPairingStep,
  PairingConfig,
  PairingMode,
  PairingRefusalCode,
  PairingWindowClosedReason,
  PairingWindowStatus,
} from './protocol.ts';
export { pairWithDevice, servePairingExchange } from './transport.ts';
export type { PairWithDeviceOptions, PairedDevice, ServePairingOptions } from './transport.ts';
export type { PairingErrorCode } from './errors.ts';
