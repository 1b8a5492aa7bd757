/**
 * What an action's answer says on the page it redirects to ("Power is now on."), kept on the server
 * for the session that acted, never in the URL: a link carrying its own text (`/?done=...`) would let
 * anyone who can send the owner a link write a sentence on the owner's own page. Bounded in count and
 * time, and taken once.
 */

/** How long a notice waits for its page, ms: the redirect is followed at once. */
const NOTICE_TTL_MS = 60_000;
/** At most this many sessions' notices are held; the oldest go first. */
const MAX_NOTICES = 256;
/** A notice longer than this is cut. */
export const MAX_NOTICE_CHARS = 200;

/** The notices waiting for their sessions' next page, by session key. */
export class NoticeBox {
  readonly #notices = new Map<string, { text: string; error: boolean; at: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Leaves `text` (an error's when `error`) for the session `key`'s next page, replacing any notice it had. */
  put(key: string, text: string, error = false): void {
    this.#notices.delete(key);
    if (this.#notices.size >= MAX_NOTICES) this.#notices.delete(this.#notices.keys().next().value!);
    this.#notices.set(key, { text: text.slice(0, MAX_NOTICE_CHARS), error, at: this.#now() });
  }

  /** The session's notice, removed; undefined when none is waiting or it waited too long. */
  take(key: string): { text: string; error: boolean } | undefined {
    const found = this.#notices.get(key);
    if (!found) return undefined;
    this.#notices.delete(key);
    return this.#now() - found.at <= NOTICE_TTL_MS ? { text: found.text, error: found.error } : undefined;
  }

  /** How many notices are waiting (for tests and the memory bound). */
  get size(): number {
    return this.#notices.size;
  }
}
