/**
 * The cloud's issuing CA: it signs the units' operational certificates, for the key in each unit's
 * request (the key never leaves the unit). Its generations live in the store, so every instance
 * issues under the same CA and every broker trusts the same set. Rotating it (`bulwark cloud
 * rotate-ca`) adds a generation, issues from it from then on, keeps trusting the older ones (their
 * certificates stay valid until they expire) and marks the fleet for renewal: every unit is asked
 * to renew now. The certificates themselves are made by src/identity.
 */
import { createCertificateAuthority, issueFromRequest, loadCaSigner, type CaSigner } from '../identity/index.ts';
import { CloudConfigError } from './errors.ts';
import type { CloudStore } from './store.ts';
import type { IssuingCaRecord, OperationalCertificateRecord } from './issuing-sql.ts';

/** Settings of the issuing CA. */
export interface IssuingConfig {
  /** How long an operational certificate is valid, days. */
  readonly operationalDays: number;
  /** How long a new issuing CA is valid, years (it must outlive every certificate it issues). */
  readonly caYears: number;
  /** Least time between two certificates for one unit, ms (a unit asking in a loop is answered 'too soon'). */
  readonly minEnrolIntervalMs: number;
}

/** The defaults: one-year operational certificates from a ten-year CA. */
export const defaultIssuingConfig: Readonly<IssuingConfig> = Object.freeze({
  operationalDays: 365,
  caYears: 10,
  minEnrolIntervalMs: 10_000,
});

/** Validates the settings: operational certificates from 1 day to 825 days (the CA/B Forum's old ceiling). */
export function validateIssuingConfig(config: Partial<IssuingConfig> = {}): IssuingConfig {
  const c = { ...defaultIssuingConfig, ...config };
  if (!Number.isInteger(c.operationalDays) || c.operationalDays < 1 || c.operationalDays > 825)
    throw new CloudConfigError('issuing.operationalDays', 'must be an integer from 1 to 825');
  if (!Number.isInteger(c.caYears) || c.caYears < 3 || c.caYears > 30)
    throw new CloudConfigError('issuing.caYears', 'must be an integer from 3 to 30');
  if (!Number.isInteger(c.minEnrolIntervalMs) || c.minEnrolIntervalMs < 1_000 || c.minEnrolIntervalMs > 3_600_000)
    throw new CloudConfigError('issuing.minEnrolIntervalMs', 'must be an integer from 1000 to 3600000');
  return Object.freeze(c);
}

/** One usable generation: its record and its signer. */
interface Generation {
  readonly record: IssuingCaRecord;
  readonly signer: CaSigner;
}

/** The issuing CA of a cloud, over the store. */
export class IssuingAuthority {
  readonly config: IssuingConfig;
  readonly #store: CloudStore;
  readonly #maker: string;
  #generations: Generation[] = [];

  private constructor(store: CloudStore, maker: string, config: IssuingConfig) {
    this.#store = store;
    this.#maker = maker;
    this.config = config;
  }

  /** Opens the issuing CA of `store`, making generation 1 when there is none. */
  static async open(
    store: CloudStore,
    o: { maker: string; config?: Partial<IssuingConfig> },
  ): Promise<IssuingAuthority> {
    const authority = new IssuingAuthority(store, o.maker, validateIssuingConfig(o.config));
    await authority.reload();
    if (authority.#generations.length === 0) await authority.#addGeneration(1);
    return authority;
  }

  /** Reads the generations from the store again; true when they changed (another instance or the CLI rotated). */
  async reload(): Promise<boolean> {
    const records = await this.#store.issuingCas();
    const known = this.#generations.map((g) => g.record.generation).join(',');
    if (records.map((r) => r.generation).join(',') === known && known !== '') return false;
    this.#generations = await Promise.all(
      records.map(async (record) => ({ record, signer: await loadCaSigner(record.certPem, record.keyPem) })),
    );
    return true;
  }

  /** The certificates of the generations still trusted, oldest first. */
  trustedPems(): string[] {
    return this.#generations.filter((g) => g.record.retiredAt === null).map((g) => g.record.certPem);
  }

  /** The generation that issues now (the newest). */
  get current(): number {
    return this.#generations.at(-1)?.record.generation ?? 0;
  }

  /**
   * Adds a generation, issues from it from now on, and marks every unit for renewal. Returns the new
   * generation. The older generations stay trusted.
   */
  async rotate(now = Date.now()): Promise<number> {
    await this.reload();
    const next = this.current + 1;
    await this.#addGeneration(next);
    await this.#store.setFleetRenewalBefore(now);
    return this.current;
  }

  /**
   * Issues an operational certificate for `serial` from its PKCS#10 request (checked by
   * src/identity: signature, P-256, subject CN = serial) and records it.
   * @throws CertificateRequestError for a request that does not check
   */
  async issue(
    serial: string,
    csrPem: string,
    reason: string,
    now = Date.now(),
  ): Promise<OperationalCertificateRecord & { certPem: string }> {
    const g = this.#generations.at(-1)!;
    const issued = await issueFromRequest(g.signer, csrPem, serial, {
      organisation: this.#maker,
      now: new Date(now),
      validityDays: this.config.operationalDays,
    });
    const record: OperationalCertificateRecord = {
      fingerprint: issued.fingerprint,
      serial,
      serialNumber: issued.serialNumber,
      generation: g.record.generation,
      issuedAt: now,
      notAfter: issued.notAfter,
      reason,
    };
    await this.#store.recordOperationalCertificate(record);
    return { ...record, certPem: issued.certPem };
  }

  async #addGeneration(generation: number): Promise<void> {
    const ca = await createCertificateAuthority(`${this.#maker} Operational CA ${generation}`, {
      organisation: this.#maker,
      validityYears: this.config.caYears,
    });
    // Two instances starting at once: the first insert wins and both read it back.
    await this.#store.addIssuingCa({
      generation,
      certPem: ca.certPem,
      keyPem: ca.privateKeyPem,
      createdAt: Date.now(),
    });
    await this.reload();
  }
}
