/**
 * device.secure-defaults: a fresh unit and the unit after a factory reset are no weaker than the secure-default
 * baseline its model declares (src/models security-baseline.ts), and the unit has no security-relevant setting the
 * baseline leaves out. The settings are read on the unit itself (unit-settings.ts), never taken from the model. Every
 * setting the unit's agent has is placed here: on a baseline setting, or set aside with the reason it is not a
 * default a buyer relies on; a setting placed nowhere (new firmware, a new family) fails the check until it is.
 */
import {
  BASELINE_SETTINGS,
  BASELINE_SETTING_IDS,
  describeBaselineValue,
  isWeaker,
  securityBaselineOf,
  type BaselineSettingId,
  type SecurityBaseline,
} from '../models/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { auditedModel } from './device-info.ts';
import type { Evidence } from './types.ts';
import { unitLaunch } from './unit-launch.ts';
import { freshUnitRun, resetUnitRuns, type UnitRun } from './unit-settings.ts';

/** Where a setting of the unit's agent belongs: a baseline setting, or set aside with its reason. */
export type SettingPlace = BaselineSettingId | { readonly setAside: string };

const aside = (setAside: string): SettingPlace => ({ setAside });
const FILES = aside("where the unit's files are");
const LISTEN = aside('where it listens: the black-box checks probe what answers there');
const FAMILY = aside('a family of settings, each placed under its own name');
const MEMORY = aside('how many records are kept: a memory bound');
const DOWNLOAD = aside('a bound on a download or an image (update.signature-required holds what is installed)');
const TRIAL = aside('the trial of a new image (update.failsafe-slots)');
const JOURNAL_SIZE = aside("the journal's size and flood bounds (config.log-retention, journal.flood-resistant)");
const OWN_COOKIE = aside(
  "the limit on a browser holding the owner's device cookie: a guesser without one meets the address and account " +
    'lockout',
);

/** Every setting of the unit's agent, as 'family.key', and where it belongs. */
export const UNIT_SETTING_PLACES: Readonly<Record<string, SettingPlace>> = Object.freeze({
  'agent.bundleDir': FILES,
  'agent.stateDir': FILES,
  'agent.host': LISTEN,
  'agent.webPort': LISTEN,
  'agent.hubPort': LISTEN,
  'agent.mode': 'debugInterfaces',
  'agent.hub': FAMILY,
  'agent.update': FAMILY,
  'agent.journal': FAMILY,
  'agent.cloudUrl': aside(
    'where the cloud link connects: it trusts only the manufacturer CA (bundle.cloud-trust-anchor)',
  ),
  'agent.cloudEnrolUrl': aside('where the unit enrols: with its factory certificate, to the manufacturer CA alone'),
  'agent.cloudTelemetryIntervalMs': aside('how often readings go to the cloud: not a protection'),
  'agent.driver': aside("the maker's hardware driver: a separate unprivileged process (config.service-unit)"),
  'agent.button': aside("the supervisor's button socket: the same physical button"),
  'agent.webCertificateCheckIntervalMs': aside(
    "how often the web certificate's life is checked (tls.certificate-lifetimes)",
  ),
  'agent.clockReadings': aside('the clocks the unit reads: the system clocks outside tests'),
  'hub.pairing': FAMILY,
  'hub.channel': aside("the hub channel's frame and connection bounds (channel.mutual-tls, build.fuzz-targets)"),
  'hub.telemetryIntervalMs': aside('how often readings go to paired hubs: not a protection'),
  'sessions.idleTimeoutMs': 'sessionIdleMinutes',
  'sessions.absoluteTimeoutMs': 'sessionAbsoluteHours',
  'sessions.maxSessionsPerUser': MEMORY,
  'sessions.maxSessions': MEMORY,
  'sessions.touchIntervalMs': aside('how often activity is written (flash wear), under a quarter of the idle lifetime'),
  'lockout.sourceThreshold': 'lockoutSourceThreshold',
  'lockout.accountThreshold': 'lockoutAccountThreshold',
  'lockout.baseDelayMs': 'lockoutBackoffSeconds',
  'lockout.maxDelayMs': 'lockoutMaxBackoffMinutes',
  'lockout.forgetAfterMs': aside('how long failures are remembered: never less than the longest back-off (refused)'),
  'lockout.maxTrackedSources': MEMORY,
  'lockout.maxTrackedAccounts': MEMORY,
  'deviceCookie.cookieMaxAgeMs': 'trustedBrowserDays',
  'deviceCookie.physicalUnlockMs': 'loginUnlockMinutes',
  'deviceCookie.cookieFailureThreshold': OWN_COOKIE,
  'deviceCookie.cookieLockoutMs': OWN_COOKIE,
  'deviceCookie.cookieForgetAfterMs': OWN_COOKIE,
  'deviceCookie.maxTrackedCookies': MEMORY,
  'pairing.windowMs': 'pairingWindowMinutes',
  'pairing.maxFailures': 'pairingMaxFailures',
  'pairing.exchangeTimeoutMs': aside('how long one pairing exchange may take: a bound'),
  'pairing.maxExchanges': aside('pairing exchanges served at once: a bound'),
  'pairing.maxHubs': MEMORY,
  'pairing.maxIterations': aside(
    "the most key-derivation work a hub does for a setup code: a bound on the hub's effort",
  ),
  'journal.maxAgeDays': 'journalRetentionDays',
  'journal.securityMaxEntries': JOURNAL_SIZE,
  'journal.securityMaxBytes': JOURNAL_SIZE,
  'journal.connectionMaxEntries': JOURNAL_SIZE,
  'journal.connectionMaxBytes': JOURNAL_SIZE,
  'journal.connectionPerSource': JOURNAL_SIZE,
  'journal.securityPerSource': JOURNAL_SIZE,
  'journal.aggregateWindowMs': JOURNAL_SIZE,
  'journal.flushDelayMs': aside('how writes are batched: not a protection'),
  'journal.maxPendingEntries': aside('how writes are batched: not a protection'),
  'journal.expirySweepMs': aside('how often expired entries are purged from the file (they are hidden at once)'),
  'update.autoUpdate': 'automaticUpdates',
  'update.checkIntervalMs': 'updateCheckIntervalHours',
  'update.postponeMs': 'updatePostponeDays',
  'update.repositoryUrl': aside('where updates come from: https, or http on loopback (the firmware refuses others)'),
  'update.checkJitterMs': aside('the random spread of checks across a fleet, at most a day'),
  'update.firstCheckDelayMs': aside('when the first check after a start comes, at most a day (config.auto-update)'),
  'update.tlsTrust': aside('whose certificate the repository shows: images are trusted by TUF signatures either way'),
  'update.idleTimeoutMs': DOWNLOAD,
  'update.metadataDeadlineMs': DOWNLOAD,
  'update.downloadDeadlineBaseMs': DOWNLOAD,
  'update.minDownloadBytesPerSecond': DOWNLOAD,
  'update.maxImageBytes': DOWNLOAD,
  'update.maxUnpackedBytes': DOWNLOAD,
  'update.reservedBytes': aside("the storage an update never takes: room for the owner's data and a reset"),
  'update.maxDeltaImageBytes': DOWNLOAD,
  'update.maxImageEntries': DOWNLOAD,
  'update.maxRootRotations': DOWNLOAD,
  'update.maxTrialBoots': TRIAL,
  'update.healthTimeoutMs': TRIAL,
  'update.restartDelayMs': TRIAL,
});

/** Baseline settings no setting of the agent holds (its state, its fixed TLS profile): read on the unit directly. */
export const SETTINGS_WITHOUT_A_KEY: readonly BaselineSettingId[] = [
  'monitoring',
  'pairingWindowAtStart',
  'webTlsMinVersion',
];

/** Evidence for each baseline setting of one run: what the unit uses, held against the baseline. */
export function runEvidence(run: UnitRun, baseline: SecurityBaseline): Evidence[] {
  return BASELINE_SETTING_IDS.flatMap((id) => {
    const r = run.readings[id];
    if (r === undefined) return [];
    const want = baseline[id];
    const weaker = isWeaker(id, r.value, want);
    const got = describeBaselineValue(id, r.value);
    return [
      {
        sent: `${id} (${BASELINE_SETTINGS[id].title}), ${run.when}: ${r.how}`,
        received: weaker
          ? `WEAKER than the baseline: ${got}, the baseline is ${describeBaselineValue(id, want)}`
          : `${got} (baseline ${describeBaselineValue(id, want)})`,
        finding: weaker,
      },
    ];
  });
}

/** The unit's settings that belong nowhere: security-relevant settings the baseline does not declare. */
export function unplacedSettings(keys: readonly string[]): string[] {
  return [...new Set(keys)].filter((k) => !Object.hasOwn(UNIT_SETTING_PLACES, k)).sort();
}

/** The baseline the audited unit is held to, and whence. */
async function baselineOfUnit(ctx: AuditContext): Promise<{ baseline: SecurityBaseline; evidence: Evidence }> {
  const { model, how } = await auditedModel(ctx);
  const declared = Object.keys(model?.securityBaseline ?? {}).length;
  return {
    baseline: securityBaselineOf(model ?? {}),
    evidence: {
      sent: "the secure-default baseline of the unit's model",
      received:
        model === undefined
          ? `the model is not known (${how}): the toolkit's shipped baseline`
          : `${how}: ${declared} of ${BASELINE_SETTING_IDS.length} settings declared, the others the toolkit's ` +
            'shipped values',
    },
  };
}

/** The baseline settings some run read weaker than the baseline. */
function weakerSettings(runs: readonly UnitRun[], baseline: SecurityBaseline): BaselineSettingId[] {
  return BASELINE_SETTING_IDS.filter((id) =>
    runs.some((r) => r.readings[id] !== undefined && isWeaker(id, r.readings[id].value, baseline[id])),
  );
}

/** The check's verdict over every run. */
function secureDefaultsVerdict(
  evidence: Evidence[],
  runs: readonly UnitRun[],
  baseline: SecurityBaseline,
): CheckOutcome {
  const unread = BASELINE_SETTING_IDS.filter((id) => runs.every((r) => r.readings[id] === undefined));
  const unplaced = unplacedSettings(runs.flatMap((r) => r.settingKeys));
  for (const key of unplaced)
    evidence.push({
      sent: `the unit's setting ${key}`,
      received: 'MISSING from the baseline: neither a baseline setting nor set aside as not security-relevant',
      finding: true,
    });
  for (const id of unread) evidence.push({ sent: `${id} (${BASELINE_SETTINGS[id].title})`, received: 'not read' });
  const weak = weakerSettings(runs, baseline);
  const failing = (): string =>
    [
      weak.length ? `weaker than the baseline: ${weak.join(', ')}` : '',
      unplaced.length ? `missing from the baseline: ${unplaced.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
  if (unread.length > 0 && weak.length === 0 && unplaced.length === 0)
    return notTested(`${unread.join(', ')} could not be read on the unit`, evidence);
  return verdict(
    evidence,
    `a fresh unit and the unit after a factory reset use every one of the ${BASELINE_SETTING_IDS.length} baseline ` +
      'settings at its value or stricter, and every setting of the unit is placed',
    failing,
  );
}

/** `work`'s result, or undefined once `ms` have passed (late work still cleans up after itself when it ends). */
async function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  void work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** device.secure-defaults: a fresh unit and the unit after a reset are no weaker than its model's baseline. */
export async function checkSecureDefaults(ctx: AuditContext): Promise<CheckOutcome> {
  const bundleDir = ctx.inputs.bundleDir;
  if (bundleDir === undefined)
    return notTested("needs --bundle: the auditor boots the unit's firmware on a fresh and a reset copy of its own");
  const { baseline, evidence: whence } = await baselineOfUnit(ctx);
  const launch = await unitLaunch(ctx);
  const { limits, stateDir } = ctx.inputs;
  const runs = await within(
    limits.cloneDeadlineMs,
    (async () => [
      await freshUnitRun(launch, { bundleDir, limits, baseline }),
      ...(await resetUnitRuns(launch, { bundleDir, limits, ...(stateDir !== undefined ? { stateDir } : {}) })),
    ])(),
  );
  if (runs === undefined)
    return notTested(`the unit's fresh and reset copies did not finish within ${limits.cloneDeadlineMs / 1000} s`);
  const evidence: Evidence[] = [
    whence,
    ...runs.map((r) => ({ sent: `the unit, ${r.when}`, received: r.notes.join('; ') })),
    ...runs.flatMap((r) => runEvidence(r, baseline)),
  ];
  return secureDefaultsVerdict(evidence, runs, baseline);
}
