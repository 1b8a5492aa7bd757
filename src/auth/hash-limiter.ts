/**
 * A bounded gate in front of password hashing. Each argon2id call holds ~19 MiB and a core for
 * a good fraction of a second, so a login flood must queue (boundedly) rather than fan out:
 * at most `maxConcurrent` hashes run at once, at most `maxQueued` callers wait, and a caller
 * that would exceed either bound is refused at once with AUTH_BUSY (HTTP 503 at the edge).
 */
import { requireIntegerSetting } from '../errors/index.ts';
import { AuthBusyError } from './errors.ts';

/** Limits of a {@link HashLimiter}. */
export interface HashLimiterConfig {
  /** Hashes allowed to run at the same time. */
  readonly maxConcurrent: number;
  /** Callers allowed to wait for a slot; one more is refused with AUTH_BUSY. */
  readonly maxQueued: number;
  /** Longest a queued caller waits for a slot before it is refused with AUTH_BUSY, in ms. */
  readonly maxWaitMs: number;
}

/** The secure default: 2 hashes at once (~38 MiB), 16 waiting, 10 s at most in the queue. */
export const defaultHashLimiterConfig: Readonly<HashLimiterConfig> = Object.freeze({
  maxConcurrent: 2,
  maxQueued: 16,
  maxWaitMs: 10_000,
});

function requireInt(key: string, value: unknown, min: number, max: number): number {
  return requireIntegerSetting('HASH_LIMITER_CONFIG_INVALID', key, value, min, max);
}

/** Validates a (partial) limiter config against the defaults; throws ConfigError naming the key. */
export function validateHashLimiterConfig(config: Partial<HashLimiterConfig> = {}): HashLimiterConfig {
  const merged = { ...defaultHashLimiterConfig, ...config };
  return Object.freeze({
    maxConcurrent: requireInt('maxConcurrent', merged.maxConcurrent, 1, 64),
    maxQueued: requireInt('maxQueued', merged.maxQueued, 0, 10_000),
    maxWaitMs: requireInt('maxWaitMs', merged.maxWaitMs, 1, 600_000),
  });
}

interface Waiter {
  grant(): void;
}

/**
 * Runs async tasks with bounded concurrency and a bounded queue.
 *
 * @example
 * const limiter = new HashLimiter({ maxConcurrent: 1 });
 * const tag = await limiter.run(() => expensiveHash());
 */
export class HashLimiter {
  readonly config: HashLimiterConfig;
  #active = 0;
  readonly #queue: Waiter[] = [];

  constructor(config: Partial<HashLimiterConfig> = {}) {
    this.config = validateHashLimiterConfig(config);
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot now. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Runs `task` when a slot is free; rejects with AUTH_BUSY when the queue is full or the wait too long. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> {
    if (this.#active < this.config.maxConcurrent) {
      this.#active++;
      return Promise.resolve();
    }
    if (this.#queue.length >= this.config.maxQueued) {
      return Promise.reject(new AuthBusyError('too many password checks in progress; try again shortly', {
        maxConcurrent: this.config.maxConcurrent,
        maxQueued: this.config.maxQueued,
      }));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(new AuthBusyError('waited too long for a password check slot', { maxWaitMs: this.config.maxWaitMs }));
      }, this.config.maxWaitMs);
      // The wait bound must not keep a process alive that has nothing else to do.
      timer.unref();
      this.#queue.push(waiter);
    });
  }

  #release(): void {
    const next = this.#queue.shift();
    // Hand the slot straight to the next waiter, so `active` never exceeds the bound.
    if (next) next.grant();
    else this.#active--;
  }
}
