/** The admission folder's error codes; its only error is a ConfigError. */

/** Codes the admission folder throws. */
export type AdmissionErrorCode = 'ADMISSION_CONFIG_INVALID';
