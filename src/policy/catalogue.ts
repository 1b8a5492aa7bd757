/**
 * The control catalogue: every security control Bulwark enforces, as typed data. Each control
 * says what must be true, why, which part of the brief it serves, which standard provisions it
 * meets, which device profiles need it, and how the auditor checks it.
 *
 * @example
 *   const lockout = getControl('AUTH-LOCKOUT');
 *   lockout.checks.map((c) => c.id); // ['login.lockout', 'config.lockout']
 */
import type { NetworkModel, Sensor, Actuator } from './profile.ts';
import type { EtsiProvisionId } from './etsi.ts';
import type { PstiRequirementId } from './psti.ts';
import type { CraRequirementId } from './cra.ts';
import type { CraAnnex2ItemId } from './cra-annex2.ts';
import type { NistOutcomeId } from './nist-ir8425.ts';
import type { PsaGoalId } from './psa.ts';
import type { IoxtPrincipleId } from './ioxt.ts';

/** Risk tier of a product: 1 (baseline), 2 (elevated), 3 (high); see decide.ts. */
export type Tier = 1 | 2 | 3;

/** The parts of the brief (shared/brief.txt) a control can serve. */
export const BRIEF_PARTS = [
  'Question: privacy',
  'Question: control gates',
  'Question: cryptography',
  'Question: vulnerability handling',
  'Question: decision trees for quality planning',
  'Comment: autoupdate facility',
  'Convenient setup',
  'Local automation hub',
  'Connect to manufacturer',
  'Provide a listening service',
  'Secure development',
  'Physical security',
  'Software Updates',
  'Logging',
] as const;
/** One part of the brief. */
export type BriefPart = (typeof BRIEF_PARTS)[number];

/** How a check gathers evidence: from configuration, bundle and build, or by probing a running device. */
export type CheckKind = 'white-box' | 'black-box';

/** Checks that probe a running device over the network. */
const BLACK_BOX_CHECK_IDS = [
  'tls.versions',
  'tls.ciphers',
  'tls.unique-certificates',
  'http.auth-all-routes',
  'http.csrf',
  'http.cookie-flags',
  'http.security-headers',
  'http.security-txt',
  'http.info-disclosure',
  'http.input-validation',
  'login.default-credentials',
  'login.lockout',
  'net.debug-ports',
  'hub.pairing-window',
  'channel.mutual-tls',
  'cloud.client-isolation',
  'cloud.claim-window',
  'tls.certificate-lifetimes',
  'cloud.revocation-enforced',
  'cloud.disclosure-intake',
  'cloud.facts-record',
] as const;

/** Checks that read the device's bundle, configuration, state and build. */
const WHITE_BOX_CHECK_IDS = [
  'bundle.unique-credentials',
  'bundle.hash-params',
  'bundle.update-trust-anchor',
  'bundle.cloud-trust-anchor',
  'bundle.model-designation',
  'bundle.secret-file-modes',
  'build.lint',
  'build.sbom',
  'build.sbom-complete',
  'build.known-vulnerabilities',
  'build.fuzz-targets',
  'build.no-hardcoded-secrets',
  'build.crypto-allowlist',
  'build.audit-report',
  'config.password-policy',
  'config.lockout',
  'config.session',
  'config.debug-off',
  'config.upnp-off',
  'config.pairing-mode',
  'config.hub-acl',
  'config.auto-update',
  'config.log-retention',
  'config.service-unit',
  'config.offline-operation',
  'journal.connections',
  'journal.security-events',
  'journal.redaction',
  'journal.no-content',
  'journal.flood-resistant',
  'update.signature-required',
  'update.anti-rollback',
  'update.failsafe-slots',
  'update.release-notes',
  'state.factory-reset',
  'state.data-export',
  'device.secure-defaults',
  'policy.support-period',
  'policy.disclosure',
  'policy.privacy-notice',
  'policy.setup-guidance',
  'policy.coverage-justified',
] as const;

/** Every check the auditor implements; controls refer to these ids. */
export const CHECK_IDS = [...BLACK_BOX_CHECK_IDS, ...WHITE_BOX_CHECK_IDS] as const;
/** The id of a check the auditor implements, e.g. 'tls.versions'. */
export type CheckId = (typeof CHECK_IDS)[number];

/** One way of verifying a control. */
export interface Check {
  readonly id: CheckId;
  readonly kind: CheckKind;
  readonly description: string;
}

/** What each check does; one entry per check id, so a check means the same thing in every control. */
const CHECK_DESCRIPTIONS: Readonly<Record<CheckId, string>> = {
  'tls.versions': 'One handshake per TLS version: only TLS 1.2 and 1.3 are accepted.',
  'tls.ciphers': 'One handshake per cipher family: only forward-secret AEAD suites are accepted.',
  'tls.unique-certificates': 'The certificates (and public keys) presented by two or more units all differ.',
  'http.auth-all-routes': 'Every known route except the login page refuses a request without a session.',
  'http.csrf': 'A state-changing request with a foreign Origin and no CSRF token is refused.',
  'http.cookie-flags': 'Session cookies are HttpOnly, Secure and SameSite=Strict.',
  'http.security-headers':
    'Responses carry a strict Content-Security-Policy, HSTS, nosniff, frame and referrer protections.',
  'http.security-txt': '/.well-known/security.txt (RFC 9116) is served over HTTPS with Contact and a future Expires.',
  'http.info-disclosure': 'Unauthenticated responses and error pages name no software, version or internal path.',
  'http.input-validation': 'Malformed, oversized and mistyped request bodies get a 4xx answer, never a 5xx or a hang.',
  'login.default-credentials':
    'A short list of well-known default credentials is refused; stops at the first lockout signal.',
  'login.lockout': 'Repeated failed logins are met with back-off or lockout.',
  'net.debug-ports': 'TCP connect scan of telnet, ssh, Node inspector and adb ports on the device address: all closed.',
  'hub.pairing-window': 'A pairing attempt while the pairing window is closed is refused.',
  'channel.mutual-tls': 'A channel connection without the pinned peer certificate is refused.',
  'cloud.client-isolation': "One device identity cannot take another device's client id or use its topics.",
  'cloud.claim-window':
    'A claim with a correct claim code is refused while the claim window is closed; wrong codes are rate-limited.',
  'tls.certificate-lifetimes':
    'The served web certificate is valid at most 398 days and in date; the birth certificate outlives the support ' +
    'period; an operational certificate is at most 825 days; a certificate past its renewal point was renewed.',
  'cloud.revocation-enforced': 'A client certificate the cloud has revoked is refused by the broker.',
  'cloud.disclosure-intake':
    'The cloud serves a current security.txt and a report form, and refuses an empty report with a typed 4xx.',
  'cloud.facts-record':
    "The cloud serves the model and version's security facts record (the label's QR code URL), valid against its " +
    "schema, and every field matches the evidence: support date, the unit's automatic-update default, the SBOM, " +
    "security.txt's contact and policy.",
  'bundle.unique-credentials':
    'Across a factory manifest, no password, code, key or certificate repeats and none is derived from the ' +
    'serial.',
  'bundle.hash-params':
    "Stored password hashes are argon2id with per-user salts and at least the project's cost parameters.",
  'bundle.update-trust-anchor': "The image carries the update repository's TUF root metadata as its trust anchor.",
  'bundle.cloud-trust-anchor': 'The cloud link trusts only the pinned manufacturer CA, never the system store.',
  'bundle.model-designation': 'The sticker and the device information name the model.',
  'bundle.secret-file-modes':
    'Secret files are owner-only (0600) and setup and claim codes are stored only as verifiers or hashes.',
  'build.lint': 'Lint passes on the firmware source, including the bans on shell execution and eval.',
  'build.sbom': 'A CycloneDX SBOM exists for the firmware image.',
  'build.sbom-complete':
    'Every library in the SBOM has a name, version, purl, hash and licence; every file a SHA-256; the image its hash.',
  'build.known-vulnerabilities':
    'Advisories were matched against the published images recently, and no current image holds a version an ' +
    'advisory affects unless the maker stated it is not affected or fixed.',
  'build.fuzz-targets': 'Every parser of outside input has a schema and a fuzz target.',
  'build.no-hardcoded-secrets': 'The source and image contain no hard-coded keys, passwords or tokens.',
  'build.crypto-allowlist':
    'Cryptography comes only from node:crypto, node:tls and the allow-listed audited libraries.',
  'build.audit-report': 'The release carries a passing audit report for the image it ships.',
  'config.password-policy':
    'The password policy sets a minimum length and strength, bans serial, model and common passwords, and asks ' +
    'for the current password to change it.',
  'config.lockout': 'Lockout with back-off is enabled per account and per source address.',
  'config.session': 'Sessions have bounded idle and absolute lifetimes.',
  'config.debug-off': 'Production mode is on: no inspector, REPL or test hooks, no --inspect flags.',
  'config.upnp-off': 'UPnP / NAT-PMP port mapping is off unless the owner turned it on.',
  'config.pairing-mode':
    'Pairing windows and attempt limits are within bounds; sensitive classes allow setup-code pairing only.',
  'config.hub-acl': 'Each paired hub has an access list of capabilities; sensitive ones need an explicit grant.',
  'config.auto-update':
    'Automatic updates are on by default with a bounded check interval; the owner can postpone or turn them off.',
  'config.log-retention': 'Log size and age limits are set and within bounds.',
  'config.service-unit':
    'The service unit runs as an unprivileged user with sandboxing (NoNewPrivileges, ProtectSystem and the like).',
  'config.offline-operation':
    'Local control does not depend on the cloud or hub link; reconnects use back-off with jitter.',
  'journal.connections':
    'The journal holds one entry per connection attempt, with time, source, surface, identity claimed and result.',
  'journal.security-events':
    'Lockouts, pairings, claims and update results are recorded as security events the owner can list.',
  'journal.redaction': 'Logs contain none of the passwords, tokens, codes or keys seeded as canaries.',
  'journal.no-content': 'Logs contain no camera or microphone content or anything derived from it.',
  'journal.flood-resistant':
    'Failed logins the auditor planted are still in the journal after a bounded flood of bare TLS handshakes ' +
    'from several addresses.',
  'update.signature-required': 'The updater refuses unsigned, wrongly signed, expired and mixed-up metadata.',
  'update.anti-rollback':
    'The updater refuses a correctly signed image older than any it has run; its counter only grows.',
  'update.failsafe-slots':
    'Images go to the inactive A/B slot, are switched in atomically, and fall back if unhealthy.',
  'update.release-notes':
    'Each release carries a user-facing note: the risk it fixes and whether installing interrupts the device.',
  'state.factory-reset':
    'After a factory reset no user secret, log, pairing or claim is left and the sticker credentials work again.',
  'state.data-export': 'The owner can export and delete their data, and deletion is confirmed.',
  'device.secure-defaults':
    'A fresh unit and the unit after a factory reset, booted by the auditor as the unit is launched, use every ' +
    "setting of the model's secure-default baseline at its value or stricter, and have no security-relevant " +
    'setting the baseline leaves out.',
  'policy.support-period': 'The policy publishes a support-period end date that has not passed.',
  'policy.disclosure': 'The policy publishes the security contact and the acknowledgement and status-update timelines.',
  'policy.privacy-notice': 'The policy states sensors, personal data, telemetry and consent in plain words.',
  'policy.setup-guidance': 'The policy tells the user how to set the device up securely and how to check it.',
  'policy.coverage-justified': 'Every standard provision not met carries a written reason.',
};

/** Each check with its kind and description, by id. */
export const CHECKS: Readonly<Record<CheckId, Check>> = defineChecks();

function defineChecks(): Record<CheckId, Check> {
  const out = {} as Record<CheckId, Check>;
  const blackBox: ReadonlySet<CheckId> = new Set(BLACK_BOX_CHECK_IDS);
  for (const id of CHECK_IDS) {
    out[id] = { id, kind: blackBox.has(id) ? 'black-box' : 'white-box', description: CHECK_DESCRIPTIONS[id] };
  }
  return out;
}

/**
 * Which profiles need a control, as data. Every stated condition must hold; a list holds when
 * the profile has at least one of its items. `{}` means every device.
 */
export interface Applicability {
  readonly networkModels?: readonly NetworkModel[];
  readonly sensors?: readonly Sensor[];
  readonly actuators?: readonly Actuator[];
  /** Applies from this risk tier up. */
  readonly minTier?: Tier;
  /** Applies only when the product keeps personal data (true) or only when it does not (false). */
  readonly personalData?: boolean;
  /** Applies only when the device is (true) or is not (false) reachable from the internet. */
  readonly internetExposed?: boolean;
}

/** Standard provisions a control meets. */
export interface ProvisionRefs {
  /** ETSI EN 303 645 V2.1.1 provision ids. */
  readonly etsi: readonly EtsiProvisionId[];
  /** UK PSTI Schedule 1 requirements. */
  readonly psti?: readonly PstiRequirementId[];
  /** OWASP ISVS 1.0 requirement ids such as '2.1.12'. */
  readonly isvs?: readonly string[];
  /** EU CRA Annex I requirement ids. */
  readonly cra?: readonly CraRequirementId[];
  /** EU CRA Annex II user-information points such as '8(e)'. */
  readonly annex2?: readonly CraAnnex2ItemId[];
  /** NIST IR 8425 outcomes (slugs of their names). */
  readonly nist?: readonly NistOutcomeId[];
  /** PSA Certified security goals (slugs of their names). */
  readonly psa?: readonly PsaGoalId[];
  /** ioXt pledge principles (slugs of their names). */
  readonly ioxt?: readonly IoxtPrincipleId[];
}

interface ControlDefinition {
  readonly id: string;
  readonly title: string;
  readonly statement: string;
  readonly rationale: string;
  readonly brief: BriefPart;
  readonly provisions: ProvisionRefs;
  readonly appliesTo: Applicability;
  readonly checks: readonly CheckId[];
}

const LISTENING = { networkModels: ['listening'] } as const;
const HUB = { networkModels: ['hub'] } as const;
const CLOUD = { networkModels: ['cloud'] } as const;
const EVERY_DEVICE = {} as const;

const DEFINITIONS = [
  // ---- Provide a listening service: passwords and web authentication
  {
    id: 'AUTH-UNIQUE-PASSWORD',
    title: 'No universal default password',
    statement:
      'The admin service starts either with a random password unique to the unit and printed on its sticker, ' +
      "or with a password the user sets during a setup window that needs the sticker's setup code. A password " +
      'shared by all units cannot be configured.',
    rationale:
      'Default passwords identical on every device are the most common way IoT devices are taken over; unique ' +
      'or user-set initial passwords remove the class-wide break.',
    brief: 'Provide a listening service',
    provisions: {
      etsi: ['5.1-1', '5.1-2'],
      psti: ['PSTI-1'],
      isvs: ['2.1.9', '2.1.10'],
      cra: ['I.2(b)'],
      nist: ['interface-access-control'],
      psa: ['interaction'],
      ioxt: ['no-universal-password', 'security-by-default'],
    },
    appliesTo: LISTENING,
    checks: ['login.default-credentials', 'bundle.unique-credentials'],
  },
  {
    id: 'AUTH-PASSWORD-STRENGTH',
    title: 'Password strength policy',
    statement:
      'A password the user chooses has at least 12 characters, passes a strength estimate, and is not the ' +
      'serial number, the model name or a common password.',
    rationale:
      'Users prefer memorable passwords and reuse them; without a strength policy the first guesses of an ' +
      'attacker succeed.',
    brief: 'Provide a listening service',
    provisions: { etsi: ['5.1-5'], isvs: ['2.1.5', '2.1.7'], cra: ['I.2(d)'], nist: ['interface-access-control'] },
    appliesTo: LISTENING,
    checks: ['config.password-policy'],
  },
  {
    id: 'AUTH-PASSWORD-CHANGE',
    title: 'Simple, safe password change',
    statement:
      'The owner can change the admin password from the admin page at any time; the change asks for the ' +
      'current password and ends other sessions.',
    rationale:
      'A credential that cannot be changed easily stays the sticker value for ever; asking for the current one ' +
      'stops a hijacked session from locking the owner out.',
    brief: 'Provide a listening service',
    provisions: { etsi: ['5.1-4'], isvs: ['2.1.6', '2.1.8'], nist: ['product-configuration'] },
    appliesTo: LISTENING,
    checks: ['config.password-policy'],
  },
  {
    id: 'AUTH-LOCKOUT',
    title: 'Lockout against password guessing',
    statement:
      'Failed logins are limited per account and per source address with exponential back-off, so online ' +
      'guessing stays impracticable.',
    rationale:
      'A listening service reachable from a network invites automated guessing; back-off caps the guesses an ' +
      'attacker gets without locking the owner out for good.',
    brief: 'Provide a listening service',
    provisions: {
      etsi: ['5.1-5'],
      isvs: ['2.1.12'],
      cra: ['I.2(d)'],
      nist: ['interface-access-control'],
      ioxt: ['secured-interfaces'],
    },
    appliesTo: LISTENING,
    checks: ['login.lockout', 'config.lockout'],
  },
  {
    id: 'AUTH-PASSWORD-HASHING',
    title: 'Passwords stored as salted, expensive hashes',
    statement:
      'Passwords are stored only as argon2id hashes with a per-user salt and memory and time costs at or above ' +
      "the project's floor; plain passwords are never written anywhere.",
    rationale:
      "If a device's storage is read, a slow salted hash keeps reused passwords from leaking into the owner's " +
      'other accounts.',
    brief: 'Provide a listening service',
    provisions: { etsi: ['5.1-3', '5.4-1'], cra: ['I.2(e)'], nist: ['data-protection'], psa: ['secure-storage'] },
    appliesTo: LISTENING,
    checks: ['bundle.hash-params'],
  },
  {
    id: 'AUTH-ALL-REQUESTS',
    title: 'Authentication on every request',
    statement: 'Every request to the admin service needs a valid session, except the login page and its static assets.',
    rationale:
      'Requiring authentication everywhere shrinks the attack surface to the login form, so a bug elsewhere ' +
      'cannot be exploited by strangers.',
    brief: 'Secure development',
    provisions: {
      etsi: ['5.5-4', '5.5-5'],
      cra: ['I.2(d)'],
      nist: ['interface-access-control', 'product-configuration'],
      psa: ['interaction'],
      ioxt: ['secured-interfaces'],
    },
    appliesTo: LISTENING,
    checks: ['http.auth-all-routes'],
  },
  {
    id: 'AUTH-SESSIONS',
    title: 'Short-lived, browser-hardened sessions',
    statement:
      'Session cookies are HttpOnly, Secure and SameSite=Strict, with bounded idle and absolute lifetimes ' +
      'after which the user logs in again.',
    rationale:
      'A stolen or forgotten session is as good as the password; cookie flags keep it away from scripts and ' +
      'other sites and lifetimes bound its use.',
    brief: 'Provide a listening service',
    provisions: { etsi: ['5.1-3'], isvs: ['2.1.13'], cra: ['I.2(d)'], nist: ['interface-access-control'] },
    appliesTo: LISTENING,
    checks: ['http.cookie-flags', 'config.session'],
  },
  {
    id: 'WEB-CSRF',
    title: 'Cross-site request forgery defence',
    statement:
      'Every state-changing request must carry a valid CSRF token and a same-origin Origin header; anything ' +
      'else is refused.',
    rationale:
      "Without it, any web page the owner visits can make their browser change the device's settings through " +
      "the owner's session.",
    brief: 'Secure development',
    provisions: {
      etsi: ['5.5-5'],
      cra: ['I.2(d)'],
      nist: ['interface-access-control', 'product-configuration'],
      ioxt: ['secured-interfaces'],
    },
    appliesTo: LISTENING,
    checks: ['http.csrf'],
  },
  {
    id: 'WEB-SECURITY-HEADERS',
    title: 'Strict browser security headers',
    statement:
      'The admin service sends a strict Content-Security-Policy, HSTS, X-Content-Type-Options, frame-ancestors ' +
      'and Referrer-Policy on every response.',
    rationale:
      'Headers keep the admin pages on HTTPS and make injected script, framing and content sniffing fail even ' +
      'if a page has a bug.',
    brief: 'Secure development',
    provisions: { etsi: ['5.5-1'], cra: ['I.2(k)'], nist: ['interface-access-control'], ioxt: ['secured-interfaces'] },
    appliesTo: LISTENING,
    checks: ['http.security-headers'],
  },
  {
    id: 'NET-NO-UPNP',
    title: 'UPnP port forwarding off by default',
    statement:
      'The device never asks the router to forward ports (UPnP, NAT-PMP) unless the owner turns that on explicitly.',
    rationale:
      'Automatic port forwarding puts the admin service on the internet without the owner knowing, which turns ' +
      'a local weakness into a remote one.',
    brief: 'Provide a listening service',
    provisions: {
      etsi: ['5.6-1', '5.6-5'],
      cra: ['I.2(b)', 'I.2(i)', 'I.2(j)'],
      nist: ['interface-access-control', 'product-configuration'],
      ioxt: ['security-by-default'],
    },
    appliesTo: LISTENING,
    checks: ['config.upnp-off'],
  },
  {
    id: 'NET-MINIMAL-SURFACE',
    title: 'Minimal network surface',
    statement:
      'Only the services the product needs are listening; remote shells and debug ports (telnet, ssh, Node ' +
      'inspector, adb) are closed; nothing reachable before authentication names software or versions.',
    rationale:
      'Every open port and version banner is something an attacker can probe or match against known vulnerabilities.',
    brief: 'Secure development',
    provisions: {
      etsi: ['5.6-1', '5.6-2', '5.6-5'],
      isvs: ['3.2.3'],
      cra: ['I.2(j)'],
      nist: ['interface-access-control'],
      psa: ['interaction'],
      ioxt: ['secured-interfaces'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['net.debug-ports', 'http.info-disclosure'],
  },
  // ---- Cryptography and identity
  {
    id: 'TLS-MODERN-CONFIG',
    title: 'Every connection encrypted with modern TLS',
    statement:
      'All network connections use TLS 1.2 or 1.3 with forward-secret AEAD cipher suites only; older ' +
      'protocols, compression and renegotiation are off.',
    rationale:
      'Encryption keeps credentials and personal data away from anyone on the network; old protocol versions ' +
      'and ciphers have practical attacks.',
    brief: 'Secure development',
    provisions: {
      etsi: ['5.5-1', '5.5-6', '5.5-7', '5.8-1', '5.8-2'],
      isvs: ['4.1.1', '4.1.2'],
      cra: ['I.2(e)', 'I.2(f)'],
      nist: ['data-protection'],
      psa: ['cryptographic-services'],
      ioxt: ['proven-cryptography', 'secured-interfaces'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['tls.versions', 'tls.ciphers'],
  },
  {
    id: 'TLS-UNIQUE-CERTIFICATE',
    title: 'A unique certificate and key per unit',
    statement: 'Each unit has its own TLS key pair and certificate made at the factory; no two units share a key.',
    rationale:
      'A self-signed certificate is acceptable only if it is unique: a shared key extracted from one unit ' +
      'would let an attacker impersonate or decrypt every other.',
    brief: 'Secure development',
    provisions: { etsi: ['5.4-4'], isvs: ['2.4.1'], nist: ['asset-identification'], psa: ['unique-identification'] },
    appliesTo: EVERY_DEVICE,
    checks: ['tls.unique-certificates', 'bundle.unique-credentials'],
  },
  {
    id: 'IDENT-UNIQUE-CREDENTIALS',
    title: 'Per-unit credentials from a secure random source',
    statement:
      'Every credential a unit ships with (keys, certificates, sticker password, setup code, claim code) is ' +
      'generated at the factory from a cryptographic random source, is unique to the unit and is not derived ' +
      'from its serial number or other public data.',
    rationale:
      'Credentials computed from serials or counters can be predicted for every unit once the pattern is ' +
      'known, which defeats uniqueness.',
    brief: 'Question: cryptography',
    provisions: {
      etsi: ['5.1-1', '5.1-2', '5.4-3', '5.4-4', '5.5-8'],
      psti: ['PSTI-1'],
      isvs: ['2.1.9', '2.1.10', '2.4.1'],
      cra: ['I.2(b)'],
      nist: ['asset-identification'],
      psa: ['unique-identification'],
      ioxt: ['no-universal-password'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['bundle.unique-credentials', 'build.no-hardcoded-secrets'],
  },
  {
    id: 'STORE-SECRETS-PROTECTED',
    title: 'Secrets stored protected, never hard-coded',
    statement:
      'Secrets at rest live in owner-only files of an unprivileged user; setup and claim codes are kept only ' +
      'as verifiers or hashes; no key, password or token is hard-coded in the software.',
    rationale:
      'Stored secrets are the keys to the device and its services; hard-coded ones are the same on every unit ' +
      'and end up in public firmware images.',
    brief: 'Question: cryptography',
    provisions: {
      etsi: ['5.4-1', '5.4-3', '5.5-8'],
      isvs: ['2.1.9'],
      cra: ['I.2(e)'],
      nist: ['data-protection'],
      psa: ['secure-storage'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['bundle.secret-file-modes', 'build.no-hardcoded-secrets'],
  },
  {
    id: 'CRYPTO-REVIEWED-IMPLEMENTATIONS',
    title: 'Reviewed, updateable cryptography only',
    statement:
      'Cryptography comes from the platform (node:crypto and node:tls on OpenSSL) or from allow-listed audited ' +
      'libraries, never from home-made code, and is replaced through signed updates like any other component.',
    rationale:
      'Reviewed implementations avoid the subtle bugs of new cryptographic code, and updateable ones let a ' +
      'broken algorithm be retired.',
    brief: 'Question: cryptography',
    provisions: {
      etsi: ['5.5-2', '5.5-3'],
      cra: ['I.2(e)'],
      nist: ['data-protection'],
      psa: ['cryptographic-services'],
      ioxt: ['proven-cryptography'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['build.crypto-allowlist', 'build.sbom'],
  },
  // ---- Local automation hub
  {
    id: 'PAIR-WINDOW',
    title: 'Pairing only inside a physically opened window',
    statement:
      'The device pairs only during a short window opened by a physical action on it (a button press); the ' +
      'window closes after the first pairing, after its time limit or after a few failed attempts.',
    rationale:
      'A device that pairs with whoever asks can be taken over from the network at any time; a short, physical ' +
      'window leaves only the small exposure the brief accepts.',
    brief: 'Local automation hub',
    provisions: {
      etsi: ['5.1-5', '5.5-4', '5.12-1'],
      cra: ['I.2(d)'],
      nist: ['interface-access-control'],
      ioxt: ['security-by-default'],
    },
    appliesTo: HUB,
    checks: ['hub.pairing-window', 'config.pairing-mode'],
  },
  {
    id: 'PAIR-PAKE-SENSITIVE',
    title: 'Setup-code pairing required for sensitive devices',
    statement:
      'Tier-3 devices (locks, cameras, microphones, location trackers) pair only by a PAKE (SPAKE2+) over the ' +
      'setup code from the sticker and refuse push-button pairing; the device stores only the verifier.',
    rationale:
      'Push-button pairing trusts the first hub that answers, which is not enough where a compromise opens a ' +
      'door or a window into the home; a PAKE proves both sides know the code without revealing it.',
    brief: 'Local automation hub',
    provisions: {
      etsi: ['5.1-3', '5.5-7'],
      cra: ['I.2(d)'],
      nist: ['interface-access-control'],
      ioxt: ['secured-interfaces'],
    },
    appliesTo: { networkModels: ['hub'], minTier: 3 },
    checks: ['config.pairing-mode'],
  },
  {
    id: 'CHANNEL-MUTUAL-TLS',
    title: 'Encrypted, mutually authenticated hub channel',
    statement:
      "After pairing, hub and device talk only over mutual TLS 1.3 with each other's key pinned; nothing on " +
      'the channel is accepted from an unauthenticated peer.',
    rationale:
      'Pairing is worth little if later traffic can be read or injected; pinned keys mean a rogue hub on the ' +
      'same network gets nothing.',
    brief: 'Local automation hub',
    provisions: {
      etsi: ['5.1-3', '5.5-1', '5.5-5', '5.5-6', '5.6-2', '5.8-1', '5.8-2'],
      isvs: ['4.1.1', '4.1.3'],
      cra: ['I.2(e)', 'I.2(f)'],
      nist: ['interface-access-control', 'data-protection'],
      psa: ['interaction'],
      ioxt: ['secured-interfaces'],
    },
    appliesTo: HUB,
    checks: ['channel.mutual-tls'],
  },
  {
    id: 'HUB-LEAST-PRIVILEGE',
    title: 'The hub gets listed rights, not blanket trust',
    statement:
      'A paired hub may use only the capabilities on its access list; sensitive ones (unlocking, snapshots) ' +
      'need an explicit grant by the owner.',
    rationale:
      'Devices usually trust their hub fully, so one compromised hub controls the whole home; an access list ' +
      'limits what it can do.',
    brief: 'Local automation hub',
    provisions: { etsi: ['5.5-5'], cra: ['I.2(d)', 'I.2(i)'], nist: ['interface-access-control'] },
    appliesTo: HUB,
    checks: ['config.hub-acl'],
  },
  // ---- Connect to manufacturer
  {
    id: 'CLOUD-PINNED-CA',
    title: 'Manufacturer CA pinned for the cloud link',
    statement:
      'The device connects to the manufacturer over mutual TLS, proving itself with its factory certificate ' +
      'and trusting only the manufacturer CA pinned in its firmware, never the system store.',
    rationale:
      'A pinned CA means a mis-issued public certificate or an intercepting proxy cannot pose as the ' +
      "manufacturer's service.",
    brief: 'Connect to manufacturer',
    provisions: {
      etsi: ['5.5-1'],
      isvs: ['4.1.3', '4.1.5'],
      cra: ['I.2(e)'],
      nist: ['data-protection'],
      ioxt: ['secured-interfaces'],
    },
    appliesTo: CLOUD,
    checks: ['bundle.cloud-trust-anchor'],
  },
  {
    id: 'CLOUD-DEVICE-ISOLATION',
    title: 'Each device confined to itself in the cloud',
    statement:
      'The cloud identifies a device only by its certificate: the client id must equal the certificate name ' +
      'and the broker confines each device to its own topics.',
    rationale:
      "If devices could use each other's ids or topics, one extracted device key would let an attacker knock " +
      'other devices offline or read their data.',
    brief: 'Connect to manufacturer',
    provisions: {
      etsi: ['5.1-3', '5.5-5'],
      isvs: ['4.2.2', '4.2.3'],
      cra: ['I.2(d)', 'I.2(i)'],
      nist: ['interface-access-control'],
    },
    appliesTo: CLOUD,
    checks: ['cloud.client-isolation'],
  },
  {
    id: 'IDENTITY-LIFECYCLE',
    title: 'Identities that are renewed and can be withdrawn',
    statement:
      'The web certificate is short-lived and renewed by the unit for its own key; the factory (birth) ' +
      'certificate is used to obtain short-lived operational certificates that the unit renews with a new key; ' +
      'the manufacturer can revoke a unit or a certificate, and the broker refuses it at once, without a restart.',
    rationale:
      'A key that leaks, a cloned unit or a stolen batch must stop being trusted; a certificate valid for ' +
      'decades that nothing can withdraw stays an open door for the life of the product.',
    brief: 'Connect to manufacturer',
    provisions: {
      etsi: ['5.5-8', '5.4-1'],
      isvs: ['4.1.3'],
      cra: ['I.2(d)', 'I.2(f)'],
      nist: ['asset-identification'],
      psa: ['unique-identification', 'security-lifecycle'],
    },
    appliesTo: CLOUD,
    checks: ['tls.certificate-lifetimes', 'cloud.revocation-enforced'],
  },
  {
    id: 'CLOUD-SECURE-CLAIM',
    title: 'Secure account association (claim)',
    statement:
      'A user associates a device with their account only by presenting the claim code from the sticker while ' +
      'a claim window is open on the device; the cloud stores only a hash of the code and rate-limits ' +
      'attempts; a serial number or anything printed on the box is never enough; factory reset releases the ' +
      'claim.',
    rationale:
      "Weak association lets strangers attach other people's devices to their accounts (as with the Nissan " +
      'Leaf app); possession of the code plus physical access rules that out.',
    brief: 'Connect to manufacturer',
    provisions: { etsi: ['5.1-5', '5.5-4'], cra: ['I.2(d)'], nist: ['interface-access-control'] },
    appliesTo: CLOUD,
    checks: ['cloud.claim-window'],
  },
  {
    id: 'RESILIENCE-OUTAGES',
    title: 'Keeps working when the cloud, hub or power is away',
    statement:
      'Local functions work without the cloud or the hub; reconnection uses exponential back-off with jitter; ' +
      'state is written atomically so a power cut never corrupts it.',
    rationale:
      "Relying on the manufacturer's service means its outages become the owner's; a lock or heater must keep " +
      'working, and a fleet must not stampede the service when it returns.',
    brief: 'Connect to manufacturer',
    provisions: { etsi: ['5.9-1', '5.9-2', '5.9-3'], cra: ['I.2(h)'], nist: ['product-configuration'] },
    appliesTo: EVERY_DEVICE,
    checks: ['config.offline-operation'],
  },
  // ---- Secure development
  {
    id: 'DEV-NO-SHELL',
    title: 'No shell, ever',
    statement:
      'The software never starts a shell: no exec, no shell: true, no eval; external programs run only from an ' +
      'allow-list with argument arrays. Lint enforces this in CI.',
    rationale:
      'Shell scripts and CGI built from strings are where command injection, the most common IoT flaw, comes from.',
    brief: 'Secure development',
    provisions: { etsi: ['5.6-9', '5.13-1'], cra: ['I.2(a)', 'I.2(j)'], nist: ['interface-access-control'] },
    appliesTo: EVERY_DEVICE,
    checks: ['build.lint'],
  },
  {
    id: 'DEV-INPUT-VALIDATION',
    title: 'All input validated against a schema',
    statement:
      'Everything arriving from outside (HTTP bodies, pairing and channel messages, MQTT payloads, update ' +
      'metadata, configuration files) is size-bounded and checked against a schema before use; failures get ' +
      'typed errors, not crashes.',
    rationale:
      'Unvalidated input is the root of injection and memory-safety flaws; bounded, schema-checked input fails safely.',
    brief: 'Secure development',
    provisions: { etsi: ['5.13-1'], cra: ['I.2(f)'], nist: ['interface-access-control'], ioxt: ['secured-interfaces'] },
    appliesTo: EVERY_DEVICE,
    checks: ['http.input-validation', 'build.fuzz-targets'],
  },
  {
    id: 'DEV-PARSER-FUZZING',
    title: 'Every parser fuzzed',
    statement:
      'Each parser of outside input has a fuzz target that runs in CI; crashes and hangs found are fixed ' +
      'before release.',
    rationale:
      'Static review finds some bugs; fuzzing finds the inputs nobody thought of, which is how attackers find them.',
    brief: 'Secure development',
    provisions: { etsi: ['5.2-3', '5.6-9', '5.13-1'], cra: ['I.2(a)', 'II.3'], nist: ['documentation'] },
    appliesTo: EVERY_DEVICE,
    checks: ['build.fuzz-targets'],
  },
  {
    id: 'DEV-SBOM',
    title: 'Software bill of materials for every image',
    statement:
      'Every firmware image ships with a CycloneDX SBOM; dependencies are few, each justified, and tracked ' +
      'against vulnerability advisories.',
    rationale:
      'You cannot fix what you do not know you ship; a machine-readable inventory makes advisories actionable ' +
      'and keeps the code base small.',
    brief: 'Secure development',
    provisions: {
      etsi: ['5.2-3', '5.6-6'],
      isvs: ['1.2.1'],
      cra: ['II.1'],
      annex2: ['9'],
      nist: ['asset-identification', 'documentation'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['build.sbom', 'build.sbom-complete'],
  },
  {
    id: 'RELEASE-GATE',
    title: 'Releases gated on the audit',
    statement:
      'A firmware image is signed for release only after lint, tests, fuzzing and the audit of this policy ' +
      'pass; the audit report is kept with the release.',
    rationale:
      "A policy that is not checked before shipping drifts; the audit's exit code makes the policy a control " +
      'gate in the pipeline.',
    brief: 'Question: control gates',
    provisions: { etsi: ['5.6-9'], cra: ['I.2(a)', 'II.3'], nist: ['documentation'] },
    appliesTo: EVERY_DEVICE,
    checks: ['build.audit-report', 'build.lint'],
  },
  {
    id: 'RUNTIME-HARDENED',
    title: 'Hardened, least-privilege runtime',
    statement:
      'The device software runs as an unprivileged user under a sandboxed service unit (no new privileges, ' +
      "read-only system, private temp), with the platform's exploit mitigations on.",
    rationale:
      'When a bug is exploited, least privilege and sandboxing keep the damage to one process instead of the ' +
      'whole device.',
    brief: 'Secure development',
    provisions: { etsi: ['5.6-7'], cra: ['I.2(k)'], psa: ['isolation'] },
    appliesTo: EVERY_DEVICE,
    checks: ['config.service-unit'],
  },
  {
    id: 'RUNTIME-DEBUG-OFF',
    title: 'Debug interfaces off in production',
    statement:
      'Production mode refuses to start debug interfaces (the Node inspector, REPLs, test hooks); this is the ' +
      'software counterpart of disabling JTAG.',
    rationale:
      'A debug interface bypasses every other control; the brief names disabling JTAG as the basic physical ' +
      'precaution.',
    brief: 'Physical security',
    provisions: {
      etsi: ['5.6-1', '5.6-4'],
      isvs: ['1.2.4', '1.3.12'],
      cra: ['I.2(j)'],
      nist: ['interface-access-control'],
      psa: ['security-lifecycle', 'interaction'],
      ioxt: ['security-by-default'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['config.debug-off', 'net.debug-ports'],
  },
  // ---- Software updates
  {
    id: 'UPDATE-SIGNED',
    title: 'Only signed updates are installed',
    statement:
      'Updates follow The Update Framework: signed root, targets, snapshot and timestamp metadata with ' +
      'thresholds and expiry; the root is baked in at the factory; every software component, cryptographic ' +
      'libraries included, is updated this way.',
    rationale:
      'An update channel that accepts unsigned or tampered images is a remote-code-execution service; TUF also ' +
      'defeats freeze, mix-and-match and key-compromise attacks.',
    brief: 'Software Updates',
    provisions: {
      etsi: ['5.3-1', '5.3-2', '5.3-7', '5.3-9', '5.3-10', '5.5-3'],
      isvs: ['3.4.3', '3.4.10', '3.4.12'],
      cra: ['I.2(c)', 'I.2(f)', 'II.7'],
      nist: ['software-update'],
      psa: ['secure-update'],
      ioxt: ['verified-software'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['bundle.update-trust-anchor', 'update.signature-required'],
  },
  {
    id: 'UPDATE-ANTI-ROLLBACK',
    title: 'No downgrades',
    statement:
      'The device keeps a monotonic version counter and refuses any image older than one it has already run, ' +
      'however well signed.',
    rationale:
      'Without it an attacker replays an old, correctly signed image with a known hole. EN 303 645 does not ' +
      'name this; ISVS and TUF do.',
    brief: 'Software Updates',
    provisions: {
      etsi: [],
      isvs: ['3.4.6'],
      cra: ['I.2(c)'],
      nist: ['software-update'],
      psa: ['anti-rollback'],
      ioxt: ['verified-software'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['update.anti-rollback'],
  },
  {
    id: 'UPDATE-FAILSAFE-INSTALL',
    title: 'Power-safe updates with automatic fallback',
    statement:
      'An image is written to the inactive A/B slot, flushed and switched in atomically; if it does not report ' +
      'healthy within its first boots the device returns to the previous slot by itself.',
    rationale:
      'An update that can brick the device on power loss makes owners switch updates off; fallback keeps ' +
      'automatic updates safe to leave on.',
    brief: 'Software Updates',
    provisions: {
      etsi: ['5.3-2', '5.9-2'],
      isvs: ['3.4.4', '3.4.7'],
      cra: ['I.2(h)'],
      nist: ['software-update'],
      psa: ['secure-update'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['update.failsafe-slots'],
  },
  {
    id: 'UPDATE-AUTO-DEFAULT',
    title: 'Automatic updates on by default',
    statement:
      'The device checks for updates after setup and then periodically, and installs security updates ' +
      'automatically by default; the owner can postpone updates or turn automatic installation off in the ' +
      'admin page.',
    rationale:
      'Most owners never update by hand, so only automatic updates reach the fleet; the owner keeps control ' +
      'over timing.',
    brief: 'Comment: autoupdate facility',
    provisions: {
      etsi: ['5.3-3', '5.3-4', '5.3-5', '5.3-6'],
      cra: ['I.2(c)'],
      annex2: ['8(c)', '8(e)'],
      nist: ['software-update', 'product-configuration'],
      ioxt: ['automatically-applied-updates', 'security-by-default'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['config.auto-update'],
  },
  {
    id: 'UPDATE-USER-NOTICE',
    title: 'Owners told what an update fixes',
    statement:
      'Each release carries a plain-language note of the risk it fixes, and the device warns before an ' +
      'installation interrupts its function.',
    rationale:
      'Owners who understand why an update matters install it; surprise downtime of a lock or heater is itself ' +
      'a hazard.',
    brief: 'Software Updates',
    provisions: {
      etsi: ['5.3-11', '5.3-12'],
      cra: ['II.8'],
      annex2: ['8(c)'],
      nist: ['information-dissemination', 'product-education-and-awareness'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['update.release-notes'],
  },
  // ---- Lifecycle and vulnerability handling
  {
    id: 'LIFECYCLE-SUPPORT-PERIOD',
    title: 'Published support period',
    statement:
      "The product's defined support period (the date until which security updates are guaranteed) is " +
      'published in this policy and on the product page; it may be extended, never shortened.',
    rationale:
      'Buyers need to know how long the product will stay safe to use; the UK PSTI regulations require the end ' +
      'date to be published.',
    brief: 'Software Updates',
    provisions: {
      etsi: ['5.3-13'],
      psti: ['PSTI-3'],
      isvs: ['1.6.1'],
      cra: ['II.8'],
      annex2: ['7'],
      nist: ['documentation', 'information-dissemination'],
      ioxt: ['security-expiration-date'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['policy.support-period', 'cloud.facts-record'],
  },
  {
    id: 'LIFECYCLE-MODEL-DESIGNATION',
    title: 'Recognisable model designation',
    statement:
      "The model is printed on the device's sticker and shown in its admin page or app, so owners can match it " +
      'to advisories and the support period.',
    rationale:
      'An owner who cannot tell which model they have cannot tell whether an advisory or end of support concerns them.',
    brief: 'Software Updates',
    provisions: { etsi: ['5.3-16'], annex2: ['3'], nist: ['asset-identification'] },
    appliesTo: EVERY_DEVICE,
    checks: ['bundle.model-designation'],
  },
  {
    id: 'VULN-DISCLOSURE',
    title: 'Published vulnerability disclosure policy',
    statement:
      'A vulnerability disclosure policy names a contact, the time to acknowledge a report and the interval of ' +
      'status updates until resolution; the device and the manufacturer site serve it as security.txt (RFC ' +
      '9116); reporting is free and needs no personal data.',
    rationale:
      'Researchers who find a flaw need a way to report it and to know they are heard; otherwise flaws are ' +
      'published unfixed or sold.',
    brief: 'Question: vulnerability handling',
    provisions: {
      etsi: ['5.2-1'],
      psti: ['PSTI-2'],
      isvs: ['1.1.5'],
      cra: ['II.5', 'II.6'],
      annex2: ['2'],
      nist: ['information-and-query-reception'],
      ioxt: ['vulnerability-reporting-program'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['http.security-txt', 'policy.disclosure', 'cloud.disclosure-intake'],
  },
  {
    id: 'VULN-HANDLING',
    title: 'Vulnerabilities monitored and fixed in time',
    statement:
      'For the whole support period the manufacturer tracks advisories against the SBOM, triages reports, ' +
      'ships security fixes promptly and free of charge, and publishes an advisory once a fix is out.',
    rationale:
      'A disclosure address without a process behind it only records the flaws; the fleet is safe only when ' +
      'fixes ship.',
    brief: 'Question: vulnerability handling',
    provisions: {
      etsi: ['5.2-2', '5.2-3', '5.3-8'],
      cra: ['II.2', 'II.3', 'II.4', 'II.8'],
      nist: ['information-and-query-reception', 'information-dissemination'],
      ioxt: ['vulnerability-reporting-program'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['build.sbom', 'policy.disclosure', 'build.known-vulnerabilities'],
  },
  // ---- Logging
  {
    id: 'LOG-PRIVACY-LIMITS',
    title: 'Few, redacted, bounded logs',
    statement:
      'Logs are few, structured and redacted: passwords, tokens, codes and keys never appear; retention is ' +
      'bounded by size and age; nothing is sent off the device as telemetry by default.',
    rationale:
      'Logs are a privacy risk; keeping only what helps the owner, for a bounded time, limits what a breach or ' +
      'a subpoena can reveal.',
    brief: 'Logging',
    provisions: { etsi: ['6-4'], isvs: ['1.4.4', '1.4.6', '1.4.7'], cra: ['I.2(g)'], nist: ['data-protection'] },
    appliesTo: EVERY_DEVICE,
    checks: ['journal.redaction', 'config.log-retention'],
  },
  {
    id: 'LOG-NO-SENSOR-CONTENT',
    title: 'No camera or microphone content in logs',
    statement:
      'Devices with a camera or microphone never log content or anything derived from it (transcripts, ' +
      'detections, thumbnails).',
    rationale: 'The brief singles out microphones: content-derived logs would record the inside of the home.',
    brief: 'Logging',
    provisions: { etsi: ['6-4'], cra: ['I.2(g)'], nist: ['data-protection'] },
    appliesTo: { sensors: ['camera', 'microphone'] },
    checks: ['journal.no-content'],
  },
  {
    id: 'LOG-CONNECTIONS',
    title: 'Every connection attempt logged',
    statement:
      'A bounded, persistent journal records every connection attempt to every listening surface: time, ' +
      'source, surface, identity claimed and result, successful or not. No flood of connections can evict the ' +
      'record of a failed login.',
    rationale:
      'The brief names this one log as useful: it shows the owner (and an investigator) guessing and intrusion ' +
      'attempts, which is no evidence afterwards if the attacker can flush it.',
    brief: 'Logging',
    provisions: {
      etsi: [],
      isvs: ['1.4.1', '1.4.2', '1.4.3', '1.4.7'],
      cra: ['I.2(l)'],
      nist: ['cybersecurity-state-awareness'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['journal.connections', 'journal.flood-resistant'],
  },
  {
    id: 'LOG-SECURITY-EVENTS',
    title: 'Owner can review security events',
    statement:
      'Lockouts, new pairings, claims and update results are recorded as security events the owner can list in ' +
      'the admin page or app.',
    rationale:
      'For devices whose compromise causes real harm, the owner should be able to notice an attack in ' +
      'progress, not only an investigator afterwards.',
    brief: 'Logging',
    provisions: { etsi: [], isvs: ['1.4.1'], cra: ['I.2(d)', 'I.2(l)'], nist: ['cybersecurity-state-awareness'] },
    appliesTo: { minTier: 2 },
    checks: ['journal.security-events'],
  },
  // ---- Privacy and user data
  {
    id: 'PRIVACY-FACTORY-RESET',
    title: 'Factory reset erases everything',
    statement:
      'A factory reset erases every user secret, setting, pairing and log, releases the cloud claim and ' +
      'restores the sticker credentials.',
    rationale:
      "Devices are resold and given away; the next owner must get a clean device and the previous one's data " +
      'must be gone.',
    brief: 'Question: privacy',
    provisions: {
      etsi: ['5.11-1'],
      cra: ['I.2(b)', 'I.2(m)'],
      annex2: ['8(d)'],
      nist: ['product-configuration', 'data-protection'],
      psa: ['security-lifecycle'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['state.factory-reset'],
  },
  {
    id: 'CONFIG-SECURE-DEFAULTS',
    title: 'Secure by default, and again after a reset',
    statement:
      'The model declares every security-relevant setting and the value units ship with (automatic updates on, ' +
      'the pairing window closed, debug interfaces off, journal retention, session lifetimes, lockout bounds and ' +
      'more); a fresh unit and a unit after a factory reset are no weaker on any of them.',
    rationale:
      'Most owners never change a setting, so the shipped value is the value in use; a reset that leaves a weaker ' +
      'setting behind hands the next owner a weaker device.',
    brief: 'Convenient setup',
    provisions: {
      etsi: ['5.3-6', '5.6-1'],
      cra: ['I.2(b)'],
      nist: ['product-configuration'],
      ioxt: ['security-by-default'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['device.secure-defaults'],
  },
  {
    id: 'PRIVACY-DATA-EXPORT-ERASURE',
    title: 'Owners can export and erase their data',
    statement:
      "The owner can export their personal data and delete it from the device and the manufacturer's services, " +
      'with clear instructions and a confirmation when it is gone.',
    rationale:
      'Personal data belongs to the owner; export and erasure are what data protection law and the standards ask for.',
    brief: 'Question: privacy',
    provisions: { etsi: ['5.11-2', '5.11-3', '5.11-4'], cra: ['I.2(m)'], annex2: ['8(d)'], nist: ['data-protection'] },
    appliesTo: { personalData: true },
    checks: ['state.data-export'],
  },
  {
    id: 'PRIVACY-SENSING-DISCLOSED',
    title: 'Sensing capabilities documented',
    statement:
      'This policy and the product documentation list every sensor the device has, in plain words, including ' +
      'ones not used by default.',
    rationale: 'People have a right to know whether a device in their home can see, hear or locate them.',
    brief: 'Question: privacy',
    provisions: { etsi: ['5.8-3'], nist: ['product-education-and-awareness'] },
    appliesTo: EVERY_DEVICE,
    checks: ['policy.privacy-notice'],
  },
  {
    id: 'PRIVACY-NOTICE',
    title: 'Clear personal-data notice',
    statement:
      'This policy states which personal data is processed, by whom and why, whether telemetry is collected, ' +
      'and how consent is given and withdrawn (withdrawal by unclaiming or erasing at any time).',
    rationale:
      'Transparency is the basis of privacy: consumers can only choose if they know what is collected and can ' +
      'change their mind.',
    brief: 'Question: privacy',
    provisions: {
      etsi: ['6-1', '6-2', '6-3', '6-5'],
      cra: ['I.2(g)'],
      nist: ['product-education-and-awareness', 'documentation'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['policy.privacy-notice'],
  },
  // ---- Documentation and the policy itself
  {
    id: 'DOC-SECURE-SETUP',
    title: 'Secure setup that needs few decisions',
    statement:
      'Setup asks the user for as few decisions as possible, every default is the secure one, and the policy ' +
      'explains how to set the device up securely and how to check that it is.',
    rationale: 'Consumers choose the convenient path; making it the secure path is what keeps real installations safe.',
    brief: 'Convenient setup',
    provisions: {
      etsi: ['5.12-1', '5.12-2', '5.12-3'],
      cra: ['I.2(b)'],
      annex2: ['8(a)'],
      nist: ['product-education-and-awareness', 'documentation'],
    },
    appliesTo: EVERY_DEVICE,
    checks: ['policy.setup-guidance'],
  },
  {
    id: 'DOC-JUSTIFY-EXCEPTIONS',
    title: 'Every gap in coverage explained',
    statement:
      'The policy lists every standard provision with how it is met, and gives a written reason for each one ' +
      'that is not applicable or not met.',
    rationale:
      'A decision tree is only trustworthy if its gaps are visible; the standard requires the reasons to be recorded.',
    brief: 'Question: decision trees for quality planning',
    provisions: { etsi: ['5.0-1'], nist: ['documentation'] },
    appliesTo: EVERY_DEVICE,
    checks: ['policy.coverage-justified'],
  },
] as const satisfies readonly ControlDefinition[];

/** The id of a control in the catalogue, e.g. 'AUTH-UNIQUE-PASSWORD'. */
export type ControlId = (typeof DEFINITIONS)[number]['id'];

/** One security control. */
export interface Control {
  readonly id: ControlId;
  /** Short name; also used in decision reasons, so it reads as a phrase. */
  readonly title: string;
  /** What must be true. */
  readonly statement: string;
  /** Why it matters. */
  readonly rationale: string;
  /** The part of shared/brief.txt it serves. */
  readonly brief: BriefPart;
  readonly provisions: ProvisionRefs;
  /** Which device profiles need it. */
  readonly appliesTo: Applicability;
  /** How the auditor verifies it. */
  readonly checks: readonly Check[];
}

/** Every control, in catalogue order. */
export const CATALOGUE: readonly Control[] = DEFINITIONS.map((d) =>
  Object.freeze({
    ...d,
    checks: d.checks.map((id: CheckId) => CHECKS[id]),
  }),
);

/** Every control id, in catalogue order. */
export const CONTROL_IDS: readonly ControlId[] = CATALOGUE.map((c) => c.id);

/** The control with `id`; undefined for unknown ids. */
export function findControl(id: string): Control | undefined {
  return CATALOGUE.find((c) => c.id === id);
}

/** The control with `id`; the type system guarantees it exists. */
export function getControl(id: ControlId): Control {
  const control = findControl(id);
  if (control === undefined) throw new RangeError(`no control ${id}`); // unreachable for a ControlId
  return control;
}
