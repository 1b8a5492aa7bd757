// Pairing: the setup-code verifier record and SPAKE2+ (RFC 9383) over P-256.
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
export type {
  PairingVerifier,
  PairingVerifierOptions,
  PairingVerifierRecord,
  SetupCodeSecrets,
} from './verifier.ts';
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
