import { BulwarkError } from '../errors/index.ts';

/**
 * Thrown when a pairing exchange must stop: a malformed or invalid share ('PAIRING_BAD_SHARE'),
 * a confirmation MAC that does not match ('PAIRING_CONFIRMATION_FAILED'), a state used twice
 * ('PAIRING_STATE_USED') or a secret that cannot be used ('PAIRING_BAD_SECRET').
 */
export class PairingError extends BulwarkError {}
