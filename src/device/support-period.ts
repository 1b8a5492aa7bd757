/**
 * The unit's support period as it knows it now: the date its bundle was made with, or a later one
 * the maker signed into its model's image target since (`release support`, or a release with a later
 * date), which the updater keeps. When the period is over the journal says so once per start, and
 * again if it passes while the unit runs: the owner's page shows the notice (src/web).
 */
import type { DeviceJournal } from './journal-bridge.ts';

/** The later of the bundle's support end and the one signed through updates (both YYYY-MM-DD). */
export function effectiveSupportEnd(bundleEnd: string, signed: string | null | undefined): string {
  return signed && signed > bundleEnd ? signed : bundleEnd;
}

/** Whether security updates have ended at `now`: support lasts to the end of `endsOn`, UTC. */
export function supportEnded(endsOn: string, now: number): boolean {
  return now >= Date.parse(`${endsOn}T00:00:00Z`) + 86_400_000;
}

/** How often a running unit looks again, ms: the end passes at midnight UTC, an hour late at most. */
const CHECK_INTERVAL_MS = 3_600_000;

/**
 * Journals `support-ended` once when the support period is over (now, or later while the unit runs);
 * an extension learned before then keeps it quiet. Returns the function that stops the watch.
 */
export function watchSupportEnd(o: {
  endsOn: () => string;
  journal: Pick<DeviceJournal, 'record'>;
  now?: () => number;
  intervalMs?: number;
}): () => void {
  const now = o.now ?? Date.now;
  let told = false;
  const look = (): void => {
    const end = o.endsOn();
    if (told || !supportEnded(end, now())) return;
    told = true;
    o.journal.record({
      surface: 'update',
      source: 'local',
      event: 'support-ended',
      result: 'info',
      detail: `security updates ended on ${end}: this unit gets no more fixes from its maker`,
    });
  };
  look();
  const timer = setInterval(look, o.intervalMs ?? CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
