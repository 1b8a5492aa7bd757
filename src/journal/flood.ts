/**
 * Connection records that a flood cannot turn into a flood of journal lines, nor into silence:
 * a pure core with `now` passed in. Each source writes its first `floodThreshold` records of a
 * window one by one; the rest are counted, and when the window ends one summary says how many
 * there were and of what kind ("10,000 connection attempts in 60 s: 9,990 tls-error ...").
 */

/** The limits of a {@link FloodCounter}. */
export interface FloodLimits {
  /** How long one window of a source lasts, ms. */
  readonly floodWindowMs: number;
  /** Records of a source written one by one per window; the rest are counted. */
  readonly floodThreshold: number;
  /** Sources tracked at once; the oldest window is summarised and dropped to make room. */
  readonly maxTrackedSources: number;
}

/** What a flood of one source amounted to in one window. */
export interface FloodSummary {
  /** The source key counted under (an IPv4 address, or an IPv6 /64). */
  readonly source: string;
  /** The first address seen in the window, for a journal that wants an address. */
  readonly address: string;
  /** Records counted but not written one by one. */
  readonly count: number;
  /** Of those, how many of each kind (e.g. 'tls-error refused'). */
  readonly kinds: ReadonlyMap<string, number>;
  readonly windowStart: number;
  readonly windowEnd: number;
}

interface Window {
  readonly address: string;
  start: number;
  written: number;
  counted: number;
  readonly kinds: Map<string, number>;
}

/** Counts connection records per source and window. */
export class FloodCounter {
  readonly #config: FloodLimits;
  readonly #windows = new Map<string, Window>(); // insertion order is window start order

  constructor(config: FloodLimits) {
    this.#config = config;
  }

  /**
   * Notes one record of `kind` from `source`. Returns whether to write it now, and any summaries
   * that became due (the source's previous window, or a source dropped to stay within bounds).
   */
  note(source: string, kind: string, now: number, address = source): { write: boolean; due: FloodSummary[] } {
    const due = this.#endWindow(source, now);
    let window = this.#windows.get(source);
    if (!window) {
      if (this.#windows.size >= this.#config.maxTrackedSources) due.push(...this.#dropOldest(now));
      window = { address, start: now, written: 0, counted: 0, kinds: new Map() };
      this.#windows.set(source, window);
    }
    if (window.written < this.#config.floodThreshold) {
      window.written += 1;
      return { write: true, due };
    }
    window.counted += 1;
    window.kinds.set(kind, (window.kinds.get(kind) ?? 0) + 1);
    return { write: false, due };
  }

  /** Summaries of every window that has ended by `now` (call it on a timer). */
  due(now: number): FloodSummary[] {
    const out: FloodSummary[] = [];
    for (const source of [...this.#windows.keys()]) out.push(...this.#endWindow(source, now));
    return out;
  }

  /** Summaries of every window, ended or not (on close). */
  drain(now: number): FloodSummary[] {
    const out: FloodSummary[] = [];
    for (const [source, window] of this.#windows) {
      if (window.counted > 0) out.push(summaryOf(source, window, now));
    }
    this.#windows.clear();
    return out;
  }

  #endWindow(source: string, now: number): FloodSummary[] {
    const window = this.#windows.get(source);
    if (!window || now - window.start < this.#config.floodWindowMs) return [];
    this.#windows.delete(source);
    return window.counted > 0 ? [summaryOf(source, window, now)] : [];
  }

  #dropOldest(now: number): FloodSummary[] {
    const first = this.#windows.entries().next();
    if (first.done) return [];
    const [source, window] = first.value;
    this.#windows.delete(source);
    return window.counted > 0 ? [summaryOf(source, window, now)] : [];
  }
}

function summaryOf(source: string, window: Window, now: number): FloodSummary {
  return {
    source,
    address: window.address,
    count: window.counted,
    kinds: new Map(window.kinds),
    windowStart: window.start,
    windowEnd: now,
  };
}

/**
 * The one-line text of a summary, e.g.
 * '9,990 more in 60 s (10:04:07-10:05:07 UTC): 9,000 tls-error refused, 990 tcp-connect failure'.
 */
export function describeFlood(summary: FloodSummary): string {
  const seconds = Math.max(1, Math.round((summary.windowEnd - summary.windowStart) / 1_000));
  const kinds = [...summary.kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n.toLocaleString('en')} ${k}`);
  const from = summary.source.endsWith('/64') ? ` from ${summary.source}` : '';
  const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);
  const span = `${clock(summary.windowStart)}-${clock(summary.windowEnd)} UTC`;
  return `${summary.count.toLocaleString('en')} more${from} in ${seconds} s (${span}): ${kinds.join(', ')}`;
}
