/**
 * A bounded gate in front of password hashing. Each argon2id call holds ~19 MiB and a core for
 * a good fraction of a second, so a login flood must queue (boundedly) rather than fan out:
 * at most `maxConcurrent` hashes run at once, at most `maxQueued` callers wait, and a caller
 * that would exceed either bound is refused at once with AUTH_BUSY (HTTP 503 at the edge).
 *
 * A flood of guesses must not starve the owner: a 'trusted' task (a login that presented a valid
 * device cookie) waits in its own small queue, served before the normal one, so it runs as soon
 * as one running hash ends. The number of hashes at once, and so the memory, stays bounded.
 */
import { integerSettings } from '../errors/index.ts';
import { AuthBusyError } from './errors.ts';

/** Limits of a {@link HashLimiter}. */
export interface HashLimiterConfig {
  /** Hashes allowed to run at the same time. */
  readonly maxConcurrent: number;
  /** Callers allowed to wait for a slot; one more is refused with AUTH_BUSY. */
  readonly maxQueued: number;
  /** Longest a queued caller waits for a slot before it is refused with AUTH_BUSY, in ms. */
  readonly maxWaitMs: number;
  /** Trusted callers allowed to wait, in their own queue served first; one more is refused with AUTH_BUSY. */
  readonly maxTrustedQueued: number;
}

/** Which queue a task waits in: 'trusted' (a valid device cookie) is served before 'normal'. */
export type HashPriority = 'normal' | 'trusted';

/** The secure default: 2 hashes at once (~38 MiB), 16 waiting (and 4 trusted), 10 s at most in the queue. */
export const defaultHashLimiterConfig: Readonly<HashLimiterConfig> = Object.freeze({
  maxConcurrent: 2,
  maxQueued: 16,
  maxWaitMs: 10_000,
  maxTrustedQueued: 4,
});

const requireInt = integerSettings('HASH_LIMITER_CONFIG_INVALID');

/** Validates a (partial) limiter config against the defaults; throws ConfigError naming the key. */
export function validateHashLimiterConfig(config: Partial<HashLimiterConfig> = {}): HashLimiterConfig {
  const merged = { ...defaultHashLimiterConfig, ...config };
  return Object.freeze({
    maxConcurrent: requireInt('maxConcurrent', merged.maxConcurrent, 1, 64),
    maxQueued: requireInt('maxQueued', merged.maxQueued, 0, 10_000),
    maxWaitMs: requireInt('maxWaitMs', merged.maxWaitMs, 1, 600_000),
    maxTrustedQueued: requireInt('maxTrustedQueued', merged.maxTrustedQueued, 0, 1_000),
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
  readonly #trustedQueue: Waiter[] = [];

  constructor(config: Partial<HashLimiterConfig> = {}) {
    this.config = validateHashLimiterConfig(config);
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot now (both queues). */
  get queued(): number {
    return this.#queue.length + this.#trustedQueue.length;
  }

  /**
   * Runs `task` when a slot is free; rejects with AUTH_BUSY when its queue is full or the wait too
   * long. `priority: 'trusted'` waits in the trusted queue, which is served first.
   */
  async run<T>(task: () => Promise<T>, options: { readonly priority?: HashPriority } = {}): Promise<T> {
    await this.#acquire(options.priority === 'trusted' ? this.#trustedQueue : this.#queue);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(queue: Waiter[]): Promise<void> {
    if (this.#active < this.config.maxConcurrent) {
      this.#active++;
      return Promise.resolve();
    }
    const bound = queue === this.#trustedQueue ? this.config.maxTrustedQueued : this.config.maxQueued;
    if (queue.length >= bound) {
      return Promise.reject(
        new AuthBusyError('too many password checks in progress; try again shortly', {
          maxConcurrent: this.config.maxConcurrent,
          maxQueued: bound,
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const at = queue.indexOf(waiter);
        if (at >= 0) queue.splice(at, 1);
        reject(new AuthBusyError('waited too long for a password check slot', { maxWaitMs: this.config.maxWaitMs }));
      }, this.config.maxWaitMs);
      // The wait bound must not keep a process alive that has nothing else to do.
      timer.unref();
      queue.push(waiter);
    });
  }

  #release(): void {
    const next = this.#trustedQueue.shift() ?? this.#queue.shift();
    // Hand the slot straight to the next waiter, so `active` never exceeds the bound.
    if (next) next.grant();
    else this.#active--;
  }
}
