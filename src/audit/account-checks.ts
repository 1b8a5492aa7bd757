/**
 * Checks of the firmware's account protection, white-box: lockout, session lifetimes and the
 * password policy, each from the firmware's defaults and its validation refusing a looser value.
 */
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { acceptsConfig, notTested, verdict, type CheckOutcome } from './context.ts';
import { isBulwark, NOT_BULWARK_CONFIG, readUnitRecord } from './device-info.ts';
import { readBounded } from './files.ts';
import type { Evidence } from './types.ts';

/** config.lockout: lockout per source and account with back-off, and no configuration can switch it off. */
export async function checkConfigLockout(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_CONFIG);
  const { defaultLockoutConfig: c, validateLockoutConfig, parseLockoutState } = await import('../auth/index.ts');
  const refuses = (partial: Record<string, number>): boolean => !acceptsConfig(() => validateLockoutConfig(partial));
  const evidence: Evidence[] = [
    {
      sent: "the firmware's lockout defaults",
      received:
        `${c.sourceThreshold} failures per source, ${c.accountThreshold} per account, back-off ` +
        `${c.baseDelayMs / 1000} s doubling to ${c.maxDelayMs / 1000} s`,
      finding: c.sourceThreshold > 10 || c.baseDelayMs < 1_000,
    },
    {
      sent: 'a configuration that disables lockout (sourceThreshold 1000, baseDelayMs 0)',
      received: refuses({ sourceThreshold: 1_000 }) && refuses({ baseDelayMs: 0 }) ? 'refused' : 'accepted',
      finding: !(refuses({ sourceThreshold: 1_000 }) && refuses({ baseDelayMs: 0 })),
    },
  ];
  if (ctx.inputs.stateDir !== undefined) {
    const f = await readBounded(join(ctx.inputs.stateDir, 'web', 'lockout.json'), 4 * 1_048_576);
    if (f.ok) {
      let ok = true;
      try {
        parseLockoutState(f.text);
      } catch {
        ok = false;
      }
      evidence.push({
        sent: 'read web/lockout.json in the state folder',
        received: ok ? 'valid lockout counters (persist across restarts)' : 'unreadable counters',
        finding: !ok,
      });
    }
  }
  return verdict(
    evidence,
    'lockout with back-off is on per source and per account, and configuration cannot switch it off',
    () => 'lockout is weak or can be switched off',
  );
}

/** config.session: sessions have bounded idle and absolute lifetimes. */
export async function checkConfigSession(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_CONFIG);
  const { defaultSessionConfig: s, validateSessionConfig } = await import('../auth/index.ts');
  const unbounded = acceptsConfig(() => validateSessionConfig({ idleTimeoutMs: 30 * 86_400_000 }));
  const evidence: Evidence[] = [
    {
      sent: "the firmware's session defaults",
      received:
        `idle ${s.idleTimeoutMs / 60_000} min, absolute ${s.absoluteTimeoutMs / 3_600_000} h, ` +
        `${s.maxSessionsPerUser} per user`,
      finding: s.idleTimeoutMs > 3_600_000 || s.absoluteTimeoutMs > 86_400_000,
    },
    {
      sent: 'a configuration with a 30-day idle timeout',
      received: unbounded ? 'accepted' : 'refused',
      finding: unbounded,
    },
  ];
  return verdict(
    evidence,
    'sessions end after 15 minutes idle and 12 hours at most, and longer lifetimes cannot be configured',
    () => 'session lifetimes are unbounded or too long',
  );
}

/** config.password-policy: minimum length and strength, serial/model/common passwords refused. */
export async function checkPasswordPolicy(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_CONFIG);
  const { passwordPolicyRules: r, checkPasswordStrength } = await import('../auth/index.ts');
  const unit = await readUnitRecord(ctx);
  const serial = typeof unit?.serial === 'string' ? unit.serial : 'PLG-7KQ2M9XW4T';
  const model = typeof unit?.modelName === 'string' ? unit.modelName : ctx.inputs.profile.model;
  const inputs = { userInputs: [serial, model, 'admin'] };
  const trials: Array<[string, string, boolean]> = [
    ['a common password (Password1234)', 'Password1234', false],
    ['the serial number with a suffix', `${serial}!2024`, false],
    ['the model name with a suffix', `${model.replace(/\s+/g, '')}Admin99`, false],
    ['a random 16-character password (control)', 'qv7-Lm2x-Tr9p-Wk4z', true],
  ];
  const evidence: Evidence[] = [
    {
      sent: "the firmware's password rules",
      received:
        `at least ${r.minLength} characters, strength score ${r.minScore}/4, the ${r.commonPasswordCount} ` +
        `most common passwords refused`,
      finding: r.minLength < 12 || r.minScore < 3,
    },
  ];
  for (const [what, pw, expected] of trials) {
    const verdictOf = await checkPasswordStrength(pw, inputs);
    evidence.push({
      sent: `strength check of ${what}`,
      received: verdictOf.ok ? 'accepted' : `refused (${verdictOf.reasons.map((x) => x.code).join(', ')})`,
      finding: verdictOf.ok !== expected,
    });
  }
  evidence.push({
    sent: 'changing the password',
    received:
      'the change form asks for the current password (enforced by the admin service; not observable without the ' +
      "owner's credentials, see http.auth-all-routes for its protection)",
  });
  return verdict(
    evidence,
    `passwords need ${r.minLength}+ characters and strength ${r.minScore}/4; common, serial- and model-based ` +
      `passwords are refused`,
    () => 'the password policy lets weak passwords through',
  );
}
