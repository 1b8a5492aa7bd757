/**
 * The commit rule of a trial boot: an image commits (ends its trial, drops the way back, raises the
 * security counter) only once it has reached what it needs to receive its next fix: the cloud, the
 * update repository and the product's own checks, each within the trial window. A check that has not
 * passed by then leaves the image on trial: it never reports healthy, the supervisor ends the boot at
 * its health deadline, and after `maxTrialBoots` the unit goes back by itself. Loaded on trial boots only.
 */
import { UpdateRefusedError } from './errors.ts';

/** One thing a trial image must reach before it commits. */
export interface HealthCheck {
  /** What it proves, for the journal ('cloud', 'update repository', 'driver'). */
  readonly name: string;
  /**
   * One try, given at most `budgetMs`: resolves with what was proven (e.g. 'cloud reached: session to
   * 10.0.0.2:8883'), rejects with an error whose message says what failed ('cloud not reached: ECONNREFUSED').
   */
  attempt(budgetMs: number): Promise<string>;
}

/** The cloud link as the commit rule needs it (src/cloudlink's CloudLink fits). */
export interface CloudReach {
  /** Sessions established by this process: a session from an earlier boot never counts. */
  readonly connections: number;
  /** Why the last connection attempt failed, if one did. */
  readonly lastFailure: string | undefined;
  /** The cloud link's broker address, `mqtts://host:port`. */
  readonly config: { readonly url: string };
  waitConnected(timeoutMs: number): Promise<boolean>;
}

/** The pacing of the checks, ms. */
export interface HealthGateTiming {
  /** When the last check must have passed (ms since the epoch): the trial window less a margin. */
  readonly deadline: number;
  /** First wait between two tries of a failed check; it doubles up to `maxRetryMs`. */
  readonly retryMs: number;
  readonly maxRetryMs: number;
}

/** What the gate tells the updater: each check's outcome as it happens. */
export interface HealthGateReport {
  passed(check: string, proof: string): void;
  failed(check: string, reason: string): void;
}

/** Longest wait for the cloud's first session in one try, ms (the link reconnects on its own back-off meanwhile). */
const CLOUD_TRY_MS = 5_000;
/** How often a try looks at the link, ms. */
const CLOUD_POLL_MS = 100;
/** The budget of the try made at the deadline, ms. */
const LAST_TRY_MS = 100;

/**
 * An error code made readable: TLS's long codes (UNABLE_TO_GET_ISSUER_CERT_LOCALLY) would look like a
 * secret to the journal's redactor, so they go in words.
 */
function readableFailure(code: string): string {
  return /^[A-Z0-9_]{20,}$/.test(code) ? code.toLowerCase().replace(/_/g, ' ') : code;
}

/** The check that the cloud link has had a mutual-TLS session with the cloud in this boot. */
export function cloudCheck(link: CloudReach): HealthCheck {
  const where = link.config.url.replace(/^mqtts:\/\//, '');
  return {
    name: 'cloud',
    async attempt(budgetMs) {
      const until = Date.now() + Math.min(budgetMs, CLOUD_TRY_MS);
      // Fails as soon as a connection attempt is known to have failed: the gate tries again, and the link reconnects.
      while (link.connections === 0 && link.lastFailure === undefined && Date.now() < until)
        await link.waitConnected(Math.min(CLOUD_POLL_MS, until - Date.now()));
      if (link.connections > 0) return `cloud reached: a mutual-TLS session to ${where} in this boot`;
      const why = readableFailure(link.lastFailure ?? 'no session yet');
      throw new UpdateRefusedError('UPDATE_UNREACHABLE', `cloud not reached: ${why}`);
    },
  };
}

/** The product's driver as the commit rule needs it (src/device's DriverHardware fits). */
export interface DriverReach {
  /** The driver's own health check: undefined when it has none; throws while the driver is not up. */
  health(): Promise<{ readonly ok: boolean; readonly reason?: string } | undefined>;
}

/** The product's own check, through its driver: a driver without one passes once it answers. */
export function driverCheck(driver: DriverReach): HealthCheck {
  return {
    name: 'driver',
    async attempt() {
      let answer;
      try {
        answer = await driver.health();
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new UpdateRefusedError('UPDATE_UNREACHABLE', `driver not reached: ${why}`);
      }
      if (answer === undefined) return 'driver answered; it has no health check of its own';
      if (answer.ok) return 'driver reports the hardware healthy';
      throw new UpdateRefusedError('UPDATE_UNREACHABLE', `driver not healthy: ${answer.reason ?? 'no reason given'}`);
    },
  };
}

/** Resolves after `ms`. */
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Why a try was cut off at its budget: a reason only when the check has given no better one. */
class TryTimeout extends UpdateRefusedError {}

/** One try, cut off at `budgetMs`. */
async function tryOnce(check: HealthCheck, budgetMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    const late = (): void => reject(new TryTimeout('UPDATE_TIMEOUT', `${check.name}: no answer within ${budgetMs} ms`));
    timer = setTimeout(late, budgetMs);
  });
  try {
    return await Promise.race([check.attempt(budgetMs), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Tries `check` until it passes or the deadline comes; returns undefined when it passed, else the last reason. */
async function runCheck(
  check: HealthCheck,
  t: HealthGateTiming,
  report: HealthGateReport,
): Promise<string | undefined> {
  let wait = t.retryMs;
  let last: string | undefined;
  for (;;) {
    // The last try, at the deadline, still gets a moment: a session made late in the window counts.
    const budget = Math.max(t.deadline - Date.now(), LAST_TRY_MS);
    try {
      report.passed(check.name, await tryOnce(check, budget));
      return undefined;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // Each new reason is told once: a check tried every few seconds does not flood the journal.
      if (!(err instanceof TryTimeout && last !== undefined) && reason !== last) {
        report.failed(check.name, reason);
        last = reason;
      }
    }
    const left = t.deadline - Date.now();
    if (left <= 0) return last;
    await sleep(Math.min(wait, left));
    wait = Math.min(wait * 2, t.maxRetryMs);
  }
}

/**
 * Runs every check side by side, each retried until it passes or `timing.deadline`; resolves with the
 * reasons of the checks that did not pass (empty: the way home is proven).
 * @example
 * const failed = await proveWayHome([cloudCheck(link)], { deadline, retryMs: 500, maxRetryMs: 5_000 }, report);
 */
export async function proveWayHome(
  checks: readonly HealthCheck[],
  timing: HealthGateTiming,
  report: HealthGateReport,
): Promise<string[]> {
  const results = await Promise.all(checks.map((c) => runCheck(c, timing, report)));
  return results.filter((r): r is string => r !== undefined);
}
