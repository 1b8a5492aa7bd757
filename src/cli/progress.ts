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
