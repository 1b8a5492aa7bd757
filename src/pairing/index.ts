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
