/**
 * The pieces of other capabilities the web service uses, gathered so the service file reads as
 * HTTP only. Setup-code checks go through the pairing verifier: the device never holds the code.
 */
export { LockoutPolicy, verifyPassword, hashPassword, checkPasswordStrength, sourceKeyFor } from '../auth/index.ts';
export type { LockoutConfig, SessionConfig, SessionView } from '../auth/index.ts';

/**
 * True when `code` is the setup code behind the bundle's SPAKE2+ verifier. The curve code is
 * imported on first use: only a unit in setup mode needs it, and only once.
 */
export async function verifySetupCodeForOwner(code: string, verifierJson: unknown): Promise<boolean> {
  const { parsePairingVerifierRecord, verifySetupCode } = await import('../pairing/index.ts');
  return verifySetupCode(code, parsePairingVerifierRecord(verifierJson));
}
