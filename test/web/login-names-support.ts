// Test support for test/web/login-names.test.ts and test/hub/login-names.test.ts: the same run of
// wrong passwords against two names of one page, and a hash queue held full, on real components.
import assert from 'node:assert/strict';
import type { HashLimiter } from '../../src/auth/index.ts';
import type { Answer } from '../support/device.ts';

/** Sends one login for `name` from a browser that already holds the login form (a fresh one each time). */
export type PreparedLogin = (name: string, password: string) => Promise<Answer>;

/** Opens the login form in a new browser at loopback address `from`. */
export type LoginPreparer = (from: string) => Promise<PreparedLogin>;

/** What a page answered, in order: statuses, pages with the names and tokens blanked, Retry-After. */
export interface NameAnswers {
  readonly statuses: number[];
  readonly bodies: string[];
  readonly retryAfter: Array<string | undefined>;
}

/** How many addresses guess at once: each holds one connection, under the page's 4 pending per source. */
const PARALLEL_ADDRESSES = 4;

/** The page's answer with what differs by design blanked: the name field's value and the form's token. */
function blanked(body: string): string {
  return body
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value="-"')
    .replace(/(name="username"[^>]*?) value="[^"]*"/g, '$1 value="-"')
    .replace(/nonce-[A-Za-z0-9+/=_-]+/g, 'nonce--')
    .replace(/nonce="[^"]*"/g, 'nonce="-"');
}

/** Answers in order, and how to add one. */
function recorder(): { answers: NameAnswers; add: (r: Answer) => void } {
  const answers: NameAnswers = { statuses: [], bodies: [], retryAfter: [] };
  const add = (r: Answer): void => {
    answers.statuses.push(r.status);
    answers.bodies.push(blanked(r.body));
    const wait = r.headers['retry-after'];
    answers.retryAfter.push(Array.isArray(wait) ? wait.join() : wait);
  };
  return { answers, add };
}

/** One wrong password at `first`, then one at `second`, each from its own address of 127.0.`block`.x. */
export async function oneEach(
  prepare: LoginPreparer,
  first: string,
  second: string,
  block: number,
): Promise<NameAnswers> {
  const { answers, add } = recorder();
  add(await (await prepare(`127.0.${block}.1`))(first, 'wrong-password-1'));
  add(await (await prepare(`127.0.${block}.2`))(second, 'wrong-password-2'));
  return answers;
}

/**
 * The run an enumerating guesser would try, from addresses 127.0.`block`.x: 5 wrong passwords at
 * `first` from each of 20 addresses (100, the account-wide ceiling), one more from a new address
 * (429), one at `second` from another (its own account: 401), then 6 at `second` from one address
 * (5 failures, then that address backs off: 429).
 */
export async function loginSequence(
  prepare: LoginPreparer,
  o: { first: string; second: string; block: number },
): Promise<NameAnswers> {
  const { answers, add } = recorder();
  const at = (n: number): string => `127.0.${o.block}.${n}`;
  for (let group = 0; group < 20; group += PARALLEL_ADDRESSES) {
    const addresses = Array.from({ length: PARALLEL_ADDRESSES }, (_, i) => group + i + 1);
    const runs = await Promise.all(
      addresses.map(async (a) => {
        const answers: Answer[] = [];
        for (let i = 0; i < 5; i++) answers.push(await (await prepare(at(a)))(o.first, `wrong-${a}-${i}`));
        return answers;
      }),
    );
    for (const answer of runs.flat()) add(answer);
  }
  // Forms opened first, so a Retry-After is read right after the failure it counts from.
  const [ceiling, other] = [await prepare(at(21)), await prepare(at(22))];
  add(await ceiling(o.first, 'wrong-at-the-ceiling'));
  add(await other(o.second, 'wrong-other-name'));
  for (let i = 0; i < 6; i++) add(await (await prepare(at(23)))(o.second, `wrong-again-${i}`));
  return answers;
}

/**
 * Fills `limiter` (the process's real hash limiter) with tasks that wait: every slot busy and its
 * queue full, so the next password check is refused AUTH_BUSY. Returns the release, which lets
 * them finish; release within the limiter's `maxWaitMs`, or the queued ones give up by themselves.
 */
export function holdHashSlots(limiter: HashLimiter): () => Promise<void> {
  assert.equal(limiter.active + limiter.queued, 0, 'the limiter is idle before it is held');
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const { maxConcurrent, maxQueued } = limiter.config;
  const held = Array.from({ length: maxConcurrent + maxQueued }, () => limiter.run(() => gate).catch(() => undefined));
  assert.equal(limiter.active, maxConcurrent);
  assert.equal(limiter.queued, maxQueued);
  return async () => {
    open();
    await Promise.all(held);
  };
}
