/**
 * Revocation: the maker withdraws trust from a unit (every certificate whose CN is its serial,
 * so a revoked unit can neither connect nor enrol again) or from one certificate (by its SHA-256
 * fingerprint). A revocation is permanent; it lives in the store, so every cloud instance and
 * every restart keeps it. {@link RevocationList} is the in-memory copy the broker consults on every
 * connection; {@link watchRevocations} keeps it in step with the store, whoever wrote the row (the
 * CLI writes to the database directly), and tells the broker to drop what is now revoked.
 */
import { SERIAL } from '../cloudprotocol/index.ts';
import { CloudError } from './errors.ts';

/** Why a certificate or unit was revoked (after RFC 5280's reason codes, in words an operator uses). */
export const REVOCATION_REASONS = ['key-compromise', 'clone', 'stolen', 'retired', 'superseded', 'other'] as const;
/** One of {@link REVOCATION_REASONS}. */
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** What is revoked: a unit by serial, or one certificate by its fingerprint. */
export type RevocationTarget =
  { readonly kind: 'unit'; readonly serial: string } | { readonly kind: 'certificate'; readonly fingerprint: string };

/** A revocation as stored. */
export interface RevocationRecord {
  readonly kind: 'unit' | 'certificate';
  /** The unit's serial: always for a unit; for a certificate, the unit whose birth certificate it is, if known. */
  readonly serial: string | null;
  /** 'sha256:<hex>' of a revoked certificate; null for a unit. */
  readonly fingerprint: string | null;
  readonly reason: RevocationReason;
  /** Who asked: 'cli', 'maker-api' or 'clone-detection'. */
  readonly by: string;
  /** ms since the epoch. */
  readonly revokedAt: number;
}

/** A revocation request is malformed ('REVOCATION_INVALID'). */
export class RevocationError extends CloudError {}

const FINGERPRINT_HEX = /^[0-9a-f]{64}$/;

/** 'sha256:<64 hex>' from that form, bare hex, or OpenSSL's colon-separated form (any case). */
export function normaliseFingerprint(text: string): string {
  const hex = text
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '')
    .replace(/:/g, '');
  if (!FINGERPRINT_HEX.test(hex))
    throw new RevocationError('REVOCATION_INVALID', 'a certificate fingerprint is 64 hex digits of SHA-256', {
      field: 'certificate',
    });
  return `sha256:${hex}`;
}

/** Checks a revocation request from the CLI or the maker API; throws REVOCATION_INVALID. */
export function parseRevocationRequest(input: { serial?: unknown; certificate?: unknown; reason?: unknown }): {
  target: RevocationTarget;
  reason: RevocationReason;
} {
  const { serial, certificate, reason } = input;
  if ((serial === undefined) === (certificate === undefined))
    throw new RevocationError('REVOCATION_INVALID', 'name exactly one of a serial or a certificate fingerprint', {
      field: 'serial',
    });
  if (typeof reason !== 'string' || !(REVOCATION_REASONS as readonly string[]).includes(reason))
    throw new RevocationError('REVOCATION_INVALID', `the reason is one of ${REVOCATION_REASONS.join(', ')}`, {
      field: 'reason',
    });
  if (serial !== undefined) {
    if (typeof serial !== 'string' || !SERIAL.test(serial))
      throw new RevocationError('REVOCATION_INVALID', 'a serial looks like PLG-ABCDEFGH23', {
        field: 'serial',
      });
    return { target: { kind: 'unit', serial }, reason: reason as RevocationReason };
  }
  if (typeof certificate !== 'string')
    throw new RevocationError('REVOCATION_INVALID', 'the certificate fingerprint must be text', {
      field: 'certificate',
    });
  return {
    target: { kind: 'certificate', fingerprint: normaliseFingerprint(certificate) },
    reason: reason as RevocationReason,
  };
}

/** The revocations in memory, for a check on every connection without a database round trip. */
export class RevocationList {
  #units = new Map<string, RevocationRecord>();
  #certificates = new Map<string, RevocationRecord>();

  /** How many revocations the list holds. */
  get size(): number {
    return this.#units.size + this.#certificates.size;
  }

  /** Replaces the list with `records` (all revocations in the store). */
  replace(records: readonly RevocationRecord[]): void {
    const units = new Map<string, RevocationRecord>();
    const certificates = new Map<string, RevocationRecord>();
    for (const r of records) {
      if (r.kind === 'unit' && r.serial !== null) units.set(r.serial, r);
      else if (r.kind === 'certificate' && r.fingerprint !== null) certificates.set(r.fingerprint, r);
    }
    this.#units = units;
    this.#certificates = certificates;
  }

  /** The revocation that covers a certificate with subject CN `cn` and fingerprint `fingerprint`, if any. */
  covering(cn: string | undefined, fingerprint: string | undefined): RevocationRecord | undefined {
    return (
      (cn === undefined ? undefined : this.#units.get(cn)) ??
      (fingerprint === undefined ? undefined : this.#certificates.get(fingerprint))
    );
  }
}

/** What {@link watchRevocations} reads from the store. */
export interface RevocationSource {
  revocationCount(): Promise<number>;
  revocations(): Promise<RevocationRecord[]>;
}

/** A running {@link watchRevocations}. */
export interface RevocationWatch {
  /** Reloads now if the store has new revocations (as a poll would), and resolves when done. */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Loads every revocation into `list`, then polls the store's count every `intervalMs` and reloads
 * when it grew (revocations are never removed), calling `onChange` with the new ones after each
 * reload. A failing poll is logged and retried at the next tick; the list keeps what it had.
 */
export async function watchRevocations(o: {
  source: RevocationSource;
  list: RevocationList;
  intervalMs: number;
  onChange: (added: readonly RevocationRecord[]) => void;
  log: (line: string) => void;
}): Promise<RevocationWatch> {
  let known = await o.source.revocations();
  o.list.replace(known);
  // One reload at a time; a refresh asked for during one waits for it and then runs its own.
  let running: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    if ((await o.source.revocationCount()) === known.length) return;
    const records = await o.source.revocations();
    const seen = new Set(known.map(revocationKey));
    known = records;
    o.list.replace(records);
    o.onChange(records.filter((r) => !seen.has(revocationKey(r))));
  };
  const refresh = (): Promise<void> => (running = running.then(reload, reload));
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => o.log(`revocation poll failed: ${(err as Error).message}`));
  }, o.intervalMs);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}

function revocationKey(r: RevocationRecord): string {
  return `${r.kind}:${r.serial ?? ''}:${r.fingerprint ?? ''}`;
}
