/** The updater's types, shared by its entry (device-updater.ts) and its engine (updater-core.ts). */
import type { DeviceUpdateConfig } from './config.ts';
import type { ReleaseNotes } from './image.ts';
import type { SlotName } from './slots.ts';
import type { UpdateClock } from './update-clock.ts';

/** The image this agent runs. */
import type { DamagedStateSink } from '../storage/index.ts';

export interface RunningImage {
  readonly slot: SlotName;
  readonly version: string;
  readonly securityVersion: number;
  readonly targetSha256?: string;
}

/** What the updater tells its process (the agent prints these as JSON lines for the supervisor). */
export type UpdateEvent =
  | {
      readonly type: 'phase';
      readonly phase: UpdatePhase;
      readonly version?: string;
      /** How, e.g. 'delta from 1.1.0, 15 KiB' or 'full image, 1.0 MiB' while downloading. */
      readonly detail?: string;
    }
  | {
      readonly type: 'decision';
      readonly decision:
        'up-to-date' | 'no-image' | 'found' | 'refused' | 'failed' | 'installed' | 'healthy' | 'rolled-back';
      readonly version?: string;
      readonly code?: string;
      readonly detail?: string;
    };

/** Where a check is. */
export type UpdatePhase = 'idle' | 'checking' | 'downloading' | 'unpacking' | 'switching' | 'restarting';

/** The result of one check. */
export interface CheckOutcome {
  readonly outcome:
    'no-repository' | 'waiting-for-health' | 'up-to-date' | 'no-image' | 'refused' | 'failed' | 'installed' | 'busy';
  readonly version?: string;
  readonly code?: string;
  readonly detail?: string;
}

/** What the admin page and tools show. */
export interface UpdateStatus {
  readonly running: RunningImage;
  readonly repositoryUrl: string | null;
  readonly autoUpdate: boolean;
  readonly postponedUntil: string | null;
  readonly phase: UpdatePhase;
  readonly lastCheck: {
    readonly at: string;
    readonly outcome: CheckOutcome['outcome'];
    readonly code?: string;
    readonly detail?: string;
  } | null;
  readonly latest: { readonly version: string; readonly securityVersion: number; readonly notes?: ReleaseNotes } | null;
  /** The latest support end signed for the model that this unit has seen (YYYY-MM-DD), if any. */
  readonly supportEndsOn: string | null;
  readonly nextCheckAt: string | null;
  readonly securityCounter: number;
}

/** Per-process hooks and settings (the supervisor passes the slot; the agent passes the hooks). */
export interface DeviceUpdateOptions {
  /** The slot this agent was booted from; 'factory' when unsupervised. */
  readonly slot?: SlotName;
  readonly config?: Partial<DeviceUpdateConfig>;
  /** Phases and decisions, as they happen. */
  readonly onEvent?: (event: UpdateEvent) => void;
  /** Called after an install: the process should close and exit so the supervisor boots the new slot. */
  readonly onRestart?: () => void;
  /** Download and unpack progress in bytes. */
  readonly onProgress?: (step: 'download' | 'unpack', done: number, total: number) => void;
}

/** The journal as the updater needs it. */
export interface UpdateJournal {
  record(entry: {
    readonly surface: 'update';
    readonly source: string;
    readonly event: string;
    readonly identity?: string;
    readonly result: 'success' | 'failure' | 'refused' | 'info';
    readonly detail?: string;
  }): void;
}

/** Options of {@link startUpdater}. */
export interface StartUpdaterOptions extends DeviceUpdateOptions {
  readonly stateDir: string;
  /** The unit's model, manufacturer CA and update root (the TUF trust anchor) from its bundle. */
  readonly bundle: {
    /** The unit's model, and when the factory made it (the floor of the time it trusts). */
    readonly unit: { readonly model: string; readonly createdAt?: string };
    readonly caCertPem: string;
    readonly updateRootJson: string;
  };
  readonly journal: UpdateJournal;
  readonly log?: (message: string) => void;
  /** Where an unusable prefs.json or status.json goes (the agent journals it); default `<stateDir>/damaged`. */
  readonly damaged?: DamagedStateSink;
  /**
   * The unit's clock (src/clock's UnitClock): metadata expiry is judged against the later of its wall clock
   * and its floor, and each verified signed timestamp raises the floor. Default: the wall clock alone.
   */
  readonly clock?: UpdateClock;
}

/** What became of an update, as the unit keeps it for the cloud ('healthy': committed after its trial boot). */
export type UpdateOutcomeKind = 'found' | 'downloaded' | 'installed' | 'healthy' | 'rolled-back' | 'refused' | 'failed';

/** One kept outcome; `n` rises with each new outcome (a repeat of the last one keeps its `n` and moves `at`). */
export interface UpdateOutcomeRecord {
  readonly n: number;
  /** When, ms since the epoch. */
  readonly at: number;
  readonly outcome: UpdateOutcomeKind;
  /** The image it concerns (for 'rolled-back': the image abandoned). */
  readonly version?: string;
  readonly code?: string;
  readonly detail?: string;
}

/** Outcomes kept in status.json: as many as one firmware report to the cloud carries. */
export const MAX_KEPT_OUTCOMES = 8;
