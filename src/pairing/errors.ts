import { BulwarkError } from '../errors/index.ts';

/** Stable codes of pairing's errors: the exchange's own, the device's refusals, and the config's. */
export type PairingErrorCode =
  | 'PAIRING_BAD_SHARE'
  | 'PAIRING_CONFIRMATION_FAILED'
  | 'PAIRING_STATE_USED'
  | 'PAIRING_BAD_SECRET'
  | 'PAIRING_BAD_MESSAGE'
  // refusals (PairingRefusedError, see PAIRING_REFUSAL_CODES)
  | 'PAIRING_WINDOW_CLOSED'
  | 'PAIRING_TOO_MANY_ATTEMPTS'
  | 'PAIRING_PUSH_BUTTON_REFUSED'
  | 'PAIRING_FINGERPRINT_MISMATCH'
  | 'PAIRING_HUB_LIMIT'
  | 'PAIRING_BUSY'
  | 'PAIRING_TIMEOUT'
  // ConfigErrors
  | 'PAIRING_CONFIG_INVALID'
  | 'PAIRING_PARAMS_INVALID';

/**
 * Thrown when a pairing exchange must stop: a malformed or invalid share ('PAIRING_BAD_SHARE'),
 * a confirmation MAC that does not match ('PAIRING_CONFIRMATION_FAILED'), a state used twice
 * ('PAIRING_STATE_USED') or a secret that cannot be used ('PAIRING_BAD_SECRET').
 */
export class PairingError extends BulwarkError<PairingErrorCode> {}
