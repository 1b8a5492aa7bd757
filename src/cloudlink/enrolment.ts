/**
 * The device's side of enrolment (issue 19): it asks the cloud for an operational certificate over
 * whatever connection the link has (the birth certificate's, or the operational one to renew), checks
 * what comes back against the key it made, keeps it as `next` and has the link reconnect with it.
 * The key is made here and never leaves the unit; src/identity (and its certificate library) is
 * loaded only when a request is made, so an idle agent never carries it.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { reconnectDelay } from '../channel/index.ts';
import { encodePayload, parseCertificateMessage, type CertificateMessage } from '../cloudprotocol/index.ts';
import {
  acceptIssuedCertificate,
  candidates,
  promoted,
  renewAt,
  renewalDue,
  usable,
  withNext,
  withoutNext,
  withRenewRequest,
  type CredentialKind,
  type OperationalIdentityStore,
  type RenewalReason,
} from './operational-identity.ts';

/** The enrolment settings of the link's config. Times in ms. */
export interface EnrolmentConfig {
  /** How long an enrol request waits for the cloud's answer. */
  readonly enrolTimeoutMs: number;
  /** First wait after a failed or refused request; doubles up to `enrolRetryMaxMs`. */
  readonly enrolRetryBaseMs: number;
  readonly enrolRetryMaxMs: number;
  /** How often the renewal time is checked while connected (the check also runs at that time). */
  readonly identityCheckIntervalMs: number;
  readonly reconnectJitter: number;
}

/** A step of enrolment, for the device journal. */
export interface EnrolmentEvent {
  readonly event: 'enrol-requested' | 'certificate-received' | 'identity-switched' | 'renewal-due' | 'enrol-refused';
  readonly result: 'success' | 'failure' | 'refused' | 'info';
  readonly detail?: string;
}

/** What the link reports about the identity it uses (for the agent's page and export). */
export interface CloudIdentityStatus {
  /** The configured mode: 'operational' (enrols) or 'birth' (the factory certificate only). */
  readonly mode: 'operational' | 'birth';
  /** What the unit would offer now: its proven operational certificate, or its birth certificate. */
  readonly kind: 'operational' | 'birth';
  /** The credential of the open connection, if any. */
  readonly connectedWith?: CredentialKind;
  readonly notAfter?: number;
  readonly renewAt?: number;
  /** A new certificate is waiting for its first connection. */
  readonly pending: boolean;
}

/** A credential for one connection attempt. `keyPem` is a secret. */
export interface Credential {
  readonly kind: CredentialKind;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options of {@link DeviceEnrolment}. */
export interface DeviceEnrolmentOptions {
  readonly serial: string;
  readonly birth: { readonly certPem: string; readonly keyPem: string };
  readonly store: OperationalIdentityStore;
  readonly config: EnrolmentConfig;
  readonly now: () => number;
  readonly random: () => number;
  readonly onEvent: (e: EnrolmentEvent) => void;
  /** Called with a new certificate stored: the link closes its connection and connects again at once. */
  readonly reconnect: () => void;
}

/** What an enrolment connection needs of src/mqtt's client. */
export interface EnrolmentChannel {
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, done?: (err?: Error) => void): void;
}

type Answer = { certificate: string } | { error: { code: string; message: string } } | { failed: string };

/** Enrolment and renewal over the link's connections; one request at a time. */
export class DeviceEnrolment {
  readonly #o: DeviceEnrolmentOptions;
  readonly #failed = new Set<CredentialKind>();
  #nextRefused = false;
  #connectedWith: CredentialKind | undefined;
  #channel: { client: EnrolmentChannel; topic: string } | undefined;
  #waiting: { id: string; resolve: (a: Answer) => void } | undefined;
  #requesting = false;
  #attempt = 0;
  /** When the next request may go, on the monotonic clock (a wall-clock jump neither hastens nor stalls it). */
  #retryAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: DeviceEnrolmentOptions) {
    this.#o = o;
  }

  /**
   * The credential for the next attempt: the first of `next`, `current`, birth that has not failed
   * since the last success (all failed: start again from the first).
   */
  choose(): Credential {
    const list = candidates(this.#o.store.state, this.#o.now());
    if (list.every((k) => this.#failed.has(k))) this.#failed.clear();
    const kind = list.find((k) => !this.#failed.has(k)) ?? 'birth';
    const s = this.#o.store.state;
    const c = kind === 'birth' ? this.#o.birth : kind === 'next' ? s.next! : s.current!;
    return { kind, certPem: c.certPem, keyPem: c.keyPem };
  }

  /**
   * The attempt with `kind` did not connect; `refused` when the broker was reached and turned it away
   * (not a network failure, which says nothing about the certificate).
   */
  failed(kind: CredentialKind, refused: boolean): void {
    // A broker that is away says nothing about the certificate: the unit keeps offering the same
    // one. Rotating to the birth certificate here would strand a unit, once the broker is back, on a
    // session that may only enrol while it holds an operational certificate in date.
    if (!refused) return;
    this.#failed.add(kind);
    if (kind === 'next') this.#nextRefused = true;
  }

  /**
   * The attempt with `kind` connected: `next` is promoted (the old certificate goes only now); a `next`
   * that failed while this one connected is dropped (the broker refused it).
   */
  async connected(kind: CredentialKind): Promise<void> {
    const refusedNext = this.#nextRefused && kind !== 'next';
    this.#failed.clear();
    this.#nextRefused = false;
    this.#connectedWith = kind;
    const store = this.#o.store;
    if (kind === 'next' && store.state.next) {
      await store.save(promoted(store.state));
      this.#connectedWith = 'current';
      this.#attempt = 0;
      // However short-lived the certificate, requests are at least this far apart.
      this.#retryAt = performance.now() + this.#o.config.enrolRetryBaseMs;
      const until = new Date(store.state.current!.notAfter).toISOString();
      this.#o.onEvent({
        event: 'identity-switched',
        result: 'success',
        detail: `operational certificate until ${until}`,
      });
    } else if (refusedNext && store.state.next) {
      await store.save(withoutNext(store.state));
      this.#o.onEvent({ event: 'identity-switched', result: 'refused', detail: 'the new certificate was refused' });
      // Asking again at once would meet the same refusal: the next request waits like any refused one.
      this.#retryLater({ refused: 'the broker refused the issued certificate' });
    }
  }

  /** A connection is up on which the unit may enrol: checks at once whether a renewal is due, and on a timer. */
  attach(client: EnrolmentChannel, enrolTopic: string): void {
    this.#channel = { client, topic: enrolTopic };
    this.#check();
  }

  /** The connection closed. */
  detach(): void {
    this.#channel = undefined;
    this.#connectedWith = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waiting?.resolve({ failed: 'the connection closed' });
  }

  /** Stops timers; a request waiting for its answer ends. */
  close(): void {
    this.#closed = true;
    this.detach();
  }

  /** A message on the certificate topic (parsed JSON). */
  onMessage(body: unknown): void {
    let m: CertificateMessage;
    try {
      m = parseCertificateMessage(body);
    } catch {
      return;
    }
    if ('renew' in m) {
      void this.#noteRenew(m.before);
      return;
    }
    if (this.#waiting?.id !== m.id) return; // an answer to a request this unit no longer waits for
    this.#waiting.resolve('certificate' in m ? { certificate: m.certificate } : { error: m.error });
  }

  /** The identity status. */
  status(mode: 'operational' | 'birth'): CloudIdentityStatus {
    const s = this.#o.store.state;
    const current = usable(s.current, this.#o.now()) ? s.current : undefined;
    return {
      mode,
      kind: current ? 'operational' : 'birth',
      ...(this.#connectedWith ? { connectedWith: this.#connectedWith } : {}),
      ...(current ? { notAfter: current.notAfter, renewAt: renewAt(current) } : {}),
      pending: s.next !== undefined,
    };
  }

  async #noteRenew(before: number): Promise<void> {
    const store = this.#o.store;
    await store.save(withRenewRequest(store.state, before, this.#o.now())).catch(() => undefined);
    this.#o.onEvent({ event: 'renewal-due', result: 'info', detail: `the cloud asked: certificates before ${before}` });
    this.#check();
  }

  /** Requests a certificate now if one is due (and the back-off allows), then schedules the next check. */
  #check(): void {
    clearTimeout(this.#timer);
    if (this.#closed || !this.#channel) return;
    const now = this.#o.now();
    const mono = performance.now();
    const reason = renewalDue(this.#o.store.state, now);
    if (reason && !this.#requesting && mono >= this.#retryAt) {
      if (reason !== 'first') this.#o.onEvent({ event: 'renewal-due', result: 'info', detail: reason });
      void this.#request(reason);
    }
    const current = this.#o.store.state.current;
    // Nothing here is 0 ms: a renewal already due waits for its request (or the back-off), never spins.
    const untilRenewal = current && renewAt(current) > now ? renewAt(current) - now : Infinity;
    const untilRetry = this.#retryAt > mono ? this.#retryAt - mono : Infinity;
    const wait = Math.min(this.#o.config.identityCheckIntervalMs, untilRenewal, untilRetry);
    this.#timer = setTimeout(() => this.#check(), wait);
    this.#timer.unref();
  }

  async #request(reason: RenewalReason): Promise<void> {
    const channel = this.#channel;
    if (!channel) return;
    this.#requesting = true;
    try {
      const { createCertificateRequest } = await import('../identity/index.ts');
      const request = await createCertificateRequest(this.#o.serial);
      const id = randomBytes(12).toString('base64url');
      const answer = this.#await(id);
      channel.client.publish(channel.topic, encodePayload({ id, csr: request.csrPem, reason }), 1, (err) => {
        if (err && this.#waiting?.id === id) this.#waiting.resolve({ failed: 'the request was not sent' });
      });
      this.#o.onEvent({ event: 'enrol-requested', result: 'info', detail: reason });
      const a = await answer;
      if ('certificate' in a) await this.#take(a.certificate, request.privateKeyPem);
      else this.#retryLater(a);
    } catch (err) {
      this.#retryLater({ failed: (err as Error).message.slice(0, 80) });
    } finally {
      this.#requesting = false;
    }
  }

  #await(id: string): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => resolve({ failed: 'no answer in time' }), this.#o.config.enrolTimeoutMs);
      this.#waiting = {
        id,
        resolve: (a) => {
          clearTimeout(timer);
          if (this.#waiting?.id === id) this.#waiting = undefined;
          resolve(a);
        },
      };
    });
  }

  /** Checks the issued certificate against the request's key; keeps it as `next` and reconnects with it. */
  async #take(certPem: string, keyPem: string): Promise<void> {
    const store = this.#o.store;
    const cert = acceptIssuedCertificate(certPem, keyPem, this.#o.serial, this.#o.now(), this.#o.random());
    if (typeof cert === 'string') {
      this.#retryLater({ refused: `certificate refused: ${cert}` });
      return;
    }
    await store.save(withNext(store.state, cert));
    const until = new Date(cert.notAfter).toISOString();
    this.#o.onEvent({ event: 'certificate-received', result: 'success', detail: `valid until ${until}` });
    this.#o.reconnect();
  }

  /** A request that failed or was refused: journalled, and the next one waits (bounded, doubling). */
  #retryLater(a: { error: { code: string; message: string } } | { failed: string } | { refused: string }): void {
    const c = this.#o.config;
    const delay = reconnectDelay(
      this.#attempt++,
      { reconnectBaseMs: c.enrolRetryBaseMs, reconnectMaxMs: c.enrolRetryMaxMs, reconnectJitter: c.reconnectJitter },
      this.#o.random(),
    );
    this.#retryAt = performance.now() + delay;
    const why = 'error' in a ? `${a.error.code}: ${a.error.message}` : 'failed' in a ? a.failed : a.refused;
    const result = 'failed' in a ? 'failure' : 'refused';
    this.#o.onEvent({ event: 'enrol-refused', result, detail: `${why}; again in ${Math.round(delay / 1000)} s` });
    this.#check();
  }
}
