// Every code a folder declares has a rule in the table (a type-level check: tsc fails the build
// when a folder adds a code the table lacks); the folders' unions are read here, never by src/errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdmissionErrorCode } from '../admission/index.ts';
import type { AuditErrorCode } from '../audit/index.ts';
import type { AuthErrorCode } from '../auth/index.ts';
import type { BundleErrorCode } from '../bundle/index.ts';
import type { ChannelFailureCode } from '../channel/index.ts';
import type { CliErrorCode } from '../cli/index.ts';
import type { CloudErrorCode } from '../cloud/index.ts';
import type { CloudLinkErrorCode } from '../cloudlink/index.ts';
import type { DeviceErrorCode } from '../device/index.ts';
import type { DriverErrorCode } from '../driver/index.ts';
import type { HubErrorCode } from '../hub/index.ts';
import type { IdentityErrorCode } from '../identity/index.ts';
import type { JournalErrorCode } from '../journal/index.ts';
import type { ModelsErrorCode } from '../models/index.ts';
import type { MqttErrorCode } from '../mqtt/index.ts';
import type { PairingErrorCode } from '../pairing/index.ts';
import type { FactsErrorCode, ProfileErrorCode } from '../policy/index.ts';
import type { TechfileErrorCode } from '../techfile/index.ts';
import type { UpdateErrorCode } from '../update/index.ts';
import type { PublishRefusedCode } from '../release/index.ts';
import type { VulnErrorCode } from '../vulns/index.ts';
import { ERROR_TABLE, type ErrorCode } from './codes.ts';

/** Codes of this folder's own classes. */
type CoreErrorCode = 'INVALID_INPUT';

/** The policy folder's codes: its ProfileErrorCode and FactsErrorCode, and UnknownExampleError's, which they lack. */
type PolicyErrorCode = ProfileErrorCode | FactsErrorCode | 'PROFILE_UNKNOWN_EXAMPLE';

/**
 * Codes of src/web's classes (HttpError, StateCorruptError), which declare no union of their own
 * yet. An HttpError carries its own HTTP status; the table's status is the one it is thrown with.
 */
type WebErrorCode =
  | 'STATE_CORRUPT'
  | 'AUTH_REQUIRED'
  | 'SETUP_REQUIRED'
  | 'SETUP_CLOSED'
  | 'LOGIN_LOCKED_OUT'
  | 'CSRF_TOKEN_INVALID'
  | 'CSRF_ORIGIN_MISMATCH'
  | 'HOST_NOT_ALLOWED'
  | 'URI_INVALID'
  | 'BODY_TOO_LARGE'
  | 'REQUEST_ABORTED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED'
  | 'UPDATE_UPLOAD_BUSY'
  | 'NOT_FOUND';

/** Every error code of every folder. */
type FolderCode =
  | DriverErrorCode
  | CoreErrorCode
  | AdmissionErrorCode
  | AuditErrorCode
  | AuthErrorCode
  | BundleErrorCode
  | ChannelFailureCode
  | CliErrorCode
  | CloudErrorCode
  | CloudLinkErrorCode
  | DeviceErrorCode
  | HubErrorCode
  | IdentityErrorCode
  | JournalErrorCode
  | ModelsErrorCode
  | MqttErrorCode
  | PairingErrorCode
  | PolicyErrorCode
  | TechfileErrorCode
  | UpdateErrorCode
  | PublishRefusedCode
  | VulnErrorCode
  | WebErrorCode;

/** The codes some folder declares that the table lacks: must be none. */
type Missing = Exclude<FolderCode, ErrorCode>;
const noneMissing: [Missing] extends [never] ? true : false = true;

test('every code a folder declares has a rule in the table', () => {
  assert.equal(noneMissing, true);
  assert.ok(Object.keys(ERROR_TABLE).length > 100);
});
