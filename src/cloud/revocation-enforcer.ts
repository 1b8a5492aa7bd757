/**
 * A cloud instance's side of revocation: the list in memory, kept in step with the store, the
 * embedded broker's question ("is this certificate revoked?"), and the disconnection of what a
 * new revocation covers, at once, journalled. A revocation made by this instance (maker API) is
 * enforced before the call returns; one made elsewhere (the CLI, another instance) within one poll.
 * On an external Mosquitto the same happens through its CRL and dynamic-security plugin
 * (mosquitto-revocation.ts), applied in full once at start so a restart re-applies every revocation.
 */
import type { ConnectionJournal } from '../journal/index.ts';
import type { EmbeddedBroker, RevokedDisconnect } from './broker.ts';
import type { CloudStore } from './store.ts';
import type { RevokeOutcome } from './revocation-sql.ts';
import type { MosquittoRevocation } from './mosquitto-revocation.ts';
import {
  RevocationList,
  parseRevocationRequest,
  watchRevocations,
  type RevocationRecord,
  type RevocationWatch,
} from './revocation.ts';

/** How often the store is asked whether anything was revoked elsewhere, ms. */
export const DEFAULT_REVOCATION_POLL_MS = 250;

/** The words a refusal and the journal use for a revocation. */
export function describeRevocation(r: RevocationRecord): string {
  const what = r.kind === 'unit' ? `unit ${r.serial ?? '?'}` : `certificate ${r.fingerprint ?? '?'}`;
  return `${what} revoked (${r.reason}) at ${new Date(r.revokedAt).toISOString()}`;
}

/** Enforces the store's revocations on one instance. */
export class RevocationEnforcer {
  readonly list = new RevocationList();
  readonly store: CloudStore;
  readonly #journal: ConnectionJournal;
  readonly #log: (line: string) => void;
  #broker: EmbeddedBroker | undefined;
  #mosquitto: MosquittoRevocation | undefined;
  #watch: RevocationWatch | undefined;

  constructor(o: { store: CloudStore; journal: ConnectionJournal; log: (line: string) => void }) {
    this.store = o.store;
    this.#journal = o.journal;
    this.#log = o.log;
  }

  /** The broker's question: why a certificate (CN, fingerprint) is revoked, or undefined. */
  readonly revoked = (cn: string | undefined, fingerprint: string): string | undefined => {
    const r = this.list.covering(cn, fingerprint);
    return r === undefined ? undefined : describeRevocation(r);
  };

  /** Loads the revocations and starts following the store (before the broker listens, so none slips through). */
  async start(pollMs = DEFAULT_REVOCATION_POLL_MS): Promise<void> {
    this.#watch = await watchRevocations({
      source: this.store,
      list: this.list,
      intervalMs: pollMs,
      onChange: (added) => this.#enforce(added),
      log: this.#log,
    });
  }

  /** The embedded broker that new revocations disconnect clients from. */
  enforceOn(broker: EmbeddedBroker): void {
    this.#broker = broker;
  }

  /**
   * The external Mosquitto that new revocations reach; applies every revocation there now. Never
   * rejects: a failure is logged and retried by `mosquitto`.
   */
  enforceOnMosquitto(mosquitto: MosquittoRevocation): Promise<void> {
    this.#mosquitto = mosquitto;
    return mosquitto.applyAll();
  }

  /** Stops following the store. */
  stop(): void {
    this.#watch?.stop();
    this.#mosquitto?.stop();
  }

  /**
   * Revokes what `input` names (`serial` or `certificate`, and `reason`) for `by` ('maker-api',
   * 'clone-detection'), and enforces it before resolving; throws REVOCATION_INVALID or NOT_FOUND and
   * changes nothing then.
   */
  async revoke(
    input: { serial?: unknown; certificate?: unknown; reason?: unknown },
    by: string,
  ): Promise<RevokeOutcome> {
    const { target, reason } = parseRevocationRequest(input);
    const done = await this.store.revoke(target, reason, by, Date.now());
    await this.#watch?.refresh();
    await this.#mosquitto?.settled();
    return done;
  }

  #enforce(added: readonly RevocationRecord[]): void {
    for (const r of added) this.#note('local', 'certificate-revoked', 'info', `${describeRevocation(r)} by ${r.by}`);
    this.#broker?.disconnectRevoked();
    void this.#mosquitto?.revoked(added);
  }

  /** Journals a connection the broker closed because its certificate was revoked. */
  readonly disconnected = (d: RevokedDisconnect): void => {
    this.#note(
      d.source,
      'revoked-client-disconnected',
      'refused',
      `MQTT client ${JSON.stringify(d.clientId)}: ${d.reason}`,
    );
  };

  #note(source: string, event: string, result: 'info' | 'refused', detail: string): void {
    try {
      this.#journal.record({ surface: 'cloud', source, event, result, detail });
    } catch (err) {
      this.#log(`journal refused a revocation record: ${(err as Error).message}`);
    }
  }
}
