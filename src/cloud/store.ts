/**
 * The cloud's store behind one interface: the device registry (from the factory manifests),
 * device state and telemetry, owner accounts, sessions, attempt counters and commands. Two
 * implementations share the SQL (sql-store.ts): node:sqlite, the embedded default, and
 * PostgreSQL through `pg`, for more than one cloud instance. Everything a cloud instance knows
 * lives here or in the broker, so instances are interchangeable.
 */
import type {
  FirmwareMessage,
  FirmwareOutcome,
  RunningFirmware,
  ScalarValue,
  StateMessage,
} from '../cloudprotocol/index.ts';
import type { ModelSpec } from '../models/index.ts';
import type { RevocationReason, RevocationRecord, RevocationTarget } from './revocation.ts';
import type { CloneSuspect, RevokeOutcome, RevokedSerialNumber } from './revocation-sql.ts';
import type { IssuingCaRecord, OperationalCertificateRecord } from './issuing-sql.ts';
import type { CsafAdvisoryRecord, DisclosureReportRecord } from './security-sql.ts';
import type { CraCaseRecord, CraFacts, CraReportKind } from './cra-reporting.ts';
import type {
  AccountTokenRecord,
  HouseholdMemberRecord,
  NotificationRecord,
  PendingRemovalRecord,
} from './accounts-sql.ts';

/** One unit as imported from a factory manifest (public data only). */
export interface RegistryUnit {
  readonly serial: string;
  readonly model: string;
  /** The digest of the unit's model (`modelDigest` of src/models), from a manifest that carries models. */
  readonly modelDigest?: string;
  /** The unit's own model, from the manifest's `models`; absent in an old manifest (then: the built-in of `model`). */
  readonly modelSpec?: ModelSpec;
  readonly deviceCertFingerprint: string;
  /** The birth certificate's serial number (hex), for revocation lists; absent in an older manifest. */
  readonly deviceCertSerialNumber?: string;
  /** `hashClaimCode(serial, code)` from the factory: the code itself is never here. */
  readonly claimCodeHash: string;
  readonly createdAt: string;
}

/** A device as the owner API sees it. */
export interface DeviceRecord {
  readonly serial: string;
  readonly model: string;
  /** The unit's own model as its manifest carried it; absent for a unit from an old manifest. */
  readonly modelSpec?: ModelSpec;
  readonly ownerId: string | null;
  readonly claimedAt: number | null;
  /** The claim window is open until this time, ms since the epoch (0: closed). */
  readonly claimWindowUntil: number;
  readonly online: boolean;
  /** Last message from the device, ms since the epoch (0: never). */
  readonly seenAt: number;
  readonly state: StateMessage | null;
  /** The image it last reported running and its newest update outcome; absent before its first report. */
  readonly firmware?: DeviceFirmware;
  /** Set when the maker revoked the unit or its birth certificate: it can no longer connect. */
  readonly revoked?: { readonly reason: RevocationReason; readonly at: number };
}

/** What a device last said of its firmware. */
export interface DeviceFirmware {
  readonly running: RunningFirmware;
  /** When the cloud received the report, ms since the epoch. */
  readonly reportedAt: number;
  /** The newest update outcome it has reported, or null. */
  readonly lastOutcome: FirmwareOutcome | null;
}

/**
 * One release (a model's firmware version) across the fleet: units that run it now, that installed it,
 * that committed it (reported healthy after the trial boot) and that rolled it back.
 */
export interface ReleaseCount {
  readonly model: string;
  readonly version: string;
  readonly running: number;
  readonly installed: number;
  readonly committed: number;
  readonly rolledBack: number;
}

/** One stored telemetry message. */
export interface TelemetryRow {
  readonly serial: string;
  readonly seq: number;
  /** Device time of the reading, ms. */
  readonly at: number;
  /** When the cloud received it, ms. */
  readonly receivedAt: number;
  readonly values: Readonly<Record<string, ScalarValue>>;
}

/** An owner account. `passwordHash` is an argon2id PHC string. */
export interface AccountRecord {
  readonly id: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly createdAt: number;
  /** When the owner confirmed the address by the link mailed at sign-up, ms; null: not yet. */
  readonly verifiedAt?: number | null;
}

/** A session as stored: the hash of its id, never the id. */
export interface SessionRecord {
  readonly idHash: string;
  readonly accountId: string;
  readonly csrfToken: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
}

/** A failure counter (login or claim attempts) under one key. */
export interface AttemptRecord {
  readonly failures: number;
  readonly lastFailureAt: number;
}

/**
 * A serial that received a flood of wrong claim codes (from any accounts): a flag for the maker,
 * kept until the maker looks. It never refuses a claim.
 */
export interface ClaimFloodRecord {
  readonly serial: string;
  /** When the failures first reached the flag threshold, ms since the epoch. */
  readonly flaggedAt: number;
  /** The latest wrong code, ms since the epoch. */
  readonly lastAt: number;
  /** Wrong codes counted: the threshold when flagged, plus one for each later one. */
  readonly failures: number;
}

/** A command sent to a device and what became of it. */
export interface CommandRecord {
  readonly id: string;
  readonly serial: string;
  readonly accountId: string;
  readonly capability: string;
  readonly action: string;
  readonly value: ScalarValue | undefined;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly status: 'sent' | 'done' | 'failed';
  readonly result: { readonly value?: ScalarValue; readonly error?: { code: string; message: string } } | null;
}

/** The outcome of a claim attempt (see {@link CloudStore.claimDevice}). */
export type ClaimOutcome = 'claimed' | 'already-yours' | 'refused' | 'window-closed' | 'taken';

/** The store. Every method is safe to call from several cloud instances at once. */
export interface CloudStore {
  readonly kind: 'sqlite' | 'postgres';

  /** A random secret shared by all instances (created by the first), e.g. to bind pre-login CSRF tokens. */
  sharedSecret(name: string): Promise<Buffer>;

  // registry
  /** Adds units; existing serials are left as they are. */
  importUnits(units: readonly RegistryUnit[], now: number): Promise<{ added: number; existing: number }>;
  /** The device with this serial, or undefined when the registry has none. */
  getDevice(serial: string): Promise<DeviceRecord | undefined>;
  /** How many devices the registry holds. */
  countDevices(): Promise<number>;

  // device traffic
  /**
   * Stores telemetry; a (serial, seq) already stored is skipped, so redelivery never duplicates. Resolves with the
   * commit time, ms.
   */
  storeTelemetry(rows: readonly TelemetryRow[], storedAt: number): Promise<number>;
  /**
   * Which of the sequence numbers in `ranges` are stored for `serial` (telemetry or claim events);
   * telemetry only if stored before `storedBefore` (ms), so a receipt covers only what is durable.
   */
  storedSeqs(
    serial: string,
    ranges: ReadonlyArray<readonly [number, number]>,
    limit: number,
    storedBefore?: number,
  ): Promise<number[]>;
  /** Stores the device's latest state report; the device counts as online and seen at `now`. */
  setState(serial: string, state: StateMessage, now: number): Promise<void>;
  /** Marks the device online or offline, seen at `now`. */
  setPresence(serial: string, online: boolean, now: number): Promise<void>;
  /**
   * Stores a firmware report: the running image, and each outcome once per (serial, n) (a repeat updates it);
   * the device's history is kept to its newest `FIRMWARE_HISTORY` outcomes, its per-release facts for good.
   */
  recordFirmware(serial: string, report: FirmwareMessage, now: number): Promise<void>;
  /** The device's reported update outcomes, newest first; at most `limit`. */
  firmwareOutcomes(serial: string, limit: number): Promise<FirmwareOutcome[]>;
  /** Every release seen in firmware reports, by model then version. */
  releaseCounts(): Promise<ReleaseCount[]>;
  /**
   * Opens the claim window of `serial` until `until` (ms); a `seq` seen before changes nothing. Returns when the
   * window closes as stored (a replay's answer names the first opening's end).
   */
  openClaimWindow(serial: string, until: number, seq: number, now: number): Promise<number>;
  /** A factory reset released the claim: forget the owner and the owner's telemetry. Idempotent per `seq`. */
  releaseByDevice(serial: string, seq: number, now: number): Promise<boolean>;

  // claims
  /**
   * Atomically: the device exists and `codeHash` matches (else 'refused'); it is not someone
   * else's ('taken'); its window is open at `now` ('window-closed'); then it becomes
   * `accountId`'s and the window closes ('claimed').
   */
  claimDevice(serial: string, accountId: string, codeHash: string, now: number): Promise<ClaimOutcome>;
  /** The owner lets the device go; false when it is not theirs. */
  releaseByOwner(serial: string, accountId: string): Promise<boolean>;
  /** The account's devices, in the order they were claimed. */
  listDevices(accountId: string): Promise<DeviceRecord[]>;
  /** The device's telemetry since it was claimed, newest last; at most `limit`. */
  telemetry(serial: string, since: number, limit: number): Promise<TelemetryRow[]>;

  // accounts and sessions
  /** Creates an account; throws AccountError 'ACCOUNT_EXISTS' when the e-mail is taken. */
  createAccount(account: AccountRecord): Promise<void>;
  /** The account with this e-mail address, or undefined. */
  accountByEmail(email: string): Promise<AccountRecord | undefined>;
  /** The account with this id, or undefined. */
  accountById(id: string): Promise<AccountRecord | undefined>;
  /** Replaces the account's password hash. */
  updatePasswordHash(id: string, hash: string): Promise<void>;
  /**
   * Deletes the account, its sessions, commands, tokens, notifications, household places and counters, releases
   * its devices and erases their telemetry; nothing with its address is left.
   */
  deleteAccount(id: string): Promise<void>;
  /** Marks the account's address confirmed. */
  markVerified(id: string, now: number): Promise<void>;
  /** Stores a single-use token (its secret's SHA-256 only). */
  createAccountToken(t: AccountTokenRecord): Promise<void>;
  /** The token with this id, or undefined. */
  accountToken(id: string): Promise<AccountTokenRecord | undefined>;
  /** Marks the token used, once; false when it was used already or is expired at `now`. */
  useAccountToken(id: string, now: number): Promise<boolean>;
  /** Spends the account's unused tokens for `purpose` (those `match` accepts); resolves with how many. */
  spendUnusedAccountTokens(
    accountId: string,
    purpose: AccountTokenRecord['purpose'],
    now: number,
    match?: (data: AccountTokenRecord['data']) => boolean,
  ): Promise<number>;
  /** Ends the account's sessions, all but `keepIdHash` when given; resolves with how many ended. */
  deleteSessionsOf(accountId: string, keepIdHash?: string): Promise<number>;
  /** Logs a notification sent to the account. */
  addNotification(n: NotificationRecord): Promise<void>;
  /** The account's notifications, newest first; at most `limit`. */
  notifications(accountId: string, limit: number): Promise<NotificationRecord[]>;
  /** Adds a person to an owner's household, or changes their role. */
  putHouseholdMember(m: HouseholdMemberRecord): Promise<void>;
  /** The people of the owner's household. */
  householdMembers(ownerId: string): Promise<HouseholdMemberRecord[]>;
  /** The households the account belongs to. */
  householdMemberships(memberId: string): Promise<HouseholdMemberRecord[]>;
  /** Removes a person from a household; false when they were not in it. */
  removeHouseholdMember(ownerId: string, memberId: string): Promise<boolean>;
  /** Keeps a household removal for a device that was offline (the newest 32 per device). */
  addPendingRemoval(r: PendingRemovalRecord): Promise<void>;
  /** The removals a device has not heard yet, oldest first. */
  pendingRemovals(serial: string): Promise<PendingRemovalRecord[]>;
  /** Forgets one kept removal. */
  dropPendingRemoval(serial: string, name: string): Promise<void>;
  /** Everything stored about the account (no password hash, no token hash), for its export. */
  exportAccount(id: string): Promise<Record<string, unknown> | undefined>;
  /** Adds a session; beyond `maxPerAccount` the least recently used ones of that account go. */
  createSession(session: SessionRecord, maxPerAccount: number): Promise<void>;
  /** The session whose id hashes to `idHash`, or undefined. */
  session(idHash: string): Promise<SessionRecord | undefined>;
  /** Records that the session was used at `now`. */
  touchSession(idHash: string, now: number): Promise<void>;
  /** Deletes the session (logout). */
  deleteSession(idHash: string): Promise<void>;
  /** Removes sessions idle since `idleBefore` or created before `createdBefore`. */
  pruneSessions(idleBefore: number, createdBefore: number): Promise<number>;

  // attempt counters
  /** The failure counters stored for these keys; a key with no failures is absent. */
  attempts(keys: readonly string[]): Promise<Map<string, AttemptRecord>>;
  /** Counts one more failure, at `now`, under each key. */
  recordFailure(keys: readonly string[], now: number): Promise<void>;
  /** Forgets the failures under `key` (after a success). */
  clearAttempts(key: string): Promise<void>;
  /** Deletes counters whose last failure was before `before`; resolves with how many went. */
  pruneAttempts(before: number): Promise<number>;

  // claim floods (for the maker)
  /**
   * Flags `serial` (a known device) as under a flood of wrong claim codes with `failures` so far,
   * or counts one more on an existing flag. True when the flag is new.
   */
  flagClaimFlood(serial: string, failures: number, now: number): Promise<boolean>;
  /** The flagged serials, most recent wrong code first; at most `limit`. */
  claimFloods(limit: number): Promise<ClaimFloodRecord[]>;

  // revocations (permanent; src/cloud/revocation.ts)
  /** Revokes a unit (it must be registered: NOT_FOUND) or a certificate; a second revocation keeps the first. */
  revoke(target: RevocationTarget, reason: RevocationReason, by: string, now: number): Promise<RevokeOutcome>;
  /** Every revocation, oldest first. */
  revocations(): Promise<RevocationRecord[]>;
  /** How many revocations there are (they are never removed, so a change in this number means new ones). */
  revocationCount(): Promise<number>;
  /** The revocation covering a unit (the unit, or its birth certificate), if any. */
  unitRevocation(serial: string): Promise<RevocationRecord | undefined>;
  // operational identities (issuing-sql.ts)
  /** The cloud's issuing CAs, oldest first. */
  issuingCas(): Promise<IssuingCaRecord[]>;
  /** Adds an issuing CA; false when that generation exists already (another instance made it). */
  addIssuingCa(ca: Omit<IssuingCaRecord, 'retiredAt'>): Promise<boolean>;
  /** Records an operational certificate just issued. */
  recordOperationalCertificate(c: OperationalCertificateRecord): Promise<void>;
  /** A unit's operational certificates, newest first; at most `limit`. */
  operationalCertificates(serial: string, limit: number): Promise<OperationalCertificateRecord[]>;
  /** Units whose certificate was issued before this are asked to renew (0: never set). */
  fleetRenewalBefore(): Promise<number>;
  setFleetRenewalBefore(before: number): Promise<void>;
  /** Registered serials after `after` in order, at most `limit` (to page through the fleet). */
  serialsAfter(after: string, limit: number): Promise<string[]>;
  /** The serial numbers of revoked certificates the store knows (birth certificates), for a revocation list. */
  revokedSerialNumbers(): Promise<RevokedSerialNumber[]>;
  /** Flags a registered unit as a clone suspect, or adds `takeovers` to its flag; true when the flag is new. */
  flagClone(serial: string, takeovers: number, sources: string, now: number): Promise<boolean>;
  /** The clone suspects, newest first; at most `limit`. */
  cloneSuspects(limit: number): Promise<CloneSuspect[]>;

  // the maker's security duties (security-sql.ts)
  /** Stores a coordinated-disclosure report. */
  addDisclosureReport(report: DisclosureReportRecord): Promise<void>;
  /** The newest disclosure reports first; at most `limit`. */
  disclosureReports(limit: number): Promise<DisclosureReportRecord[]>;
  /** Opens a CRA reporting case; one already open for the same (kind, ref) is kept and returned. */
  openCraCase(c: Omit<CraCaseRecord, 'submitted' | 'fixAt'>): Promise<{ record: CraCaseRecord; created: boolean }>;
  /** Every CRA case, the one that became known last first; at most `limit`. */
  craCases(limit: number): Promise<CraCaseRecord[]>;
  /** The CRA case with this id, or undefined. */
  craCase(id: string): Promise<CraCaseRecord | undefined>;
  /** Replaces a case's facts; false when there is no such case. */
  setCraFacts(id: string, facts: CraFacts): Promise<boolean>;
  /** Records when a corrective or mitigating measure became available; false when there is no such case. */
  setCraFix(id: string, at: number): Promise<boolean>;
  /** Records that a person submitted a report (the first record kept); false when there is no such case. */
  recordCraSubmission(id: string, report: CraReportKind, at: number, by: string): Promise<boolean>;
  /** Adds or replaces (same path) a published CSAF advisory. */
  putCsafAdvisory(a: CsafAdvisoryRecord): Promise<void>;
  /** Every published advisory without its document, the most recently changed first. */
  csafAdvisories(): Promise<CsafAdvisoryRecord[]>;
  /** The advisory at `path` (`<year>/<file>.json`) with its document, or undefined. */
  csafAdvisory(path: string): Promise<CsafAdvisoryRecord | undefined>;

  // commands
  /** Stores a command just sent to a device. */
  createCommand(command: CommandRecord): Promise<void>;
  /** Records a device's reply; false when the command is unknown or already complete. */
  completeCommand(
    id: string,
    serial: string,
    status: 'done' | 'failed',
    result: CommandRecord['result'],
    now: number,
  ): Promise<boolean>;
  /** The command with this id, or undefined. */
  command(id: string): Promise<CommandRecord | undefined>;

  /** Deletes telemetry received before `before` and commands created before it. */
  pruneTelemetry(before: number): Promise<number>;
  /** Closes the database connection(s). */
  close(): Promise<void>;
}
