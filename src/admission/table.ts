/**
 * Who holds the connections of one listening socket, as a pure core: connections in, decisions
 * out, no sockets or timers. A source (an IPv4 address or an IPv6 /64) may hold a few
 * connections, fewer of them unproven (not past handshake and headers); when the socket is full,
 * a newcomer takes the oldest unproven slot of the source holding the most, never a slot of a
 * source holding fewer than its own. So one source, however fast or slow, cannot keep another out.
 */
import type { AdmissionConfig } from './config.ts';

/** Why a connection was not admitted, or was evicted. */
export type AdmissionRefusal = 'source-cap' | 'source-pending-cap' | 'server-full';

/** The answer for a new connection. `evict` names a held connection to close to make room. */
export type AdmissionDecision =
  | { readonly admitted: true; readonly evict?: number }
  | { readonly admitted: false; readonly reason: AdmissionRefusal };

interface Held {
  readonly source: string;
  readonly acceptedAt: number;
  established: boolean;
}

interface SourceCount {
  open: number;
  pending: number;
}

/** The connections of one socket and the rules over them. Ids are the caller's. */
export class AdmissionTable {
  readonly #config: AdmissionConfig;
  readonly #held = new Map<number, Held>(); // insertion order is accept order
  readonly #sources = new Map<string, SourceCount>();

  constructor(config: AdmissionConfig) {
    this.#config = config;
  }

  /** Connections held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Open and pending counts of one source. */
  countOf(source: string): { readonly open: number; readonly pending: number } {
    return { ...(this.#sources.get(source) ?? { open: 0, pending: 0 }) };
  }

  /** Decides on a new connection and, when admitted, holds it as pending. */
  admit(id: number, source: string, now: number): AdmissionDecision {
    const count = this.#sources.get(source) ?? { open: 0, pending: 0 };
    if (count.open >= this.#config.maxConnectionsPerSource) return { admitted: false, reason: 'source-cap' };
    if (count.pending >= this.#config.maxPendingPerSource) return { admitted: false, reason: 'source-pending-cap' };
    let evict: number | undefined;
    if (this.#held.size >= this.#config.maxConnections) {
      evict = this.#victimFor(count.open + 1);
      if (evict === undefined) return { admitted: false, reason: 'server-full' };
      this.release(evict);
    }
    this.#held.set(id, { source, acceptedAt: now, established: false });
    this.#sources.set(source, { open: count.open + 1, pending: count.pending + 1 });
    return evict === undefined ? { admitted: true } : { admitted: true, evict };
  }

  /** Marks a held connection as past its handshake and headers. */
  establish(id: number): void {
    const held = this.#held.get(id);
    if (!held || held.established) return;
    held.established = true;
    const count = this.#sources.get(held.source);
    if (count) count.pending -= 1;
  }

  /** Forgets a connection (closed, refused or evicted). */
  release(id: number): void {
    const held = this.#held.get(id);
    if (!held) return;
    this.#held.delete(id);
    const count = this.#sources.get(held.source);
    if (!count) return;
    count.open -= 1;
    if (!held.established) count.pending -= 1;
    if (count.open <= 0) this.#sources.delete(held.source);
  }

  /** Whether a held connection is still pending. */
  isPending(id: number): boolean {
    return this.#held.get(id)?.established === false;
  }

  /**
   * The oldest pending connection of the source holding the most, if that source holds more
   * than `newcomerOpen` (the newcomer's count once admitted): fairness, not first come.
   */
  #victimFor(newcomerOpen: number): number | undefined {
    let heaviest: string | undefined;
    let most = newcomerOpen;
    for (const [source, count] of this.#sources) {
      if (count.pending > 0 && count.open > most) {
        heaviest = source;
        most = count.open;
      }
    }
    if (heaviest === undefined) return undefined;
    for (const [id, held] of this.#held) if (held.source === heaviest && !held.established) return id;
    return undefined;
  }
}
