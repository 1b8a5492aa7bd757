/** The identity folder's error codes (its error class, FactoryError, lives in factory.ts). */
import type { FactoryError } from './factory.ts';

/** Codes of {@link FactoryError}. */
export type FactoryErrorCode = FactoryError['code'];

/** Every code the identity folder throws, its ConfigErrors included. */
export type IdentityErrorCode =
  | FactoryErrorCode
  | 'FACTORY_CONFIG_INVALID' // a factory setting is malformed
  | 'FACTORY_CONFIG_UNSAFE' // a factory setting would weaken the units
  | 'PROVISION_COUNT_INVALID' // --count outside 1..MAX_BATCH
  | 'PROVISION_SHARED_SECRET_REFUSED'; // a chosen or shared password, setup or claim code was asked for
