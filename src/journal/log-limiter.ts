/**
 * A service log no stranger can fill: lines are grouped by cause (an error code such as
 * 'HPE_INVALID_METHOD', never the message text, which a client may vary at will). The first line
 * of a cause is written at once; after it, at most one line per cause and interval, carrying the
 * count of the lines held back ("... (1,234 more like this in 60 s)"). A pure core: the caller
 * passes the clock and writes the lines it is handed.
 */
import { integerSettings } from '../errors/index.ts';

/** Bounds of a {@link LogLimiter}. */
export interface LogLimiterConfig {
  /** One line per cause at most this often, ms. */
  readonly intervalMs: number;
  /** Most causes tracked at once; beyond it the oldest is dropped and its count written. */
  readonly maxCauses: number;
}

/** One line a minute per cause, 256 causes tracked. */
export const defaultLogLimiterConfig: Readonly<LogLimiterConfig> = Object.freeze({
  intervalMs: 60_000,
  maxCauses: 256,
});

/** Longest cause kept, characters: a longer one is cut, so a cause cannot carry unbounded text. */
const MAX_CAUSE_CHARS = 64;

const int = integerSettings('LOGGER_CONFIG_INVALID');

/** Validates a (partial) limiter config against the defaults. */
export function validateLogLimiterConfig(config: Partial<LogLimiterConfig> = {}): LogLimiterConfig {
  const m = { ...defaultLogLimiterConfig, ...config };
  return Object.freeze({
    intervalMs: int('intervalMs', m.intervalMs, 1, 86_400_000),
    maxCauses: int('maxCauses', m.maxCauses, 1, 100_000),
  });
}

interface CauseWindow {
  start: number;
  held: number;
  /** The newest line held back, written when the cause is dropped with lines still counted. */
  lastHeld: string;
}

/**
 * Decides which log lines are written now.
 *
 * @example
 * const limiter = new LogLimiter();
 * for (const line of limiter.admit('REQUEST_ABORTED', 'client hung up', Date.now())) write(line);
 */
export class LogLimiter {
  readonly config: LogLimiterConfig;
  // Insertion order is window start order: the first entry is the oldest.
  readonly #windows = new Map<string, CauseWindow>();

  constructor(config: Partial<LogLimiterConfig> = {}) {
    this.config = validateLogLimiterConfig(config);
  }

  /** Causes tracked now. */
  get size(): number {
    return this.#windows.size;
  }

  /**
   * Notes one `line` of `cause` at `now` (ms). Returns the lines to write: none while the cause
   * is held back; the line itself (with the count held since the last one written, if any); and
   * before it the count of an old cause dropped to stay within bounds.
   */
  admit(cause: string, line: string, now: number): string[] {
    const key = cause.slice(0, MAX_CAUSE_CHARS);
    const window = this.#windows.get(key);
    if (window && now - window.start < this.config.intervalMs) {
      window.held += 1;
      window.lastHeld = line;
      return [];
    }
    const out: string[] = [];
    if (window) {
      this.#windows.delete(key);
      out.push(window.held > 0 ? `${line} (${moreLikeThis(window.held, window.start, now)})` : line);
    } else {
      if (this.#windows.size >= this.config.maxCauses) out.push(...this.#dropOldest(now));
      out.push(line);
    }
    this.#windows.set(key, { start: now, held: 0, lastHeld: '' });
    return out;
  }

  /** The counts of every cause with lines held back, and forgets all causes (on close). */
  drain(now: number): string[] {
    const out: string[] = [];
    for (const window of this.#windows.values()) {
      if (window.held > 0) out.push(heldLine(window, now));
    }
    this.#windows.clear();
    return out;
  }

  #dropOldest(now: number): string[] {
    const first = this.#windows.entries().next();
    if (first.done) return [];
    const [key, window] = first.value;
    this.#windows.delete(key);
    return window.held > 0 ? [heldLine(window, now)] : [];
  }
}

/** The newest line held back stands for itself; the count is of the others. */
function heldLine(window: CauseWindow, now: number): string {
  const others = window.held - 1;
  return others > 0 ? `${window.lastHeld} (${moreLikeThis(others, window.start, now)})` : window.lastHeld;
}

function moreLikeThis(count: number, start: number, now: number): string {
  const seconds = Math.max(1, Math.round((now - start) / 1_000));
  return `${count.toLocaleString('en')} more like this in ${seconds} s`;
}
