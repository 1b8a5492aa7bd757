/** A one-line progress bar on a terminal (stderr); silent when stderr is not a TTY. */
export interface ProgressBar {
  update(done: number, total: number): void;
  finish(): void;
}

/** Creates a progress bar labelled `label`; a no-op off a terminal so logs stay clean. */
export function createProgressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update() {}, finish() {} };
  const started = performance.now();
  let last = 0;
  return {
    update(done, total) {
      const now = performance.now();
      if (done < total && now - last < 100) return; // redraw at most 10 times a second
      last = now;
      const width = 30;
      const filled = Math.round((done / total) * width);
      const rate = done / Math.max((now - started) / 1000, 0.001);
      const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
      stream.write(`\r${label} [${bar}] ${done}/${total} ${rate.toFixed(1)}/s`);
    },
    finish() {
      stream.write('\n');
    },
  };
}

/** Where a check progress line is written: stdout, or anything with its shape (a test's capture). */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  /** The terminal's width in characters, when known. */
  readonly columns?: number;
}

/** How a check progress line is shown. */
export interface CheckProgressConfig {
  /** Off a terminal, the least time between two lines (ms), so a log gets a line every few seconds, not a flood. */
  readonly plainIntervalMs: number;
  /** Off a terminal, how often a check that is still running says so (ms), so a long check never reads as a hang. */
  readonly heartbeatMs: number;
}

/** The default: a line at most every 2 s off a terminal, and one every 10 s while a check runs on. */
export const defaultCheckProgressConfig: CheckProgressConfig = Object.freeze({
  plainIntervalMs: 2_000,
  heartbeatMs: 10_000,
});

/** Checks done of a total and the check running now, as one line. */
export interface CheckProgress {
  /** `current` names the check running now; leave it out between checks and at the end. */
  update(done: number, total: number, current?: string): void;
  /** Clears the line on a terminal (what follows replaces it); off a terminal the last line stays. */
  finish(): void;
}

/** What {@link createCheckProgress} may be given besides its label. */
export interface CheckProgressOptions {
  readonly stream?: ProgressStream;
  readonly config?: Partial<CheckProgressConfig>;
  /** The clock (ms); `performance.now` by default. */
  readonly now?: () => number;
}

/** "label: 12 of 40 checks done, now login.lockout". */
function checkProgressText(label: string, done: number, total: number, current?: string): string {
  return `${label}: ${done} of ${total} checks done${current === undefined ? '' : `, now ${current}`}`;
}

/**
 * A progress line for a run of checks on stdout. On a terminal it is one line rewritten in place; otherwise a
 * plain line (no control characters) at most every `plainIntervalMs`, and always the last one, so logs stay readable.
 *
 * @example
 * const line = createCheckProgress('   auditing the plug');
 * line.update(3, 40, 'login.lockout');
 * line.finish();
 */
export function createCheckProgress(label: string, o: CheckProgressOptions = {}): CheckProgress {
  const stream = o.stream ?? process.stdout;
  const config = { ...defaultCheckProgressConfig, ...o.config };
  if (stream.isTTY) return terminalCheckProgress(label, stream);
  return plainCheckProgress(label, stream, config, o.now ?? (() => performance.now()));
}

/**
 * The plain form. A check that starts too soon after the last line is written once the interval is up, so during a
 * long check the last line names the check that is running, not one that finished long ago.
 */
function plainCheckProgress(
  label: string,
  stream: ProgressStream,
  config: CheckProgressConfig,
  now: () => number,
): CheckProgress {
  const intervalMs = config.plainIntervalMs;
  let last = -Infinity;
  let ended = false;
  let pending: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  const write = (text: string, running = true): void => {
    clearTimeout(timer);
    timer = undefined;
    pending = undefined;
    last = now();
    stream.write(text + '\n');
    clearInterval(heartbeat);
    if (!running) return;
    // The same check still running after a while says so, with how long (unref'd, like the line still to come).
    const since = last;
    heartbeat = setInterval(() => {
      stream.write(`${text} (running for ${Math.round((now() - since) / 1000)} s)\n`);
    }, config.heartbeatMs).unref();
  };
  return {
    update(done, total, current) {
      if (ended) return;
      clearInterval(heartbeat);
      if (done >= total) {
        ended = true;
        return write(checkProgressText(label, done, total), false);
      }
      // Between two checks there is nothing new to say: the next check's start follows at once.
      if (current === undefined) return;
      const text = checkProgressText(label, done, total, current);
      const wait = last + intervalMs - now();
      if (wait <= 0) return write(text);
      pending = text;
      // Unref'd: a line still to come never keeps the process alive.
      timer ??= setTimeout(() => pending !== undefined && write(pending), wait).unref();
    },
    finish() {
      clearTimeout(timer);
      clearInterval(heartbeat);
      timer = undefined;
    },
  };
}

/** The terminal form: `\r`, clear, and the line cut to the width, since a line that wraps cannot be redrawn. */
function terminalCheckProgress(label: string, stream: ProgressStream): CheckProgress {
  let shown = false;
  return {
    update(done, total, current) {
      const width = Math.max((stream.columns ?? 80) - 1, 20);
      stream.write('\r\x1b[2K' + checkProgressText(label, done, total, current).slice(0, width));
      shown = true;
    },
    finish() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
