/**
 * Every error code Bulwark throws and what it means outside: the HTTP status an HTTPS surface
 * answers with, the exit code of the CLI (sysexits) and whether the caller is at fault (fixing the
 * request or the command line fixes it). Each folder declares the union of its own codes; every
 * one of them must be a key here (codes.test.ts checks it). Pure data: this file imports nothing,
 * so every folder can import it without a circle. (fastify's lib/errors.js; sysexits.h.)
 *
 * The HTTP statuses are those the device, hub and cloud surfaces answered before this table:
 * a code they did not name answered 400, and still does, even where the caller is not at fault.
 */

/** Exit codes of the CLI, from sysexits.h; 1 is an internal error (a bug, or a failure with no better code). */
export const EXIT = Object.freeze({
  INTERNAL: 1,
  /** The command line is wrong: unknown option, missing argument, malformed value. */
  USAGE: 2,
  /** Input data (a file, a message, an answer) is malformed or refused. */
  DATAERR: 65,
  /** An input file or folder does not exist or cannot be read. */
  NOINPUT: 66,
  /** A service is unavailable: not running, unreachable, busy, timed out, a port already in use. */
  UNAVAILABLE: 69,
  /** An output cannot be created: it already exists or its place is taken. */
  CANTCREAT: 73,
  /** Reading or writing storage failed. */
  IOERR: 74,
  /** Not permitted: a refusal by policy, a failed authentication, files others may read. */
  NOPERM: 77,
  /** A setting is malformed or refused as unsafe. */
  CONFIG: 78,
});

/** One of {@link EXIT}'s codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What a code means outside: HTTP status, CLI exit code, and whether the caller is at fault. */
export interface ErrorRule {
  readonly http: number;
  readonly exit: ExitCode;
  readonly callerFault: boolean;
}

/** The caller's mistake: a fixed request, file or command line fixes it. */
const caller = (exit: ExitCode, http = 400): ErrorRule => ({ http, exit, callerFault: true });
/** Not the caller's mistake: a peer, the host, stored state or Bulwark itself. */
const system = (exit: ExitCode, http = 400): ErrorRule => ({ http, exit, callerFault: false });

const { INTERNAL, USAGE, DATAERR, NOINPUT, UNAVAILABLE, CANTCREAT, IOERR, NOPERM, CONFIG } = EXIT;

const table = {
  // src/errors
  INVALID_INPUT: caller(DATAERR),
  // src/cli (USAGE: commander's own errors; INTERNAL: an error that is not a BulwarkError)
  USAGE: caller(USAGE),
  INTERNAL: system(INTERNAL, 500),
  AUDIT_OPTION_INVALID: caller(USAGE),
  POLICY_OPTION_INVALID: caller(USAGE),
  DEVICE_AGENT_REFUSED: caller(CONFIG),
  DEVICE_AGENT_FAILED: system(UNAVAILABLE),
  DEMO_FAILED: system(INTERNAL),
  // src/admission
  ADMISSION_CONFIG_INVALID: caller(CONFIG),
  // src/audit
  AUDIT_OPTIONS_INVALID: caller(USAGE),
  AUDIT_MODEL_MISMATCH: caller(DATAERR),
  AUDIT_TARGET_INVALID: caller(USAGE),
  AUDIT_INPUT_UNREADABLE: caller(NOINPUT),
  AUDIT_REPORT_NOT_KEPT: caller(DATAERR),
  AUDIT_COPY_FAILED: system(UNAVAILABLE),
  // src/auth
  PASSWORD_HASH_INVALID: system(DATAERR),
  PASSWORD_INPUT_INVALID: caller(DATAERR),
  AUTH_BUSY: system(UNAVAILABLE, 503),
  PASSWORD_TOO_WEAK: caller(DATAERR),
  LOCKOUT_STATE_INVALID: system(DATAERR),
  SESSION_STATE_INVALID: system(DATAERR),
  DEVICE_COOKIE_STATE_INVALID: system(DATAERR),
  ARGON2_PARAMS_UNSAFE: caller(CONFIG),
  HASH_LIMITER_CONFIG_INVALID: caller(CONFIG),
  LOCKOUT_CONFIG_INVALID: caller(CONFIG),
  SESSION_CONFIG_INVALID: caller(CONFIG),
  // src/auth: named users and roles (roles.ts)
  ROLE_REFUSED: caller(NOPERM, 403),
  CONFIRMATION_FAILED: caller(NOPERM, 401),
  USER_NAME_INVALID: caller(DATAERR),
  USER_ROLE_INVALID: caller(DATAERR),
  USER_EXPIRY_INVALID: caller(DATAERR),
  USER_EXISTS: caller(DATAERR, 409),
  USER_UNKNOWN: caller(DATAERR, 404),
  USER_FIRST_OWNER: caller(NOPERM, 409),
  USER_LIMIT: caller(DATAERR, 409),
  USER_STATE_INVALID: system(DATAERR),
  DEVICE_COOKIE_CONFIG_INVALID: caller(CONFIG),
  // src/bundle
  BUNDLE_INCOMPLETE: caller(NOINPUT),
  BUNDLE_INVALID: caller(DATAERR),
  BUNDLE_INSECURE_MODE: caller(NOPERM),
  BUNDLE_MODEL_MISMATCH: caller(DATAERR),
  // src/channel
  CHANNEL_CONFIG_INVALID: caller(CONFIG),
  CHANNEL_FRAME_TOO_LARGE: system(DATAERR),
  CHANNEL_DECODER_FAILED: system(DATAERR),
  CHANNEL_BAD_MESSAGE: system(DATAERR),
  CHANNEL_REQUEST_FAILED: system(UNAVAILABLE),
  CHANNEL_REQUEST_TIMEOUT: system(UNAVAILABLE),
  CHANNEL_CONNECT_TIMEOUT: system(UNAVAILABLE),
  CHANNEL_BUSY: system(UNAVAILABLE),
  CHANNEL_CLOSED: system(UNAVAILABLE),
  CHANNEL_REFUSED: system(UNAVAILABLE),
  CHANNEL_NOT_CONNECTED: system(UNAVAILABLE),
  CHANNEL_PEER_NOT_PINNED: system(NOPERM),
  CHANNEL_PEER_DEAD: system(UNAVAILABLE),
  CHANNEL_TLS_FAILED: system(UNAVAILABLE),
  CHANNEL_SOCKET_FAILED: system(UNAVAILABLE),
  CHANNEL_BACKPRESSURE: system(UNAVAILABLE),
  // src/cloud
  CLOUD_CONFIG_INVALID: caller(CONFIG),
  STORE_FAILED: system(IOERR, 503),
  STORE_SCHEMA: system(DATAERR),
  STORE_CLOSED: system(INTERNAL),
  CLAIM_REFUSED: caller(NOPERM, 403),
  CLAIM_WINDOW_CLOSED: caller(NOPERM, 409),
  DEVICE_CLAIMED: caller(NOPERM, 409),
  RATE_LIMITED: caller(UNAVAILABLE, 429),
  NOT_FOUND: caller(DATAERR, 404),
  ACCOUNT_EXISTS: caller(CANTCREAT, 409),
  LOGIN_FAILED: caller(NOPERM, 401),
  PASSWORD_POLICY: caller(DATAERR, 422),
  DEVICE_TIMEOUT: system(UNAVAILABLE, 504),
  DEVICE_REFUSED: system(UNAVAILABLE),
  DEVICE_OFFLINE: system(UNAVAILABLE, 503),
  DEVICE_UNREACHABLE: system(UNAVAILABLE, 503),
  COMMAND_NOT_ALLOWED: caller(NOPERM, 422),
  ACCOUNT_UNVERIFIED: caller(NOPERM, 403),
  ACCOUNT_TOKEN_INVALID: caller(DATAERR, 400),
  HOUSEHOLD_ROLE_FORBIDDEN: caller(NOPERM, 403),
  MAIL_FAILED: system(UNAVAILABLE),
  API_ANSWER_TOO_LARGE: system(DATAERR),
  API_TIMEOUT: system(UNAVAILABLE),
  API_URL_INVALID: caller(CONFIG),
  FACTORY_CA_MISSING: caller(NOINPUT),
  MANIFEST_INVALID: caller(DATAERR),
  MANIFEST_OTHER_CA: caller(DATAERR),
  REVOCATION_INVALID: caller(DATAERR, 422),
  MOSQUITTO_CRL_FAILED: system(IOERR),
  MOSQUITTO_RELOAD_FAILED: system(UNAVAILABLE),
  MOSQUITTO_DYNSEC_FAILED: system(UNAVAILABLE),
  CRA_CASE_INVALID: caller(DATAERR, 422),
  CSAF_ADVISORY_INVALID: caller(DATAERR, 422),
  CSAF_ADVISORY_TOO_LARGE: caller(DATAERR, 413),
  CSAF_ADVISORY_CONFLICT: caller(DATAERR, 409),
  FACTS_RECORD_TOO_LARGE: caller(DATAERR, 413),
  FACTS_RECORD_REFUSED: caller(DATAERR, 422),
  FACTS_RECORD_CONFLICT: caller(DATAERR, 409),
  // src/cloudlink (COMMAND_NOT_ALLOWED is the cloud's, above)
  CLOUDLINK_CONFIG_INVALID: caller(CONFIG),
  // src/device
  UNKNOWN_CAPABILITY: caller(DATAERR, 404),
  UNKNOWN_ACTION: caller(DATAERR, 404),
  CAPABILITY_VALUE_INVALID: caller(DATAERR, 422),
  CAPABILITY_UNAVAILABLE: system(UNAVAILABLE, 503),
  BUTTON_UNREACHABLE: system(UNAVAILABLE),
  BUTTON_TIMEOUT: system(UNAVAILABLE),
  BUTTON_BAD_ANSWER: system(DATAERR),
  BUTTON_REFUSED: caller(NOPERM),
  BUTTON_PATH_TAKEN: caller(CANTCREAT),
  DEVICE_CONFIG_INVALID: caller(CONFIG),
  DEVICE_UNIT_INVALID: caller(CONFIG),
  DEBUG_INTERFACE_REFUSED: caller(CONFIG),
  HUB_SURFACE_CONFIG_INVALID: caller(CONFIG),
  HUB_SURFACE_LISTEN_FAILED: system(UNAVAILABLE),
  AGENT_MISSING: system(INTERNAL),
  // src/driver (a misbehaving driver is not the caller's fault; the agent checks its callers' values itself)
  DRIVER_CONFIG_INVALID: caller(CONFIG),
  DRIVER_MODEL_INVALID: caller(DATAERR),
  DRIVER_PROTOCOL_INVALID: system(DATAERR),
  DRIVER_LINE_TOO_LONG: system(DATAERR),
  DRIVER_VALUE_INVALID: system(DATAERR),
  DRIVER_UNKNOWN_CAPABILITY: system(DATAERR),
  DRIVER_UNKNOWN_ACTION: system(DATAERR),
  DRIVER_FAILED: system(UNAVAILABLE),
  DRIVER_TIMEOUT: system(UNAVAILABLE),
  DRIVER_BUSY: system(UNAVAILABLE),
  DRIVER_UNAVAILABLE: system(UNAVAILABLE),
  DRIVER_EXITED: system(UNAVAILABLE),
  DRIVER_RATE_LIMITED: system(UNAVAILABLE),
  DRIVER_FAULT: system(UNAVAILABLE),
  // src/hub
  HUB_DEVICE_UNKNOWN: caller(DATAERR, 404),
  HUB_CAPABILITY_UNKNOWN: caller(DATAERR, 404),
  HUB_ACTION_UNKNOWN: caller(DATAERR, 404),
  HUB_MODEL_UNKNOWN: system(DATAERR),
  HUB_MODEL_INVALID: system(DATAERR),
  HUB_CAPABILITY_NOT_GRANTED: caller(NOPERM, 403),
  HUB_DEVICE_OFFLINE: system(UNAVAILABLE, 503),
  HUB_ADDRESS_INVALID: caller(USAGE),
  HUB_SETUP_CODE_MALFORMED: caller(USAGE),
  HUB_CONFIG_INVALID: caller(CONFIG),
  HUB_STATE_CORRUPT: system(DATAERR),
  HUB_KEY_INSECURE: caller(NOPERM),
  HUB_KEY_INVALID: system(DATAERR),
  HUB_CLOSED: system(INTERNAL),
  HUB_NOT_RUNNING: system(UNAVAILABLE),
  HUB_CONTROL_BAD_REQUEST: caller(DATAERR),
  HUB_CONTROL_BAD_ANSWER: system(DATAERR),
  HUB_CONTROL_TIMEOUT: system(UNAVAILABLE),
  HUB_CONTROL_PATH_TAKEN: caller(CANTCREAT),
  HUB_INTERNAL: system(INTERNAL, 500),
  // src/identity
  FACTORY_MISSING: caller(NOINPUT),
  FACTORY_EXISTS: caller(CANTCREAT),
  FACTORY_CA_MISMATCH: caller(DATAERR),
  FACTORY_UPDATE_ROOT_MISSING: caller(NOINPUT),
  MANIFEST_OTHER_FACTORY: caller(DATAERR),
  OUTPUT_NOT_DIRECTORY: caller(CANTCREAT),
  FACTORY_CONFIG_INVALID: caller(CONFIG),
  FACTORY_CONFIG_UNSAFE: caller(CONFIG),
  PROVISION_COUNT_INVALID: caller(USAGE),
  PROVISION_SHARED_SECRET_REFUSED: caller(CONFIG),
  // src/journal
  JOURNAL_ENTRY_INVALID: system(INTERNAL),
  JOURNAL_QUERY_INVALID: caller(DATAERR),
  JOURNAL_CLOSED: system(INTERNAL),
  JOURNAL_STORAGE_FAILED: system(IOERR),
  JOURNAL_FILE_UNSAFE: caller(NOPERM),
  JOURNAL_CONFIG_INVALID: caller(CONFIG),
  LOGGER_CONFIG_INVALID: caller(CONFIG),
  // src/models
  MODEL_UNKNOWN: caller(USAGE),
  MODEL_FILE_INVALID: caller(USAGE),
  MODEL_FILE_UNREADABLE: caller(NOINPUT),
  // src/mqtt
  MQTT_MALFORMED: system(DATAERR),
  MQTT_TOO_LARGE: system(DATAERR),
  MQTT_REFUSED: system(UNAVAILABLE),
  MQTT_CLOSED: system(UNAVAILABLE),
  MQTT_TIMEOUT: system(UNAVAILABLE),
  MQTT_BUSY: system(UNAVAILABLE),
  MQTT_URL_INVALID: caller(CONFIG),
  // src/pairing
  PAIRING_BAD_SHARE: system(DATAERR),
  PAIRING_CONFIRMATION_FAILED: caller(NOPERM),
  PAIRING_STATE_USED: system(INTERNAL),
  PAIRING_BAD_SECRET: caller(DATAERR),
  PAIRING_BAD_MESSAGE: system(DATAERR),
  PAIRING_WINDOW_CLOSED: caller(NOPERM),
  PAIRING_TOO_MANY_ATTEMPTS: caller(NOPERM),
  PAIRING_PUSH_BUTTON_REFUSED: caller(NOPERM),
  PAIRING_FINGERPRINT_MISMATCH: system(NOPERM),
  PAIRING_HUB_LIMIT: caller(NOPERM),
  PAIRING_BUSY: system(UNAVAILABLE),
  PAIRING_TIMEOUT: system(UNAVAILABLE),
  PAIRING_CONFIG_INVALID: caller(CONFIG),
  PAIRING_PARAMS_INVALID: caller(CONFIG),
  // src/policy
  PROFILE_UNREADABLE: caller(NOINPUT),
  PROFILE_TOO_LARGE: caller(DATAERR),
  PROFILE_SYNTAX: caller(DATAERR),
  PROFILE_UNKNOWN_KEY: caller(DATAERR),
  PROFILE_MISSING_KEY: caller(DATAERR),
  PROFILE_STATED_BY_MODEL: caller(DATAERR),
  PROFILE_INVALID: caller(DATAERR),
  PROFILE_UNKNOWN_EXAMPLE: caller(USAGE),
  FACTS_RECORD_INVALID: caller(DATAERR, 422),
  FACTS_RELEASE_MISMATCH: caller(DATAERR, 409),
  // src/techfile
  TECHFILE_ANNEX2_MISSING: caller(DATAERR),
  TECHFILE_ANNEX1_UNLINKED: caller(DATAERR),
  TECHFILE_INPUT_INVALID: caller(DATAERR),
  TECHFILE_INPUT_UNREADABLE: caller(NOINPUT),
  TECHFILE_INPUT_MISMATCH: caller(DATAERR),
  TECHFILE_PROFILE_MISSING: caller(USAGE),
  TECHFILE_OUT_EXISTS: caller(CANTCREAT),
  TECHFILE_INVALID: caller(DATAERR),
  // src/update: refusals of an update (the repository's fault, not the device's)
  UPDATE_DOWNGRADE: system(DATAERR),
  UPDATE_METADATA_UNSIGNED: system(DATAERR),
  UPDATE_METADATA_EXPIRED: system(DATAERR),
  UPDATE_METADATA_ROLLBACK: system(DATAERR),
  UPDATE_METADATA_MISMATCH: system(DATAERR),
  UPDATE_METADATA_INVALID: system(DATAERR),
  UPDATE_IMAGE_HASH_MISMATCH: system(DATAERR),
  UPDATE_IMAGE_INVALID: system(DATAERR),
  UPDATE_WRONG_MODEL: system(DATAERR),
  UPDATE_NODE_UNSUPPORTED: system(DATAERR),
  UPDATE_TOO_LARGE: system(DATAERR),
  UPDATE_NO_SPACE: system(IOERR, 507),
  UPDATE_TIMEOUT: system(UNAVAILABLE),
  UPDATE_UNREACHABLE: system(UNAVAILABLE),
  UPDATE_PREVIOUSLY_FAILED: system(DATAERR),
  UPDATE_DELTA_BASE_MISMATCH: system(DATAERR),
  UPDATE_DELTA_INVALID: system(DATAERR),
  UPDATE_DELTA_RESULT_MISMATCH: system(DATAERR),
  UPDATE_FILE_INVALID: caller(DATAERR),
  // src/update: the device's update state, and settings
  UPDATE_STATE_INVALID: system(DATAERR),
  BOOT_STATE_INVALID: system(DATAERR),
  SECURITY_COUNTER_UNREADABLE: system(IOERR),
  SLOT_INVALID: system(DATAERR),
  UPDATE_BUSY: system(UNAVAILABLE),
  UPDATE_TUF_INCOMPATIBLE: system(INTERNAL),
  UPDATE_CONFIG_INVALID: caller(CONFIG),
  UPDATE_CONFIG_UNSAFE: caller(CONFIG),
  // src/update (ReleaseError) and src/release
  RELEASE_CONFIG_INVALID: caller(CONFIG),
  RELEASE_REPO_EXISTS: caller(CANTCREAT),
  RELEASE_REPO_MISSING: caller(NOINPUT),
  RELEASE_REPO_INVALID: caller(DATAERR),
  RELEASE_BUSY: system(UNAVAILABLE),
  RELEASE_KEYS_EXIST: caller(CANTCREAT),
  RELEASE_KEYS_MISSING: caller(NOINPUT),
  RELEASE_KEY_INVALID: caller(DATAERR),
  RELEASE_ROLE_INVALID: caller(USAGE),
  RELEASE_ROOT_GAP: system(DATAERR),
  RELEASE_ARTIFACT_MISSING: caller(NOINPUT),
  RELEASE_ARTIFACT_CHANGED: caller(DATAERR),
  RELEASE_IMAGE_INVALID: caller(DATAERR),
  RELEASE_IMAGE_MISMATCH: caller(DATAERR),
  RELEASE_VERSION_INVALID: caller(USAGE),
  RELEASE_NOTES_INVALID: caller(USAGE),
  RELEASE_DOWNGRADE_REFUSED: caller(DATAERR),
  RELEASE_DELTA_TOO_LARGE: caller(DATAERR),
  RELEASE_VERSION_NOT_CURRENT: caller(DATAERR),
  // src/release: the publish gate (PublishRefusedError)
  RELEASE_KNOWN_VULNERABILITY: caller(NOPERM),
  RELEASE_SUPPORT_ENDED: caller(NOPERM),
  RELEASE_SUPPORT_SHORTENED: caller(NOPERM),
  RELEASE_SUPPORT_TOO_SHORT: caller(DATAERR),
  RELEASE_SUPPORT_DATE_INVALID: caller(USAGE),
  // src/vulns
  VULN_ADVISORY_INVALID: caller(DATAERR),
  VULN_INPUT_TOO_LARGE: caller(DATAERR),
  VULN_INPUT_UNREADABLE: caller(NOINPUT),
  VULN_UNKNOWN: caller(DATAERR),
  VULN_STATEMENT_INVALID: caller(USAGE),
  VULN_STATEMENT_MISSING: caller(DATAERR),
  VULN_STATE_INVALID: system(DATAERR),
  VULN_FIELD_UNAVAILABLE: system(UNAVAILABLE),
  // src/web (HttpError answers with the status it carries; these are the statuses it is thrown with)
  STATE_CORRUPT: system(DATAERR),
  AUTH_REQUIRED: caller(NOPERM, 401),
  SETUP_REQUIRED: caller(NOPERM, 401),
  SETUP_CLOSED: caller(DATAERR, 404),
  LOGIN_LOCKED_OUT: caller(NOPERM, 429),
  CSRF_TOKEN_INVALID: caller(NOPERM, 403),
  CSRF_ORIGIN_MISMATCH: caller(NOPERM, 403),
  HOST_NOT_ALLOWED: caller(NOPERM, 421),
  URI_INVALID: caller(DATAERR, 414),
  BODY_TOO_LARGE: caller(DATAERR, 413),
  REQUEST_ABORTED: caller(DATAERR, 400),
  UNSUPPORTED_MEDIA_TYPE: caller(DATAERR, 415),
  METHOD_NOT_ALLOWED: caller(USAGE, 405),
  UPDATE_UPLOAD_BUSY: system(UNAVAILABLE, 409),
} satisfies Record<string, ErrorRule>;

/** Every error code of every folder. */
export type ErrorCode = keyof typeof table;

/** The rule of every code. */
export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorRule>> = Object.freeze(table);
