/**
 * The broker's side of the connection journal: every connection attempt ends in one record with
 * the source captured at accept. The admission guard records what fails before or during TLS
 * (here given a reason a reader understands); this records what the MQTT CONNECT decides:
 * accepted with the client id, refused with the reason, or closed before any CONNECT was accepted.
 */
import type { TLSSocket } from 'node:tls';
import type { Admission, AdmissionRecord } from '../admission/index.ts';

/** Longest client id quoted in a record, characters (aedes caps ids at 64). */
const MAX_QUOTED_ID_CHARS = 64;

/**
 * What a failed handshake means for a client of this broker, by the distinctive part of its code
 * (OpenSSL's, or the verification error Node keeps for a client certificate it refused).
 */
const TLS_REASONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/PEER_DID_NOT_RETURN_A_CERTIFICATE|NO_CERTIFICATE/, 'no client certificate'],
  [
    /CERTIFICATE_VERIFY_FAILED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|UNKNOWN_CA|SELF_SIGNED|BAD_CERTIFICATE/,
    'client certificate not issued by the manufacturer CA',
  ],
  [/CERT_HAS_EXPIRED|CERTIFICATE_EXPIRED|CERT_NOT_YET_VALID/, 'client certificate out of date'],
  [/VERSION|PROTOCOL/, 'TLS version or protocol refused'],
];

/** The reason for a failed handshake, followed by the TLS error code it comes from. */
export function describeTlsRefusal(code: string | undefined): string {
  const text = code ?? 'TLS_ERROR';
  const reason = TLS_REASONS.find(([pattern]) => pattern.test(text))?.[1] ?? 'TLS handshake failed';
  return `${reason} (${text})`;
}

/** A guard record with the TLS error code turned into a reason. */
export function explainGuardRecord(record: AdmissionRecord): AdmissionRecord {
  return record.event === 'tls-error' ? { ...record, detail: describeTlsRefusal(record.detail) } : record;
}

/** Quotes a client-chosen id for a record: bounded, and visibly a quotation. */
export function quoteClientId(id: unknown): string {
  return JSON.stringify(String(id).slice(0, MAX_QUOTED_ID_CHARS));
}

/** Records, once per verified TLS connection, what became of its MQTT CONNECT. */
export class BrokerConnectionJournal {
  readonly #admission: Admission;
  readonly #record: (record: AdmissionRecord) => void;
  readonly #decided = new WeakSet<TLSSocket>();

  constructor(admission: Admission, record: (record: AdmissionRecord) => void) {
    this.#admission = admission;
    this.#record = record;
  }

  /** Watches a socket past its handshake: if it closes with nothing decided, that is recorded. */
  watch(socket: TLSSocket, cn: string | undefined): void {
    socket.once('close', () => {
      if (this.#decided.has(socket)) return;
      this.#write(socket, 'failure', `closed before an MQTT CONNECT was accepted (CN ${quoteClientId(cn ?? '')})`);
    });
  }

  /** The CONNECT was accepted for `clientId`. */
  accepted(socket: TLSSocket, clientId: string): void {
    const tls = `${socket.getProtocol() ?? '?'} ${socket.getCipher()?.name ?? ''}`.trim();
    this.#write(socket, 'success', `MQTT client ${quoteClientId(clientId)} accepted, ${tls}`);
  }

  /** The CONNECT was refused for `reason`. */
  refused(socket: TLSSocket, reason: string): void {
    this.#write(socket, 'refused', reason);
  }

  #write(socket: TLSSocket, result: 'success' | 'failure' | 'refused', detail: string): void {
    if (this.#decided.has(socket)) return;
    this.#decided.add(socket);
    const event = result === 'refused' ? 'connection-refused' : 'tls-connect';
    try {
      this.#record({ source: this.#admission.sourceOf(socket), event, result, detail });
    } catch {
      // The journal reports its own failures; a connection must not fail because of them.
    }
  }
}
