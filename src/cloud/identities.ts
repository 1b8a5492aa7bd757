/**
 * A cloud instance's operational identities: its issuing CA (issuing.ts), the enrolment handler
 * (enrolment.ts), and a watch on the store that follows a CA rotation made elsewhere (the CLI,
 * another instance): the embedded broker trusts the new generation at once, and the fleet is
 * asked to renew.
 */
import { X509Certificate } from 'node:crypto';
import type { ConnectionJournal } from '../journal/index.ts';
import type { EmbeddedBroker } from './broker.ts';
import { Enrolment } from './enrolment.ts';
import { IssuingAuthority, type IssuingConfig } from './issuing.ts';
import type { CloudStore } from './store.ts';

/** How often the store is asked whether the issuing CA was rotated, ms. */
const ROTATION_POLL_MS = 1_000;

/** The maker's name, from the manufacturer CA's subject (O=), for the certificates the cloud issues. */
export function makerOf(caCertPem: string): string {
  const subject = new X509Certificate(caCertPem).subject.split('\n');
  return subject.find((l) => l.startsWith('O='))?.slice(2) ?? 'Bulwark';
}

/** The issuing side of one instance, started in two steps around the broker and the MQTT client. */
export class OperationalIdentities {
  readonly authority: IssuingAuthority;
  readonly #store: CloudStore;
  readonly #journal: ConnectionJournal;
  readonly #log: (line: string) => void;
  #enrolment: Enrolment | undefined;
  #timer: NodeJS.Timeout | undefined;
  #renewalMark = 0;
  /** The newest generation the broker trusts. */
  #trustedGeneration = 0;

  private constructor(
    authority: IssuingAuthority,
    store: CloudStore,
    journal: ConnectionJournal,
    log: (l: string) => void,
  ) {
    this.authority = authority;
    this.#store = store;
    this.#journal = journal;
    this.#log = log;
  }

  /** Opens the issuing CA (making the first generation if needed). */
  static async open(o: {
    store: CloudStore;
    journal: ConnectionJournal;
    caCertPem: string;
    config?: Partial<IssuingConfig>;
    log: (line: string) => void;
  }): Promise<OperationalIdentities> {
    const authority = await IssuingAuthority.open(o.store, { maker: makerOf(o.caCertPem), config: o.config ?? {} });
    return new OperationalIdentities(authority, o.store, o.journal, o.log);
  }

  /** The enrolment handler, once the instance can publish; the rotation watch starts with it. */
  async start(
    publish: (topic: string, payload: Uint8Array, qos: 0 | 1) => Promise<void>,
    broker?: EmbeddedBroker,
  ): Promise<Enrolment> {
    const enrolment = new Enrolment({
      store: this.#store,
      authority: this.authority,
      publish,
      minIntervalMs: this.authority.config.minEnrolIntervalMs,
      note: (event, result, detail) => this.#note(event, result, detail),
    });
    this.#enrolment = enrolment;
    this.#renewalMark = await this.#store.fleetRenewalBefore();
    this.#trustedGeneration = this.authority.current;
    this.#timer = setInterval(() => {
      this.#follow(broker).catch((err: unknown) => this.#log(`issuing CA watch failed: ${(err as Error).message}`));
    }, ROTATION_POLL_MS);
    this.#timer.unref();
    return enrolment;
  }

  /** Rotates the issuing CA from this instance and asks the fleet to renew; returns the new generation. */
  async rotate(broker?: EmbeddedBroker): Promise<number> {
    const generation = await this.authority.rotate();
    await this.#follow(broker);
    return generation;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #follow(broker: EmbeddedBroker | undefined): Promise<void> {
    await this.authority.reload();
    // Compared with what the broker was last given, not with the reload: a rotation made here has
    // already reloaded the authority.
    if (this.authority.current !== this.#trustedGeneration) {
      this.#trustedGeneration = this.authority.current;
      broker?.trustIssuingCas(this.authority.trustedPems());
      this.#note('issuing-ca-rotated', 'info', `issuing from generation ${this.authority.current}`);
    }
    const mark = await this.#store.fleetRenewalBefore();
    if (mark > this.#renewalMark && this.#enrolment) {
      this.#renewalMark = mark;
      const told = await this.#enrolment.askFleetToRenew(mark);
      this.#note(
        'fleet-renewal',
        'info',
        `${told} unit(s) asked to renew certificates issued before ${new Date(mark).toISOString()}`,
      );
    }
  }

  #note(event: string, result: 'success' | 'refused' | 'info', detail: string): void {
    try {
      this.#journal.record({ surface: 'cloud', source: 'local', event, result, detail });
    } catch (err) {
      this.#log(`journal refused an identity record: ${(err as Error).message}`);
    }
  }
}
