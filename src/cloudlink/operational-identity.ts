/**
 * The unit's operational identity (issue 19): the certificate the cloud's issuing CA made for a key
 * the unit generated, which it uses for MQTT instead of its factory (birth) certificate. One JSON
 * state file in the link's state folder, 0600, written atomically: `current` (proven: it has
 * connected) and `next` (issued, not yet proven). The rules are pure functions of that state and a
 * time; {@link OperationalIdentityStore} only loads and saves it.
 *
 * - A connection tries `next` first, then `current`, then the birth certificate.
 * - `next` becomes `current` once it has connected (the old one goes only then); `next` refused while
 *   `current` connects is dropped. A power cut between the two writes leaves both in the file.
 * - Renewal is due at notBefore + 2/3 of the validity minus a jitter of up to a tenth of it (drawn once,
 *   when the certificate arrives, and stored), at once when expired, or when the cloud asked for a
 *   renewal of certificates issued before a time.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { readStateFile, writeStateFile, type DamagedStateSink, type StateFormat } from '../storage/index.ts';

/** File name in the link's state folder. */
export const OPERATIONAL_IDENTITY_FILE = 'operational-identity.json';

/** Share of a certificate's validity after which it is renewed (before the jitter). */
export const RENEW_AT_FRACTION = 2 / 3;
/** Largest jitter taken off the renewal time, as a share of the validity. */
export const RENEW_JITTER_FRACTION = 0.1;

/** One operational certificate with its key. `keyPem` is a secret. Times in ms since the epoch. */
export interface OperationalCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notBefore: number;
  readonly notAfter: number;
  /** Taken off the renewal time; drawn once when the certificate arrived. */
  readonly jitterMs: number;
  /** When the unit received it. */
  readonly receivedAt: number;
}

/**
 * The cloud's request to renew every certificate issued before `before`, as noted at `notedAt`;
 * `answered` once a certificate requested after it is stored as `next` (it goes when that one is promoted).
 */
export interface RenewRequest {
  readonly before: number;
  readonly notedAt: number;
  readonly answered?: true;
}

/** What the file holds. */
export interface OperationalIdentityState {
  readonly current?: OperationalCertificate;
  readonly next?: OperationalCertificate;
  readonly renew?: RenewRequest;
}

/** Which credential a connection uses. */
export type CredentialKind = 'next' | 'current' | 'birth';

/** Why a renewal is due. */
export type RenewalReason = 'first' | 'renewal' | 'forced';

/** When the certificate is renewed, ms since the epoch. */
export function renewAt(cert: OperationalCertificate): number {
  const validity = cert.notAfter - cert.notBefore;
  return cert.notBefore + Math.floor(validity * RENEW_AT_FRACTION) - cert.jitterMs;
}

/** Whether a certificate can still be offered (it has not expired). */
export function usable(cert: OperationalCertificate | undefined, now: number): cert is OperationalCertificate {
  return cert !== undefined && now < cert.notAfter;
}

/** The credentials to try, in order: `next`, `current` (each while unexpired), then the birth certificate. */
export function candidates(state: OperationalIdentityState, now: number): CredentialKind[] {
  const out: CredentialKind[] = [];
  if (usable(state.next, now)) out.push('next');
  if (usable(state.current, now)) out.push('current');
  out.push('birth');
  return out;
}

/**
 * Whether the unit should ask for a (new) certificate now, and why: none usable ('first', or 'renewal'
 * when the one it had expired), its renewal time has come ('renewal'), or the cloud asked ('forced').
 * Never while an unproven `next` is waiting to connect.
 */
export function renewalDue(state: OperationalIdentityState, now: number): RenewalReason | undefined {
  if (usable(state.next, now)) return undefined;
  const c = state.current;
  if (!c) return 'first';
  if (!usable(c, now)) return 'renewal';
  const r = state.renew;
  if (r && c.notBefore < r.before) return 'forced';
  return now >= renewAt(c) ? 'renewal' : undefined;
}

/** The state with a newly issued certificate as `next` (an older `next` replaced); it answers a renew request. */
export function withNext(state: OperationalIdentityState, next: OperationalCertificate): OperationalIdentityState {
  return { ...state, next, ...(state.renew ? { renew: { ...state.renew, answered: true as const } } : {}) };
}

/**
 * The state once `next` has connected: it is `current`, the old one is gone, and a renew request it
 * answers is forgotten.
 */
export function promoted(state: OperationalIdentityState): OperationalIdentityState {
  const next = state.next;
  if (!next) return state;
  return { current: next, ...(state.renew && !state.renew.answered ? { renew: state.renew } : {}) };
}

/** The state with `next` dropped (refused by the broker while `current` connected): a renew request is open again. */
export function withoutNext(state: OperationalIdentityState): OperationalIdentityState {
  const renew = state.renew ? { before: state.renew.before, notedAt: state.renew.notedAt } : undefined;
  return { ...(state.current ? { current: state.current } : {}), ...(renew ? { renew } : {}) };
}

/** The state with the cloud's renew request noted (a later `before` replaces an earlier one, unanswered). */
export function withRenewRequest(
  state: OperationalIdentityState,
  before: number,
  now: number,
): OperationalIdentityState {
  if (state.renew && state.renew.before >= before) return state;
  return { ...state, renew: { before, notedAt: now } };
}

/** Why a certificate from the cloud is not taken. */
export type CertificateRefusal = 'unparseable' | 'wrong-key' | 'wrong-subject' | 'expired' | 'not-client';

/**
 * Checks a certificate the cloud issued for the key `keyPem`: it parses, its public key is that key's,
 * its subject is exactly CN=`serial`, it allows client authentication and it has not expired at `now`.
 * Returns the stored form (with the jitter drawn from `random`, in [0, 1)) or why it is refused.
 */
export function acceptIssuedCertificate(
  certPem: string,
  keyPem: string,
  serial: string,
  now: number,
  random: number,
): OperationalCertificate | CertificateRefusal {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return 'unparseable';
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'wrong-key';
  } catch {
    return 'wrong-key';
  }
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN='));
  if (cns.length !== 1 || cns[0] !== `CN=${serial}`) return 'wrong-subject';
  const eku = cert.keyUsage;
  if (Array.isArray(eku) && !eku.includes('1.3.6.1.5.5.7.3.2')) return 'not-client';
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter) || notAfter <= now) return 'expired';
  const jitterMs = Math.floor(
    Math.min(Math.max(random, 0), 0.999_999) * RENEW_JITTER_FRACTION * (notAfter - notBefore),
  );
  return { certPem, keyPem, notBefore, notAfter, jitterMs, receivedAt: now };
}

function certificateOf(v: unknown): OperationalCertificate {
  const c = v as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) throw new Error('not an object');
  const keys = ['certPem', 'keyPem', 'notBefore', 'notAfter', 'jitterMs', 'receivedAt'];
  if (Object.keys(c).some((k) => !keys.includes(k))) throw new Error('unknown field');
  if (typeof c.certPem !== 'string' || !c.certPem.includes('BEGIN CERTIFICATE')) throw new Error('certPem');
  if (typeof c.keyPem !== 'string' || !c.keyPem.includes('PRIVATE KEY')) throw new Error('keyPem');
  for (const k of keys.slice(2)) if (!Number.isSafeInteger(c[k]) || (c[k] as number) < 0) throw new Error(k);
  if ((c.notAfter as number) <= (c.notBefore as number)) throw new Error('validity');
  return c as unknown as OperationalCertificate;
}

/** The file's format (src/storage's versioned state files; the key in it makes it 0600). */
export const OPERATIONAL_IDENTITY_FORMAT: StateFormat<OperationalIdentityState> = {
  name: 'operational identity',
  version: 1,
  parse(text) {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (Object.keys(v).some((k) => !['version', 'current', 'next', 'renew'].includes(k))) throw new Error('field');
    const r = v.renew as Record<string, unknown> | undefined;
    if (r !== undefined && (!Number.isSafeInteger(r?.before) || !Number.isSafeInteger(r?.notedAt)))
      throw new Error('renew');
    if (r !== undefined && r.answered !== undefined && r.answered !== true) throw new Error('renew');
    const renew = r && {
      before: r.before as number,
      notedAt: r.notedAt as number,
      ...(r.answered ? { answered: true as const } : {}),
    };
    return {
      ...(v.current !== undefined ? { current: certificateOf(v.current) } : {}),
      ...(v.next !== undefined ? { next: certificateOf(v.next) } : {}),
      ...(renew ? { renew } : {}),
    };
  },
};

/**
 * The state file. Every change is written (atomically) before the caller acts on it.
 *
 * @example
 * const store = await OperationalIdentityStore.load(stateDir, damaged);
 * const kind = candidates(store.state, Date.now())[0];
 */
export class OperationalIdentityStore {
  readonly path: string;
  #state: OperationalIdentityState;

  private constructor(path: string, state: OperationalIdentityState) {
    this.path = path;
    this.#state = state;
  }

  /** Loads the file from `stateDir`; a missing one is an empty state, a damaged one is moved aside (empty state). */
  static async load(stateDir: string, damaged: DamagedStateSink): Promise<OperationalIdentityStore> {
    const path = join(stateDir, OPERATIONAL_IDENTITY_FILE);
    const state = (await readStateFile(path, OPERATIONAL_IDENTITY_FORMAT, damaged)) ?? {};
    return new OperationalIdentityStore(path, state);
  }

  /** The state as last saved. */
  get state(): OperationalIdentityState {
    return this.#state;
  }

  /** Saves `state` (atomically) and makes it the store's. */
  async save(state: OperationalIdentityState): Promise<void> {
    await writeStateFile(this.path, OPERATIONAL_IDENTITY_FORMAT, JSON.stringify({ version: 1, ...state }) + '\n');
    this.#state = state;
  }
}
