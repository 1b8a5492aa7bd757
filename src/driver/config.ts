/** The driver client's settings: one typed object, its defaults beside it, checked on use. */
import { DriverConfigError } from './errors.ts';

/** Bounds of the driver client; every time in ms, every size in bytes. */
export interface DriverClientConfig {
  /** A `get` or `act` with no answer in this time fails with 'DRIVER_TIMEOUT'. */
  readonly requestTimeoutMs: number;
  /** A driver that has not answered `initialize` in this time is restarted. */
  readonly initializeTimeoutMs: number;
  /** This many request timeouts in a row mean the driver hangs: it is restarted. */
  readonly maxTimeoutsInRow: number;
  /** Requests outstanding at once; one more fails with 'DRIVER_BUSY'. */
  readonly maxInFlight: number;
  /** Bytes written to the driver and not yet read by it; past this it is deemed hung and restarted. */
  readonly maxWriteBacklogBytes: number;
  /** Notifications (changed, button, fault) a second on average, and the burst above it; the rest are dropped. */
  readonly notificationsPerSecond: number;
  readonly notificationBurst: number;
  /** Fault events about the driver's bad messages, a second, and the burst; the rest are counted only. */
  readonly faultsPerSecond: number;
  readonly faultBurst: number;
  /** Lines of the driver's stderr passed to the log, a second, and the burst; bytes of one such line. */
  readonly stderrLinesPerSecond: number;
  readonly stderrBurst: number;
  readonly maxStderrLineBytes: number;
  /** The first restart delay, doubled each time up to the ceiling; jitter takes up to that share off. */
  readonly restartBaseMs: number;
  readonly restartMaxMs: number;
  readonly restartJitter: number;
  /** A driver ready this long has its restart delay reset to the first one. */
  readonly healthyResetMs: number;
  /** After SIGTERM, the driver has this long to exit before SIGKILL. */
  readonly killGraceMs: number;
}

/** The defaults: the secure and usual configuration. */
export const defaultDriverClientConfig: DriverClientConfig = Object.freeze({
  requestTimeoutMs: 2_000,
  initializeTimeoutMs: 5_000,
  maxTimeoutsInRow: 3,
  maxInFlight: 16,
  maxWriteBacklogBytes: 262_144,
  notificationsPerSecond: 50,
  notificationBurst: 100,
  faultsPerSecond: 5,
  faultBurst: 10,
  stderrLinesPerSecond: 10,
  stderrBurst: 20,
  maxStderrLineBytes: 1_024,
  restartBaseMs: 250,
  restartMaxMs: 30_000,
  restartJitter: 0.2,
  healthyResetMs: 60_000,
  killGraceMs: 2_000,
});

const INTEGER_BOUNDS: Readonly<Record<Exclude<keyof DriverClientConfig, 'restartJitter'>, [number, number]>> = {
  requestTimeoutMs: [10, 60_000],
  initializeTimeoutMs: [10, 120_000],
  maxTimeoutsInRow: [1, 100],
  maxInFlight: [1, 1_024],
  maxWriteBacklogBytes: [65_536, 16_777_216],
  notificationsPerSecond: [1, 10_000],
  notificationBurst: [1, 100_000],
  faultsPerSecond: [1, 1_000],
  faultBurst: [1, 10_000],
  stderrLinesPerSecond: [1, 1_000],
  stderrBurst: [1, 10_000],
  maxStderrLineBytes: [64, 65_536],
  restartBaseMs: [10, 60_000],
  restartMaxMs: [10, 3_600_000],
  healthyResetMs: [100, 3_600_000],
  killGraceMs: [10, 60_000],
};

/** Fills `partial` from the defaults and checks every bound; throws DriverConfigError naming the key. */
export function validateDriverClientConfig(partial: Partial<DriverClientConfig> = {}): DriverClientConfig {
  const config = { ...defaultDriverClientConfig, ...partial };
  for (const [key, [min, max]] of Object.entries(INTEGER_BOUNDS)) {
    const v = config[key as keyof DriverClientConfig];
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new DriverConfigError(key, `must be an integer from ${min} to ${max}`);
    }
  }
  if (!(config.restartJitter >= 0 && config.restartJitter <= 1)) {
    throw new DriverConfigError('restartJitter', 'must be from 0 to 1');
  }
  if (config.restartMaxMs < config.restartBaseMs) {
    throw new DriverConfigError('restartMaxMs', 'must be at least restartBaseMs');
  }
  return Object.freeze(config);
}

/**
 * The delay before restart number `attempt` (0 for the first), ms: `restartBaseMs` doubled per
 * attempt up to `restartMaxMs`, less up to `restartJitter` of it at random. Pure: `random` is passed in.
 */
export function restartDelay(
  attempt: number,
  config: Pick<DriverClientConfig, 'restartBaseMs' | 'restartMaxMs' | 'restartJitter'>,
  random: number,
): number {
  const doublings = Math.max(0, Math.min(Math.floor(attempt), 40));
  const ceiling = Math.min(config.restartMaxMs, config.restartBaseMs * 2 ** doublings);
  return Math.round(ceiling * (1 - config.restartJitter * Math.min(Math.max(random, 0), 1)));
}
