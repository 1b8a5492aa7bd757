import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultDeviceCookieConfig, defaultLockoutConfig, defaultSessionConfig } from '../auth/index.ts';
import { defaultDeviceAgentConfig } from '../device/index.ts';
import { defaultJournalConfig } from '../journal/index.ts';
import { BASELINE_SETTING_IDS, SHIPPED_SECURITY_BASELINE, type SecurityBaseline } from '../models/index.ts';
import { defaultPairingConfig } from '../pairing/index.ts';
import { defaultDeviceUpdateConfig } from '../update/index.ts';
import { SETTINGS_WITHOUT_A_KEY, UNIT_SETTING_PLACES, runEvidence, unplacedSettings } from './baseline-checks.ts';
import type { UnitRun } from './unit-settings.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

test("the baseline's shipped values are the firmware's own defaults", () => {
  const firmware: SecurityBaseline = {
    automaticUpdates: defaultDeviceUpdateConfig.autoUpdate ? 'on' : 'off',
    updateCheckIntervalHours: defaultDeviceUpdateConfig.checkIntervalMs / HOUR,
    updatePostponeDays: defaultDeviceUpdateConfig.postponeMs / DAY,
    debugInterfaces: defaultDeviceAgentConfig.mode === 'production' ? 'off' : 'on',
    pairingWindowAtStart: 'closed',
    pairingWindowMinutes: defaultPairingConfig.windowMs / MIN,
    pairingMaxFailures: defaultPairingConfig.maxFailures,
    monitoring: 'on',
    journalRetentionDays: defaultJournalConfig.maxAgeDays,
    sessionIdleMinutes: defaultSessionConfig.idleTimeoutMs / MIN,
    sessionAbsoluteHours: defaultSessionConfig.absoluteTimeoutMs / HOUR,
    lockoutSourceThreshold: defaultLockoutConfig.sourceThreshold,
    lockoutAccountThreshold: defaultLockoutConfig.accountThreshold,
    lockoutBackoffSeconds: defaultLockoutConfig.baseDelayMs / 1_000,
    lockoutMaxBackoffMinutes: defaultLockoutConfig.maxDelayMs / MIN,
    loginUnlockMinutes: defaultDeviceCookieConfig.physicalUnlockMs / MIN,
    trustedBrowserDays: defaultDeviceCookieConfig.cookieMaxAgeMs / DAY,
    webTlsMinVersion: 'TLSv1.2',
  };
  assert.deepEqual({ ...SHIPPED_SECURITY_BASELINE }, firmware);
});

test('every baseline setting is read on the unit: through a setting of its agent, or directly', () => {
  const targets = new Set(Object.values(UNIT_SETTING_PLACES).filter((p) => typeof p === 'string'));
  for (const id of BASELINE_SETTING_IDS)
    assert.ok(targets.has(id) !== SETTINGS_WITHOUT_A_KEY.includes(id), `${id} is read exactly one way`);
});

test("every setting of the firmware's configuration families is placed: on the baseline or set aside", () => {
  const families: Array<[string, object]> = [
    ['agent', defaultDeviceAgentConfig],
    ['sessions', defaultSessionConfig],
    ['lockout', defaultLockoutConfig],
    ['deviceCookie', defaultDeviceCookieConfig],
    ['pairing', defaultPairingConfig],
    ['journal', defaultJournalConfig],
    ['update', defaultDeviceUpdateConfig],
  ];
  const keys = families.flatMap(([f, o]) => Object.keys(o).map((k) => `${f}.${k}`));
  assert.deepEqual(unplacedSettings(keys), []);
  for (const place of Object.values(UNIT_SETTING_PLACES))
    if (typeof place !== 'string') assert.ok(place.setAside.length > 10, 'a setting set aside says why');
});

test('a setting the unit has but nobody placed is named as missing from the baseline', () => {
  assert.deepEqual(unplacedSettings(['sessions.idleTimeoutMs', 'lockout.telnetPassword', 'lockout.telnetPassword']), [
    'lockout.telnetPassword',
  ]);
});

test('a reading weaker than the baseline is a finding naming the setting; an equal or stricter one is not', () => {
  const run: UnitRun = {
    when: 'fresh',
    readings: {
      sessionIdleMinutes: { value: 30, how: 'the running agent' },
      sessionAbsoluteHours: { value: 8, how: 'the running agent' },
      monitoring: { value: 'on', how: 'the running agent' },
    },
    settingKeys: [],
    notes: [],
  };
  const evidence = runEvidence(run, SHIPPED_SECURITY_BASELINE);
  assert.equal(evidence.length, 3);
  const idle = evidence.find((e) => e.sent.startsWith('sessionIdleMinutes '))!;
  assert.equal(idle.finding, true);
  assert.match(idle.received, /^WEAKER than the baseline: 30 minutes, the baseline is 15 minutes$/);
  assert.deepEqual(
    evidence.filter((e) => e.finding !== true).map((e) => e.sent.split(' ')[0]),
    ['monitoring', 'sessionAbsoluteHours'],
  );
});
