/**
 * The firmware report a device sends on `devices/<serial>/firmware`: the image it runs and its
 * newest update outcomes. Pure: built from what the updater keeps (src/update's `DeviceUpdater`
 * fits {@link LinkedFirmware}), checked with the protocol's own parser, and cut to fit a payload.
 */
import { PAYLOAD_LIMITS, encodePayload, parseFirmware, type FirmwareMessage } from '../cloudprotocol/index.ts';

/** One outcome as the updater keeps it. */
export interface LinkedOutcome {
  readonly n: number;
  readonly at: number;
  readonly outcome: string;
  readonly version?: string;
  readonly code?: string;
  readonly detail?: string;
}

/** The updater as the link needs it (src/update's DeviceUpdater fits). */
export interface LinkedFirmware {
  /** The image this process runs; `targetSha256` is the SHA-256 of its signed archive. */
  readonly running: {
    readonly slot: 'a' | 'b' | 'factory';
    readonly version: string;
    readonly securityVersion: number;
    readonly targetSha256?: string;
  };
  /** The last day of security updates the unit knows now (YYYY-MM-DD); absent: not reported. */
  supportEndsOn?(): string;
  /** The newest outcomes, oldest first, kept across restarts. */
  outcomes(): readonly LinkedOutcome[];
  /** Hears each new outcome; returns the function that stops listening. */
  onOutcome(listener: (outcome: LinkedOutcome) => void): () => unknown;
}

const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

function cleanOutcome(o: LinkedOutcome): Record<string, unknown> {
  // eslint-disable-next-line no-control-regex -- control characters are what is taken out
  const detail = o.detail?.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, PAYLOAD_LIMITS.maxOutcomeDetail);
  return {
    n: o.n,
    at: o.at,
    outcome: o.outcome,
    ...(o.version !== undefined ? { version: o.version } : {}),
    ...(o.code !== undefined && CODE.test(o.code) ? { code: o.code } : {}),
    ...(detail ? { detail: detail.toWellFormed() } : {}),
  };
}

/**
 * The report for `firmware` at `now`: the newest outcomes that pass the protocol's parser and fit
 * one payload (an outcome the cloud would refuse is left out, never the whole report). Undefined
 * when the running image itself cannot be described (then nothing is sent).
 */
export function firmwareReport(firmware: LinkedFirmware, now: number = Date.now()): FirmwareMessage | undefined {
  const r = firmware.running;
  const running = {
    version: r.version,
    securityVersion: r.securityVersion,
    slot: r.slot,
    ...(r.targetSha256 ? { sha256: r.targetSha256 } : {}),
    ...(firmware.supportEndsOn ? { supportEndsOn: firmware.supportEndsOn() } : {}),
  };
  const outcomes: Array<Record<string, unknown>> = [];
  for (const o of firmware.outcomes().slice(-PAYLOAD_LIMITS.maxFirmwareOutcomes)) {
    const clean = cleanOutcome(o);
    try {
      parseFirmware({ at: now, running, outcomes: [clean] });
      outcomes.push(clean);
    } catch {
      /* left out */
    }
  }
  // The oldest go first when the report would not fit one payload.
  for (let from = 0; from <= outcomes.length; from++) {
    try {
      const report = parseFirmware({ at: now, running, outcomes: outcomes.slice(from) });
      encodePayload(report);
      return report;
    } catch {
      /* one fewer */
    }
  }
  return undefined;
}
