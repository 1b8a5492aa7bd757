/**
 * Clone detection on the embedded broker. The certificate is the identity and the client id must
 * equal it, so two processes holding one unit's key and certificate take the session from each
 * other on every reconnect: each takeover closes a connection that was still open. One takeover
 * is ordinary (a unit that reconnected before the broker saw its old connection die); `flagAfter`
 * of them within `windowMs` flag the unit to the maker (store, journal, maker API), and, when
 * `revokeAfter` is set (off by default: revoking also cuts off the genuine unit), revoke it.
 */
import { SERIAL } from '../cloudprotocol/index.ts';
import { CloudConfigError } from './errors.ts';
import type { SessionTakeover } from './broker.ts';
import type { CloudStore } from './store.ts';

/** Settings of clone detection. */
export interface CloneDetectionConfig {
  /** Takeovers of one unit are counted within this window, ms. */
  readonly windowMs: number;
  /** Takeovers within the window that flag the unit to the maker. */
  readonly flagAfter: number;
  /** Takeovers within the window that revoke the unit ('clone'); 0 never revokes. */
  readonly revokeAfter: number;
}

/** The defaults: two takeovers in 10 minutes flag; nothing is revoked automatically. */
export const defaultCloneDetectionConfig: Readonly<CloneDetectionConfig> = Object.freeze({
  windowMs: 600_000,
  flagAfter: 2,
  revokeAfter: 0,
});

/** Units whose takeovers are being counted at once; past this the oldest counts are dropped. */
const MAX_TRACKED = 10_000;

/** Validates the settings; refuses a threshold that would revoke before the maker is told. */
export function validateCloneDetectionConfig(config: Partial<CloneDetectionConfig> = {}): CloneDetectionConfig {
  const c = { ...defaultCloneDetectionConfig, ...config };
  const int = (key: keyof CloneDetectionConfig, min: number, max: number): void => {
    const v = c[key];
    if (!Number.isInteger(v) || v < min || v > max)
      throw new CloudConfigError(`cloneDetection.${key}`, `must be an integer from ${min} to ${max}`);
  };
  int('windowMs', 10_000, 86_400_000);
  int('flagAfter', 2, 1_000);
  int('revokeAfter', 0, 1_000);
  if (c.revokeAfter !== 0 && c.revokeAfter < c.flagAfter)
    throw new CloudConfigError('cloneDetection.revokeAfter', 'must be 0 (off) or at least flagAfter');
  return Object.freeze(c);
}

/** What the watch needs around it. */
export interface CloneWatchOptions {
  readonly config?: Partial<CloneDetectionConfig>;
  readonly store: Pick<CloudStore, 'flagClone'>;
  /** Writes one security event to the journal. */
  readonly note: (source: string, event: string, detail: string) => void;
  /** Revokes the unit (the cloud's RevocationEnforcer). */
  readonly revoke: (serial: string) => Promise<unknown>;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

/** Counts takeovers per unit and flags, and optionally revokes, a unit held in two places. */
export class CloneWatch {
  readonly config: CloneDetectionConfig;
  readonly #o: CloneWatchOptions;
  readonly #recent = new Map<string, number[]>();

  constructor(o: CloneWatchOptions) {
    this.config = validateCloneDetectionConfig(o.config);
    this.#o = o;
  }

  /** One takeover seen by the broker. Only units count; a takeover of a dead connection is a reconnect. */
  takeover(t: SessionTakeover): void {
    if (!SERIAL.test(t.clientId) || !t.previousAlive) return;
    const now = (this.#o.now ?? Date.now)();
    const times = (this.#recent.get(t.clientId) ?? []).filter((at) => now - at < this.config.windowMs);
    times.push(now);
    this.#recent.delete(t.clientId);
    this.#recent.set(t.clientId, times);
    if (this.#recent.size > MAX_TRACKED) this.#recent.delete(this.#recent.keys().next().value!);
    const sources = `${t.previousSource} -> ${t.source}`;
    const count = times.length;
    if (count <= this.config.flagAfter)
      this.#o.note(
        t.source,
        'identity-in-two-places',
        `${t.clientId} connected from ${t.source} while open from ${t.previousSource}`,
      );
    if (count >= this.config.flagAfter) void this.#flag(t.clientId, count, sources);
  }

  async #flag(serial: string, count: number, sources: string): Promise<void> {
    const { config } = this;
    try {
      // The burst that raises the flag counts whole; later takeovers add one each.
      const isNew = await this.#o.store.flagClone(serial, count === config.flagAfter ? count : 1, sources, Date.now());
      if (isNew)
        this.#o.note(
          'local',
          'clone-suspected',
          `${serial}: ${count} takeovers within ${config.windowMs / 1000} s (${sources})`,
        );
      if (config.revokeAfter > 0 && count === config.revokeAfter) {
        await this.#o.revoke(serial);
        this.#o.note('local', 'clone-revoked', `${serial} revoked after ${count} takeovers`);
      }
    } catch (err) {
      this.#o.log(`clone detection for ${serial} failed: ${(err as Error).message}`);
    }
  }
}
