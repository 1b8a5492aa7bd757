/**
 * The settings a unit really uses, read on the unit: the auditor boots it as it is launched (unit-launch.ts) on an
 * empty state folder (a fresh unit) and on a copy of its state folder whose button it then holds (the unit after a
 * factory reset), and reads every setting of the secure-default baseline from the running agent: its live state
 * (automatic updates, monitoring, the pairing window, session lifetimes), measurements (the oldest TLS version, the
 * lockout of one address and its back-off, a button press's pairing window, the owner's postpone, the journal's
 * retention), and the configuration the boot gave the agent, as the agent's own validation settles it. Settings the
 * agent takes no configuration for are the firmware's own values. The copies are deleted afterwards.
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceAgent, DeviceAgentConfig } from '../device/index.ts';
import type { BaselineSettingId, SecurityBaseline } from '../models/index.ts';
import { BUNDLE_FILES } from '../bundle/index.ts';
import type { AuditLimits } from './config.ts';
import { AuditError } from './errors.ts';
import { readJsonBounded, walk } from './files.ts';
import { startUnitCopy, type StartedUnit, type UnitLaunch } from './unit-launch.ts';
import * as probe from './unit-probes.ts';

/** One setting as read on the unit: its value in the baseline's unit or words, and how it was read. */
export interface SettingReading {
  readonly value: number | string;
  readonly how: string;
}

/** What one run of the unit showed. */
export interface UnitRun {
  readonly when: 'fresh' | 'after a factory reset' | 'after a factory reset and a restart';
  readonly readings: Partial<Record<BaselineSettingId, SettingReading>>;
  /** Every setting the unit's agent has, as 'family.key' ('sessions.idleTimeoutMs', 'agent.mode'). */
  readonly settingKeys: readonly string[];
  /** What the auditor did and what it could not read. */
  readonly notes: readonly string[];
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Readings of what the running agent uses now: the settings its state decides, which a reset must restore. */
function stateReadings(agent: DeviceAgent): Partial<Record<BaselineSettingId, SettingReading>> {
  const sessions = agent.web.state.sessions.config;
  const live = 'the running agent';
  return {
    automaticUpdates: { value: agent.updater.status().autoUpdate ? 'on' : 'off', how: `${live}: its updater's status` },
    monitoring: { value: agent.journal.monitoring ? 'on' : 'off', how: `${live}: its journal` },
    pairingWindowAtStart: {
      value: agent.hub.pairingStatus().open ? 'open' : 'closed',
      how: `${live}: its hub surface's pairing window`,
    },
    sessionIdleMinutes: { value: sessions.idleTimeoutMs / MINUTE_MS, how: `${live}: its session store` },
    sessionAbsoluteHours: { value: sessions.absoluteTimeoutMs / HOUR_MS, how: `${live}: its session store` },
  };
}

/** Readings of the configuration the boot gave the agent, as the agent's own validation settles it. */
async function configuredReadings(
  config: Partial<DeviceAgentConfig>,
): Promise<Partial<Record<BaselineSettingId, SettingReading>>> {
  const { validateDeviceUpdateConfig } = await import('../update/index.ts');
  const { validatePairingConfig } = await import('../pairing/index.ts');
  const update = validateDeviceUpdateConfig(config.update?.config);
  const pairing = validatePairingConfig(config.hub?.pairing);
  const configured = (what: string): string => `the configuration its boot gave the agent (${what})`;
  return {
    debugInterfaces: {
      value: config.mode === 'development' ? 'on' : 'off',
      how: configured(`mode ${config.mode ?? 'production (the default)'}`),
    },
    updateCheckIntervalHours: {
      value: update.checkIntervalMs / HOUR_MS,
      how: configured(`update checkIntervalMs ${update.checkIntervalMs}`),
    },
    pairingMaxFailures: {
      value: pairing.maxFailures,
      how: configured(`hub pairing maxFailures ${pairing.maxFailures}`),
    },
    ...(await firmwareOwnReadings()),
  };
}

/** The settings the agent takes no configuration for: the firmware's validated defaults are what every unit runs. */
async function firmwareOwnReadings(): Promise<Partial<Record<BaselineSettingId, SettingReading>>> {
  const { validateLockoutConfig, validateDeviceCookieConfig } = await import('../auth/index.ts');
  const lockout = validateLockoutConfig();
  const cookies = validateDeviceCookieConfig();
  const how = (key: string): string => `the firmware's own ${key} (the agent takes no configuration for it)`;
  return {
    lockoutAccountThreshold: { value: lockout.accountThreshold, how: how('lockout accountThreshold') },
    lockoutMaxBackoffMinutes: { value: lockout.maxDelayMs / MINUTE_MS, how: how('lockout maxDelayMs') },
    loginUnlockMinutes: { value: cookies.physicalUnlockMs / MINUTE_MS, how: how('device cookie physicalUnlockMs') },
    trustedBrowserDays: { value: cookies.cookieMaxAgeMs / DAY_MS, how: how('device cookie cookieMaxAgeMs') },
  };
}

/** Every setting the agent has, by family, from the configuration its parts settled and the firmware's own. */
async function settingKeysOf(agent: DeviceAgent, config: Partial<DeviceAgentConfig>): Promise<string[]> {
  const { defaultLockoutConfig, defaultDeviceCookieConfig } = await import('../auth/index.ts');
  const { validatePairingConfig } = await import('../pairing/index.ts');
  const { validateJournalConfig } = await import('../journal/index.ts');
  const { validateDeviceUpdateConfig } = await import('../update/index.ts');
  const { defaultDeviceAgentConfig } = await import('../device/index.ts');
  const families: Array<[string, object]> = [
    ['agent', { ...defaultDeviceAgentConfig, ...config }],
    ['hub', config.hub ?? {}],
    ['sessions', agent.web.state.sessions.config],
    ['lockout', defaultLockoutConfig],
    ['deviceCookie', defaultDeviceCookieConfig],
    ['pairing', validatePairingConfig(config.hub?.pairing)],
    ['journal', validateJournalConfig(config.journal)],
    ['update', validateDeviceUpdateConfig(config.update?.config)],
  ];
  return families.flatMap(([family, o]) => Object.keys(o).map((k) => `${family}.${k}`));
}

/** The unit's clock floor on a fresh start: the newest of the software's build floor and the day the unit was made. */
async function freshClockFloor(bundleDir: string): Promise<number> {
  const { SOFTWARE_TIME_FLOOR } = await import('../clock/index.ts');
  const { value } = await readJsonBounded(join(bundleDir, BUNDLE_FILES.unit.name), 65_536);
  const createdAt = (value as { createdAt?: unknown } | undefined)?.createdAt;
  const made = typeof createdAt === 'string' ? Date.parse(createdAt) : NaN;
  return Math.max(SOFTWARE_TIME_FLOOR.at, Number.isFinite(made) ? made : 0);
}

/** The measured readings of a fresh unit (they change its state: failed logins, a press, a postpone). */
async function measuredReadings(
  agent: DeviceAgent,
  o: { stateDir: string; limits: AuditLimits; baseline: SecurityBaseline; floorMs: number; planted: number[] },
): Promise<{ readings: Partial<Record<BaselineSettingId, SettingReading>>; notes: string[] }> {
  const notes: string[] = [];
  const readings: Partial<Record<BaselineSettingId, SettingReading>> = {};
  readings.journalRetentionDays = await probe.oldestKeptOfPlanted(agent, o.floorMs, o.planted);
  const tls = await probe.oldestTlsAccepted(agent.web.url, o.limits);
  if (tls) readings.webTlsMinVersion = tls;
  else notes.push('the oldest TLS version accepted is not known: an old version could not be offered, or none was');
  const lockout = await probe.lockoutOfOneAddress(agent.web.url, o.limits, o.baseline.lockoutSourceThreshold);
  if (lockout.threshold) readings.lockoutSourceThreshold = lockout.threshold;
  if (lockout.backoff) readings.lockoutBackoffSeconds = lockout.backoff;
  if (lockout.note) notes.push(`lockout: ${lockout.note}`);
  const pairing = await probe.pairingWindowOfAPress(agent, o.stateDir);
  if (pairing) readings.pairingWindowMinutes = pairing;
  else notes.push('a button press did not open the pairing window');
  const postpone = await probe.postponeOfTheOwner(agent);
  if (postpone) readings.updatePostponeDays = postpone;
  return { readings, notes };
}

/** A fresh unit: the firmware booted on an empty state folder (but for a planted journal), read and measured. */
export async function freshUnitRun(
  launch: UnitLaunch,
  o: { bundleDir: string; limits: AuditLimits; baseline: SecurityBaseline },
): Promise<UnitRun> {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-audit-fresh-'));
  const stateDir = join(work, 'state');
  try {
    const floorMs = await freshClockFloor(o.bundleDir);
    const planted = await probe.plantAgedJournal(stateDir, floorMs, o.baseline.journalRetentionDays);
    const { agent, config } = await startUnitCopy(launch, o.bundleDir, stateDir);
    try {
      const state = stateReadings(agent);
      const measured = await measuredReadings(agent, { ...o, stateDir, floorMs, planted });
      return {
        when: 'fresh',
        readings: { ...state, ...(await configuredReadings(config)), ...measured.readings },
        settingKeys: await settingKeysOf(agent, config),
        notes: [`booted on an empty state folder as ${launch.source}`, ...measured.notes],
      };
    } finally {
      await agent.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Copies the state folder but its installed slots and sockets, bounded; the number of files copied, or undefined when
 * it has too many entries.
 */
async function copyState(from: string, to: string, limits: AuditLimits): Promise<number | undefined> {
  const { entries, truncated } = await walk(from, limits.maxStateFiles, 8);
  if (truncated) return undefined;
  await mkdir(to, { mode: 0o700 });
  let copied = 0;
  for (const e of entries) {
    if (e.name === '.' || e.name === 'firmware/slots' || e.name.startsWith('firmware/slots/')) continue;
    if (e.kind === 'dir') await mkdir(join(to, e.name), { recursive: true, mode: 0o700 });
    else if (e.kind === 'file' && e.size <= limits.maxInputFileBytes) {
      await copyFile(e.path, join(to, e.name));
      copied++;
    }
  }
  return copied;
}

/**
 * The unit after a factory reset: the firmware booted on a copy of its state folder (an empty one without --state),
 * its button held, then the settings its state decides read twice: at once, and after the unit starts again (as it
 * does when next powered on), which shows what the product's boot makes of what the reset left.
 */
export async function resetUnitRuns(
  launch: UnitLaunch,
  o: { bundleDir: string; stateDir?: string; limits: AuditLimits },
): Promise<UnitRun[]> {
  const { pressButton } = await import('../device/index.ts');
  const work = await mkdtemp(join(tmpdir(), 'bulwark-audit-reset-'));
  const stateDir = join(work, 'state');
  try {
    const notes = [await stateToReset(o, stateDir)];
    const first = await startUnitCopy(launch, o.bundleDir, stateDir);
    let reset: UnitRun;
    try {
      const answer = await pressButton(stateDir, 'hold');
      notes.push(`booted as ${launch.source}, then held its button: "${answer.slice(0, 160)}"`);
      reset = await stateRun('after a factory reset', first, notes);
    } finally {
      await first.agent.close();
    }
    const again = await startUnitCopy(launch, o.bundleDir, stateDir);
    try {
      return [
        reset,
        await stateRun('after a factory reset and a restart', again, ['booted again on the reset folder']),
      ];
    } finally {
      await again.agent.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The folder the reset runs on: a copy of the unit's state folder, or an empty one; what it is, in words. */
async function stateToReset(o: { stateDir?: string; limits: AuditLimits }, to: string): Promise<string> {
  if (o.stateDir === undefined) {
    await mkdir(to, { mode: 0o700 });
    return 'no --state: the reset was of a fresh unit';
  }
  const copied = await copyState(o.stateDir, to, o.limits);
  if (copied === undefined)
    throw new AuditError('AUDIT_INPUT_UNREADABLE', 'state', `has more than ${o.limits.maxStateFiles} entries`);
  return `copied ${copied} files of the unit's state folder (installed slots left out)`;
}

/** A run of the settings a unit's state decides (the configured and measured ones are the fresh unit's). */
async function stateRun(when: UnitRun['when'], unit: StartedUnit, notes: readonly string[]): Promise<UnitRun> {
  return {
    when,
    readings: stateReadings(unit.agent),
    settingKeys: await settingKeysOf(unit.agent, unit.config),
    notes,
  };
}
