/**
 * What the supervisor does when the agent exits: boot again (after a pause), or stop when the agent
 * refused its configuration. A pure
 * core: the clock is passed in, and the only state is the times of recent restarts and reboots.
 */
import { REBOOT_EXIT_CODE } from '../update/index.ts';

/** The exit code of an agent that refused its configuration (sysexits EX_CONFIG): not restarted. */
export const CONFIG_REFUSED_EXIT_CODE = 78;
/** Pause before booting after a requested reboot, ms. */
const REBOOT_DELAY_MS = 50;
/** Pause before booting after a crash or a failed trial, ms (a crash waits this times its count). */
const RESTART_DELAY_MS = 250;
/**
 * Pause after a crash loop, ms. The supervisor does not give up: it owns the button, so a hold
 * must still reset a unit whose agent dies at every start, and a slow retry costs nothing.
 */
export const CRASH_LOOP_PAUSE_MS = 60_000;

/** How the agent's process ended. */
export interface AgentExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The boot was a trial of a new image. */
  readonly trial: boolean;
  /** The agent reported healthy during this boot. */
  readonly healthy: boolean;
  /** The firmware version that ran, for the log line. */
  readonly firmware: string;
}

/** Boot again after `delayMs`, or stop the supervisor with `exitCode`; `message` is for the log. */
export type ExitDecision =
  | { readonly kind: 'boot'; readonly delayMs: number; readonly message: string }
  | { readonly kind: 'stop'; readonly exitCode: number; readonly message: string };

/** Limits of {@link RestartPolicy}. */
export interface RestartLimits {
  /** Crashes allowed within `windowMs` (requested reboots: twice as many). */
  readonly maxRestarts: number;
  readonly windowMs: number;
}

/** Counts recent crashes and reboots and decides what follows each exit. */
export class RestartPolicy {
  readonly #limits: RestartLimits;
  readonly #restarts: number[] = [];
  readonly #reboots: number[] = [];

  constructor(limits: RestartLimits) {
    this.#limits = limits;
  }

  /** Forgets every crash and reboot (after a factory reset: a new start). */
  forget(): void {
    this.#restarts.length = 0;
    this.#reboots.length = 0;
  }

  /** Notes `times` happening at `now` and drops what is older than the window; returns the count. */
  #count(times: number[], now: number): number {
    times.push(now);
    while (times.length && times[0]! < now - this.#limits.windowMs) times.shift();
    return times.length;
  }

  /** What to do after `exit`, at time `now` (ms). */
  afterExit(exit: AgentExit, now: number): ExitDecision {
    const { maxRestarts, windowMs } = this.#limits;
    const how = String(exit.signal ?? exit.code);
    if (exit.code === REBOOT_EXIT_CODE) {
      // An install asks for one reboot; an image that asks again and again is stopped like a crash loop.
      const reboots = this.#count(this.#reboots, now);
      if (reboots > maxRestarts * 2) {
        const message = `the agent asked for ${reboots} reboots within ${windowMs} ms; giving up`;
        return { kind: 'stop', exitCode: 1, message };
      }
      return { kind: 'boot', delayMs: REBOOT_DELAY_MS, message: 'the agent asked for a reboot' };
    }
    if (exit.trial && !exit.healthy) {
      const message = `trial boot of firmware ${exit.firmware} failed (${how})`;
      return { kind: 'boot', delayMs: RESTART_DELAY_MS, message };
    }
    if (exit.code === CONFIG_REFUSED_EXIT_CODE) {
      const message = 'agent refused its configuration; not restarting';
      return { kind: 'stop', exitCode: CONFIG_REFUSED_EXIT_CODE, message };
    }
    const restarts = this.#count(this.#restarts, now);
    if (restarts > maxRestarts) {
      const message =
        `agent died ${restarts} times within ${windowMs} ms; trying again in ${CRASH_LOOP_PAUSE_MS / 1000} s ` +
        '(a hold of the button still resets the unit)';
      return { kind: 'boot', delayMs: CRASH_LOOP_PAUSE_MS, message };
    }
    return { kind: 'boot', delayMs: RESTART_DELAY_MS * restarts, message: `agent exited (${how}); restarting` };
  }
}
