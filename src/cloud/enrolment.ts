/**
 * Enrolment: a unit's request for an operational certificate (`devices/<serial>/enrol`, sent with
 * its birth certificate the first time and with its operational one to renew) answered on
 * `devices/<serial>/certificate`. The broker already made sure only that unit can publish on its
 * topic; here the unit must not be revoked, may ask at most once per `minIntervalMs`, and its
 * request must check (src/identity). A unit that enrols from scratch while it holds an operational
 * certificate still in date is flagged as a clone suspect (a birth certificate enrolling twice).
 * Fleet renewal: after a CA rotation every registered unit is told to renew.
 */
import { deviceTopic, encodePayload, parseEnrol, type CertificateMessage } from '../cloudprotocol/index.ts';
import { CertificateRequestError } from '../identity/index.ts';
import type { IssuingAuthority } from './issuing.ts';
import type { CloudStore } from './store.ts';

/** Units whose last request time is remembered (for the interval); past this the oldest are forgotten. */
const MAX_REMEMBERED = 100_000;
/** Registered serials read per page when the whole fleet is told to renew. */
const FLEET_PAGE = 1_000;

/** What the handler needs around it. */
export interface EnrolmentOptions {
  readonly store: CloudStore;
  readonly authority: IssuingAuthority;
  readonly publish: (topic: string, payload: Uint8Array, qos: 0 | 1) => Promise<void>;
  /** Writes one security event to the journal. */
  readonly note: (event: string, result: 'success' | 'refused' | 'info', detail: string) => void;
  /** Least time between two certificates for one unit, ms. */
  readonly minIntervalMs?: number;
}

/** Answers enrolment requests for one cloud instance. */
export class Enrolment {
  readonly #o: EnrolmentOptions;
  readonly #lastAt = new Map<string, number>();

  constructor(o: EnrolmentOptions) {
    this.#o = o;
  }

  /** Handles one enrolment request of registered unit `serial` (the body is the parsed JSON). */
  async handle(serial: string, body: unknown, now: number): Promise<void> {
    const request = parseEnrol(body);
    const refusal = await this.#refusal(serial, now);
    if (refusal) {
      this.#o.note('enrol-refused', 'refused', `${serial} (${request.reason}): ${refusal.message}`);
      await this.#answer(serial, { id: request.id, error: refusal });
      return;
    }
    if (request.reason === 'first') await this.#flagIfHeld(serial, now);
    let issued;
    try {
      issued = await this.#o.authority.issue(serial, request.csr, request.reason, now);
    } catch (err) {
      if (!(err instanceof CertificateRequestError)) throw err;
      this.#o.note('enrol-refused', 'refused', `${serial} (${request.reason}): ${err.message}`);
      await this.#answer(serial, { id: request.id, error: { code: 'REQUEST_INVALID', message: err.message } });
      return;
    }
    this.#remember(serial, now);
    this.#o.note(
      'certificate-issued',
      'success',
      `${serial} (${request.reason}): ${issued.fingerprint}, generation ${issued.generation}, ` +
        `valid until ${new Date(issued.notAfter).toISOString()}`,
    );
    await this.#answer(serial, { id: request.id, certificate: issued.certPem });
  }

  /** Tells every registered unit to renew if its certificate was issued before `before`; returns how many. */
  async askFleetToRenew(before: number): Promise<number> {
    let after = '';
    let told = 0;
    for (;;) {
      const page = await this.#o.store.serialsAfter(after, FLEET_PAGE);
      for (const serial of page) await this.#answer(serial, { renew: true, before });
      told += page.length;
      if (page.length < FLEET_PAGE) return told;
      after = page.at(-1)!;
    }
  }

  async #refusal(serial: string, now: number): Promise<{ code: string; message: string } | undefined> {
    const revoked = await this.#o.store.unitRevocation(serial);
    if (revoked) return { code: 'UNIT_REVOKED', message: `the unit was revoked (${revoked.reason})` };
    const last = this.#lastAt.get(serial);
    if (last !== undefined && now - last < (this.#o.minIntervalMs ?? 10_000))
      return { code: 'ENROL_TOO_SOON', message: 'a certificate was issued moments ago; ask again later' };
    return undefined;
  }

  /** A unit asking from scratch while it holds an operational certificate in date: one identity in two places? */
  async #flagIfHeld(serial: string, now: number): Promise<void> {
    const [newest] = await this.#o.store.operationalCertificates(serial, 1);
    if (!newest || newest.notAfter <= now) return;
    const isNew = await this.#o.store.flagClone(serial, 1, 'enrolled again with its birth certificate', now);
    this.#o.note(
      isNew ? 'clone-suspected' : 'identity-in-two-places',
      'info',
      `${serial} enrolled from its birth certificate while holding ${newest.fingerprint}`,
    );
  }

  #remember(serial: string, now: number): void {
    this.#lastAt.delete(serial);
    this.#lastAt.set(serial, now);
    if (this.#lastAt.size > MAX_REMEMBERED) this.#lastAt.delete(this.#lastAt.keys().next().value!);
  }

  async #answer(serial: string, message: CertificateMessage): Promise<void> {
    await this.#o.publish(deviceTopic(serial, 'certificate'), encodePayload(message), 1);
  }
}
