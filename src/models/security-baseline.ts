/**
 * The secure-default baseline: every security-relevant setting a unit ships with, the value it ships with, and which
 * way is weaker. A model declares its baseline (`securityBaseline`, the settings it wants stricter than the toolkit
 * ships); a setting it leaves out has the toolkit's shipped value, and no setting may be declared weaker than the
 * toolkit's floor. The auditor holds what a fresh unit and a unit after a factory reset really use against the
 * model's baseline (src/audit, check device.secure-defaults). Pure data and pure functions.
 *
 * @example
 *   const baseline = securityBaselineOf(model); // the model's declaration over the shipped values
 *   isWeaker('sessionIdleMinutes', 30, baseline.sessionIdleMinutes); // true: 30 min idle is weaker than 15
 */

/** Every setting of the baseline, in the order reports list them. */
export const BASELINE_SETTING_IDS = [
  'automaticUpdates',
  'updateCheckIntervalHours',
  'updatePostponeDays',
  'debugInterfaces',
  'pairingWindowAtStart',
  'pairingWindowMinutes',
  'pairingMaxFailures',
  'monitoring',
  'journalRetentionDays',
  'sessionIdleMinutes',
  'sessionAbsoluteHours',
  'lockoutSourceThreshold',
  'lockoutAccountThreshold',
  'lockoutBackoffSeconds',
  'lockoutMaxBackoffMinutes',
  'loginUnlockMinutes',
  'trustedBrowserDays',
  'webTlsMinVersion',
] as const;

/** The name of one baseline setting, e.g. 'sessionIdleMinutes'. */
export type BaselineSettingId = (typeof BASELINE_SETTING_IDS)[number];

/** TLS versions, strongest first. */
export const TLS_VERSION_LEVELS = ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1'] as const;

/** The value of every baseline setting: a whole number in the setting's unit, or one of its levels. */
export interface SecurityBaseline {
  readonly automaticUpdates: 'on' | 'off';
  readonly updateCheckIntervalHours: number;
  readonly updatePostponeDays: number;
  readonly debugInterfaces: 'off' | 'on';
  readonly pairingWindowAtStart: 'closed' | 'open';
  readonly pairingWindowMinutes: number;
  readonly pairingMaxFailures: number;
  readonly monitoring: 'on' | 'off';
  readonly journalRetentionDays: number;
  readonly sessionIdleMinutes: number;
  readonly sessionAbsoluteHours: number;
  readonly lockoutSourceThreshold: number;
  readonly lockoutAccountThreshold: number;
  readonly lockoutBackoffSeconds: number;
  readonly lockoutMaxBackoffMinutes: number;
  readonly loginUnlockMinutes: number;
  readonly trustedBrowserDays: number;
  readonly webTlsMinVersion: (typeof TLS_VERSION_LEVELS)[number];
}

/** What a model file may declare: any settings of the baseline, each at least as strong as the toolkit's floor. */
export type SecurityBaselineDeclaration = Partial<SecurityBaseline>;

/** How a setting's values are ordered. */
export type BaselineScale =
  /** A number: more is weaker (a longer session, more attempts). */
  | { readonly kind: 'at-most'; readonly min: number }
  /** A number: less is weaker (a shorter back-off). */
  | { readonly kind: 'at-least'; readonly max: number }
  /** Words, the strongest first. */
  | { readonly kind: 'levels'; readonly levels: readonly string[] };

/** One setting of the baseline: what it is, its shipped value, the weakest value a model may declare, its scale. */
export interface BaselineSettingSpec {
  readonly id: BaselineSettingId;
  /** Its name in the owner's words. */
  readonly title: string;
  /** The unit of a number ('hours', 'attempts'); absent for words. */
  readonly unit?: string;
  /** The value every unit ships with unless its model declares a stricter one. */
  readonly shipped: number | string;
  /** The weakest value a model may declare; a weaker one is refused. */
  readonly floor: number | string;
  readonly scale: BaselineScale;
  /** Why it matters, in one line. */
  readonly why: string;
}

const atMost = (min = 1): BaselineScale => ({ kind: 'at-most', min });
const atLeast = (max: number): BaselineScale => ({ kind: 'at-least', max });
const levels = (...words: string[]): BaselineScale => ({ kind: 'levels', levels: words });

/** The known settings: shipped values are the firmware's defaults (src/auth, src/pairing, src/journal, src/update). */
export const BASELINE_SETTINGS: Readonly<Record<BaselineSettingId, BaselineSettingSpec>> = Object.freeze({
  automaticUpdates: {
    id: 'automaticUpdates',
    title: 'Automatic updates',
    shipped: 'on',
    floor: 'on',
    scale: levels('on', 'off'),
    why: 'most owners never update by hand: only automatic updates reach the fleet',
  },
  updateCheckIntervalHours: {
    id: 'updateCheckIntervalHours',
    title: 'Time between update checks',
    unit: 'hours',
    shipped: 6,
    floor: 24,
    scale: atMost(),
    why: 'a fix reaches a unit no later than its next check',
  },
  updatePostponeDays: {
    id: 'updatePostponeDays',
    title: "How long the owner's postpone holds updates back",
    unit: 'days',
    shipped: 7,
    floor: 30,
    scale: atMost(),
    why: 'a postponed unit runs a known vulnerability until the postpone ends',
  },
  debugInterfaces: {
    id: 'debugInterfaces',
    title: 'Debug interfaces (the Node inspector, REPLs, test hooks)',
    shipped: 'off',
    floor: 'off',
    scale: levels('off', 'on'),
    why: 'a debug interface is a way around every other control',
  },
  pairingWindowAtStart: {
    id: 'pairingWindowAtStart',
    title: 'Pairing window when the unit starts',
    shipped: 'closed',
    floor: 'closed',
    scale: levels('closed', 'open'),
    why: 'only a physical act may open the pairing window',
  },
  pairingWindowMinutes: {
    id: 'pairingWindowMinutes',
    title: 'Pairing window length',
    unit: 'minutes',
    shipped: 5,
    floor: 10,
    scale: atMost(),
    why: 'push-button pairing trusts the first hub inside the window',
  },
  pairingMaxFailures: {
    id: 'pairingMaxFailures',
    title: 'Failed pairing attempts that close the window',
    unit: 'attempts',
    shipped: 20,
    floor: 100,
    scale: atMost(),
    why: 'each attempt is a guess at the setup code',
  },
  monitoring: {
    id: 'monitoring',
    title: 'Connection monitoring (the journal of connection attempts)',
    shipped: 'on',
    floor: 'on',
    scale: levels('on', 'off'),
    why: 'the owner sees attacks only when monitoring is on; the owner may turn it off, a unit never ships it off',
  },
  journalRetentionDays: {
    id: 'journalRetentionDays',
    title: 'Journal retention',
    unit: 'days',
    shipped: 30,
    floor: 365,
    scale: atMost(),
    why: 'the journal holds addresses and identities: it keeps them no longer than it needs',
  },
  sessionIdleMinutes: {
    id: 'sessionIdleMinutes',
    title: 'Admin session idle lifetime',
    unit: 'minutes',
    shipped: 15,
    floor: 60,
    scale: atMost(),
    why: 'a forgotten session on a shared computer is an open door',
  },
  sessionAbsoluteHours: {
    id: 'sessionAbsoluteHours',
    title: 'Admin session absolute lifetime',
    unit: 'hours',
    shipped: 12,
    floor: 24,
    scale: atMost(),
    why: 'a stolen session cookie works until the session ends',
  },
  lockoutSourceThreshold: {
    id: 'lockoutSourceThreshold',
    title: 'Failed logins from one address before it backs off',
    unit: 'attempts',
    shipped: 5,
    floor: 10,
    scale: atMost(),
    why: 'each attempt is a password guess',
  },
  lockoutAccountThreshold: {
    id: 'lockoutAccountThreshold',
    title: 'Failed logins on the account, from all addresses, before new browsers back off',
    unit: 'attempts',
    shipped: 100,
    floor: 1000,
    scale: atMost(),
    why: 'a guesser with many addresses meets this ceiling',
  },
  lockoutBackoffSeconds: {
    id: 'lockoutBackoffSeconds',
    title: 'First back-off after a lockout',
    unit: 'seconds',
    shipped: 30,
    floor: 1,
    scale: atLeast(3_600),
    why: 'the back-off is what makes guessing slow',
  },
  lockoutMaxBackoffMinutes: {
    id: 'lockoutMaxBackoffMinutes',
    title: 'Longest back-off',
    unit: 'minutes',
    shipped: 60,
    floor: 5,
    scale: atLeast(1_440),
    why: 'a persistent guesser is held back this long between guesses',
  },
  loginUnlockMinutes: {
    id: 'loginUnlockMinutes',
    title: 'How long a button press lets a new browser past the account ceiling',
    unit: 'minutes',
    shipped: 5,
    floor: 15,
    scale: atMost(),
    why: 'while it lasts, only the per-address back-off holds a guesser',
  },
  trustedBrowserDays: {
    id: 'trustedBrowserDays',
    title: "Life of a trusted browser's device cookie",
    unit: 'days',
    shipped: 180,
    floor: 400,
    scale: atMost(),
    why: 'a browser that logged in once is let past the account ceiling for this long',
  },
  webTlsMinVersion: {
    id: 'webTlsMinVersion',
    title: 'Oldest TLS version the admin page accepts',
    shipped: 'TLSv1.2',
    floor: 'TLSv1.2',
    scale: levels(...TLS_VERSION_LEVELS),
    why: 'TLS 1.0 and 1.1 have practical attacks',
  },
} satisfies Record<BaselineSettingId, BaselineSettingSpec>);

/** The toolkit's shipped baseline: what a model gets for every setting it does not declare. */
export const SHIPPED_SECURITY_BASELINE: Readonly<SecurityBaseline> = Object.freeze(
  Object.fromEntries(
    BASELINE_SETTING_IDS.map((id) => [id, BASELINE_SETTINGS[id].shipped]),
  ) as unknown as SecurityBaseline,
);

/** True when `id` names a setting of the baseline. */
export function isBaselineSetting(id: string): id is BaselineSettingId {
  return Object.hasOwn(BASELINE_SETTINGS, id);
}

/**
 * True when `value` is weaker than `than` on the setting's scale (equal is not weaker). A word outside the setting's
 * levels, or a value of the wrong type, counts as weaker: an unknown value is never taken for a strong one.
 */
export function isWeaker(id: BaselineSettingId, value: number | string, than: number | string): boolean {
  const { scale } = BASELINE_SETTINGS[id];
  if (scale.kind === 'levels') {
    const rank = scale.levels.indexOf(String(value));
    return rank < 0 || rank > scale.levels.indexOf(String(than));
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return true;
  return scale.kind === 'at-most' ? value > Number(than) : value < Number(than);
}

/** A value in words: '15 minutes', 'on'. */
export function describeBaselineValue(id: BaselineSettingId, value: number | string): string {
  const unit = BASELINE_SETTINGS[id].unit;
  return unit === undefined ? String(value) : `${value} ${unit}`;
}

/** One declared setting a model may not have: where, and why. */
export interface BaselineDeclarationProblem {
  readonly setting: string;
  readonly rule: string;
}

/**
 * The problems of a declaration beyond its shape (the JSON Schema checks types and ranges): each setting declared
 * weaker than the toolkit's floor, naming the setting, its value and the floor.
 */
export function baselineDeclarationProblems(declared: SecurityBaselineDeclaration): BaselineDeclarationProblem[] {
  const out: BaselineDeclarationProblem[] = [];
  for (const [key, value] of Object.entries(declared)) {
    if (!isBaselineSetting(key)) {
      out.push({ setting: key, rule: 'is not a setting of the baseline' });
      continue;
    }
    const spec = BASELINE_SETTINGS[key];
    if (isWeaker(key, value, spec.floor))
      out.push({
        setting: key,
        rule:
          `${describeBaselineValue(key, value)} is weaker than the toolkit's floor ` +
          `(${describeBaselineValue(key, spec.floor)})`,
      });
  }
  return out;
}

/** The baseline a model holds its units to: its declaration over the toolkit's shipped values. */
export function securityBaselineOf(model: {
  readonly securityBaseline?: SecurityBaselineDeclaration;
}): SecurityBaseline {
  return Object.freeze({ ...SHIPPED_SECURITY_BASELINE, ...model.securityBaseline });
}
