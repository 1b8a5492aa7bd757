/**
 * The errors of the cloud. Each carries a stable code; the owner API maps codes to HTTP status
 * (src/errors' table), never message text. None carries a claim code, a password or a key.
 */
import { BulwarkError, ConfigError } from '../errors/index.ts';

/** Stable codes of the cloud's errors (the class comments below say which class carries which). */
export type CloudErrorCode =
  | 'CLOUD_CONFIG_INVALID'
  | 'STORE_FAILED'
  | 'STORE_SCHEMA'
  | 'STORE_CLOSED'
  | 'CLAIM_REFUSED'
  | 'CLAIM_WINDOW_CLOSED'
  | 'DEVICE_CLAIMED'
  | 'RATE_LIMITED'
  | 'NOT_FOUND'
  | 'ACCOUNT_EXISTS'
  | 'LOGIN_FAILED'
  | 'PASSWORD_POLICY'
  | 'DEVICE_TIMEOUT'
  | 'DEVICE_REFUSED'
  | 'DEVICE_OFFLINE'
  | 'DEVICE_UNREACHABLE'
  | 'COMMAND_NOT_ALLOWED'
  // accounts, mail and households (owner-accounts.ts, mail.ts, household.ts)
  | 'ACCOUNT_UNVERIFIED'
  | 'ACCOUNT_TOKEN_INVALID'
  | 'HOUSEHOLD_ROLE_FORBIDDEN'
  | 'MAIL_FAILED'
  // the owner API client (OwnerApiClient) and manifest import
  | 'API_ANSWER_TOO_LARGE'
  | 'API_TIMEOUT'
  | 'API_URL_INVALID'
  | 'FACTORY_CA_MISSING'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_OTHER_CA'
  | 'REVOCATION_INVALID'
  // Mosquitto kept in step with revocations (mosquitto-revocation.ts)
  | 'MOSQUITTO_CRL_FAILED'
  | 'MOSQUITTO_RELOAD_FAILED'
  | 'MOSQUITTO_DYNSEC_FAILED'
  // the maker's security duties: CRA reporting cases, CSAF advisories
  | 'CRA_CASE_INVALID'
  | 'CSAF_ADVISORY_INVALID'
  | 'CSAF_ADVISORY_TOO_LARGE'
  | 'CSAF_ADVISORY_CONFLICT'
  // security facts records the cloud serves for a label's QR code (facts-records.ts)
  | 'FACTS_RECORD_TOO_LARGE'
  | 'FACTS_RECORD_REFUSED'
  | 'FACTS_RECORD_CONFLICT';

/** The base of every cloud error. */
export class CloudError extends BulwarkError<CloudErrorCode> {}

/** A cloud config value is malformed or unsafe ('CLOUD_CONFIG_INVALID'). */
export class CloudConfigError extends ConfigError {
  constructor(key: string, message: string) {
    super('CLOUD_CONFIG_INVALID', key, message);
  }
}

// The MQTT client's errors live with the client (src/mqtt); the cloud's index passes them on.
export { MqttProtocolError, MqttConnectionError } from '../mqtt/index.ts';

/** A store operation failed or found its schema from another version ('STORE_FAILED', 'STORE_SCHEMA'). */
export class StoreError extends CloudError {}

/**
 * A claim was refused: wrong serial or code ('CLAIM_REFUSED', the same answer for both), the
 * claim window is closed ('CLAIM_WINDOW_CLOSED'), or another account holds the device ('DEVICE_CLAIMED').
 */
export class ClaimError extends CloudError {}

/** Too many failed attempts; `retryAfterSeconds` says when to try again ('RATE_LIMITED'). */
export class RateLimitedError extends CloudError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, scope: string) {
    super('RATE_LIMITED', `too many failed attempts; try again in ${retryAfterSeconds} s`, {
      scope,
      retryAfterSeconds,
    });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The thing does not exist, or belongs to someone else: both answer the same ('NOT_FOUND'). */
export class NotFoundError extends CloudError {
  constructor(what = 'not found') {
    super('NOT_FOUND', what);
  }
}

/** Account problems: the e-mail is taken ('ACCOUNT_EXISTS'), wrong credentials ('LOGIN_FAILED'). */
export class AccountError extends CloudError {}

/**
 * The account's address is not confirmed yet, so it cannot claim ('ACCOUNT_UNVERIFIED'); a link's token is
 * unknown, used, expired or another account's ('ACCOUNT_TOKEN_INVALID', one answer for all four).
 */
export class AccountStateError extends CloudError {}

/** A household person's role does not allow the action (a member releasing a device): 'HOUSEHOLD_ROLE_FORBIDDEN'. */
export class RoleError extends CloudError {
  constructor(message: string) {
    super('HOUSEHOLD_ROLE_FORBIDDEN', message);
  }
}

/** A message could not be delivered (thrown inside the mail queue only, then logged): 'MAIL_FAILED'. */
export class MailError extends CloudError {}

/** A command got no reply in time ('DEVICE_TIMEOUT') or the device refused it ('DEVICE_REFUSED'). */
export class CommandError extends CloudError {}

/** A CRA reporting case, its facts or a report name is malformed ('CRA_CASE_INVALID'). */
export class CraError extends CloudError {}

/**
 * A CSAF advisory was refused: not a CSAF 2.0 security advisory ('CSAF_ADVISORY_INVALID'), over the size
 * limit ('CSAF_ADVISORY_TOO_LARGE'), or older than, or clashing with, the one published at its place
 * ('CSAF_ADVISORY_CONFLICT').
 */
export class AdvisoryError extends CloudError {}

/**
 * A security facts record was refused before anything was stored: over the size limit ('FACTS_RECORD_TOO_LARGE'),
 * not UTF-8 or naming a model or version that is no path segment ('FACTS_RECORD_REFUSED'), or shortening the
 * support period of the record published for the same model and version ('FACTS_RECORD_CONFLICT'). A record that
 * breaks its schema is refused by the schema's own error (src/policy's FactsRecordError).
 */
export class FactsPublishError extends CloudError {}
