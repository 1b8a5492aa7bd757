/**
 * The pieces of other capabilities the web service uses, gathered so the service file reads as
 * HTTP only. Setup-code checks go through the pairing verifier: the device never holds the code.
 */
import { parsePairingVerifierRecord, verifySetupCode } from '../pairing/index.ts';

export { LockoutPolicy, verifyPassword, hashPassword, checkPasswordStrength, sourceKeyFor } from '../auth/index.ts';
export type { LockoutConfig, SessionConfig, SessionView } from '../auth/index.ts';

/** True when `code` is the setup code behind the bundle's SPAKE2+ verifier. */
export async function verifySetupCodeForOwner(code: string, verifierJson: unknown): Promise<boolean> {
  return verifySetupCode(code, parsePairingVerifierRecord(verifierJson));
}
