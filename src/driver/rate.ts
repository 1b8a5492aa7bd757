/** A token bucket, pure: the clock is passed in, so tests need no timers. */

/**
 * Allows `ratePerSecond` events a second on average and bursts of up to `burst`.
 *
 * @example
 * const bucket = new TokenBucket(50, 100);
 * if (!bucket.take(performance.now())) dropped += 1;
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs: number | undefined;

  constructor(ratePerSecond: number, burst: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
  }

  /** Takes one token at time `nowMs`: true when the event may pass. */
  take(nowMs: number): boolean {
    if (this.#lastMs !== undefined && nowMs > this.#lastMs) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (nowMs - this.#lastMs) * this.#ratePerMs);
    }
    if (this.#lastMs === undefined || nowMs > this.#lastMs) this.#lastMs = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
