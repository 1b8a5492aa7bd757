/**
 * Checks of the published policy: the document `bulwark policy render` makes from the profile
 * (the support period, the disclosure process, the privacy notice, setup guidance and the
 * reasons for every provision not met). Their evidence is what the maker states (its profile, its
 * model, the policy rendered from them), not what the product does: each is "declared" when the
 * statement is there and sound, "fail" when it is missing or broken (a support period over), never
 * "pass".
 */
import { renderPolicy, etsiCoverageFor, DEFAULT_DISCLOSURE_TIMELINES } from '../policy/index.ts';
import type { AuditContext } from './context.ts';
import { declaredVerdict, type CheckOutcome } from './context.ts';
import type { Evidence } from './types.ts';

const documents = new WeakMap<AuditContext, string>();

function policyText(ctx: AuditContext): string {
  let text = documents.get(ctx);
  if (text === undefined) {
    text = renderPolicy(ctx.inputs.profile, ctx.inputs.decision, { format: 'md' });
    documents.set(ctx, text);
  }
  return text;
}

const SENT = 'the policy rendered from the profile (bulwark policy render)';

/** policy.support-period: a support-period end date that has not passed is published. */
export function checkSupportPeriod(ctx: AuditContext): Promise<CheckOutcome> {
  const end = ctx.inputs.profile.supportPeriodEnd;
  const endMs = Date.parse(`${end}T23:59:59Z`);
  const text = policyText(ctx);
  return Promise.resolve(
    declaredVerdict(
      [
        {
          sent: 'supportPeriodEnd in the profile',
          received: endMs > Date.now() ? `${end} (in the future)` : `${end} (passed)`,
          finding: !(endMs > Date.now()),
        },
        {
          sent: SENT,
          received: text.includes(`until at least ${end}`)
            ? `states security updates until at least ${end}`
            : 'does not state the end date',
          finding: !text.includes(`until at least ${end}`),
        },
      ],
      `the maker's policy promises security updates until ${end}`,
      () => 'the support period is missing or over',
    ),
  );
}

/** policy.disclosure: the security contact and the acknowledgement and status-update timelines are published. */
export function checkDisclosurePolicy(ctx: AuditContext): Promise<CheckOutcome> {
  const contact = ctx.inputs.profile.securityContact;
  const text = policyText(ctx);
  const t = DEFAULT_DISCLOSURE_TIMELINES;
  const ack = text.includes(`within ${t.acknowledgeWithinDays} days`);
  const upd = text.includes(`every ${t.statusUpdateEveryDays} days`);
  return Promise.resolve(
    declaredVerdict(
      [
        { sent: 'securityContact in the profile', received: contact ?? 'missing', finding: contact === undefined },
        {
          sent: SENT,
          received:
            `${ack ? 'states' : 'lacks'} the acknowledgement time (${t.acknowledgeWithinDays} days); ` +
            `${upd ? 'states' : 'lacks'} the status-update interval (${t.statusUpdateEveryDays} days)`,
          finding: !ack || !upd,
        },
      ],
      'the policy names the security contact and promises the acknowledgement and status-update timelines',
      () => 'the disclosure policy is incomplete',
    ),
  );
}

/** policy.privacy-notice: sensors, personal data, telemetry and consent are stated. */
export function checkPrivacyNotice(ctx: AuditContext): Promise<CheckOutcome> {
  const p = ctx.inputs.profile;
  const text = policyText(ctx).toLowerCase();
  const section = text.slice(text.indexOf('privacy and sensing'));
  const unnamed = p.sensors.filter((s) => !section.includes(s.replace('-', ' ')) && !section.includes(s));
  const evidence: Evidence[] = [
    {
      sent: `${SENT}: sensors`,
      received:
        p.sensors.length === 0
          ? 'states that there are none'
          : unnamed.length === 0
            ? `names every sensor (${p.sensors.join(', ')})`
            : `does not name ${unnamed.join(', ')}`,
      finding: unnamed.length > 0,
    },
    {
      sent: `${SENT}: personal data`,
      received: section.includes('personal data')
        ? 'states which personal data is kept and how to erase it'
        : 'silent on personal data',
      finding: !section.includes('personal data'),
    },
  ];
  return Promise.resolve(
    declaredVerdict(
      evidence,
      'the policy states every sensor and which personal data is kept, in plain words',
      () => 'the privacy notice is incomplete',
    ),
  );
}

/** policy.setup-guidance: how to set the device up securely and how to check it. */
export function checkSetupGuidance(ctx: AuditContext): Promise<CheckOutcome> {
  const text = policyText(ctx);
  const at = text.indexOf('Setting up securely');
  const section = at < 0 ? '' : text.slice(at, text.indexOf('\n## ', at + 1));
  const models = ctx.inputs.profile.networkModels;
  return Promise.resolve(
    declaredVerdict(
      [
        {
          sent: `${SENT}: setup section`,
          received: at < 0 ? 'missing' : `present, ${section.length} characters for ${models.join(', ')}`,
          finding: at < 0 || section.length < 200,
        },
      ],
      'the policy explains how to set the device up securely and how to check it',
      () => 'setup guidance is missing',
    ),
  );
}

/** policy.coverage-justified: every EN 303 645 provision not met carries a written reason. */
export function checkCoverageJustified(ctx: AuditContext): Promise<CheckOutcome> {
  const coverage = etsiCoverageFor(ctx.inputs.decision);
  const unexplained = coverage.filter(
    (c) => c.verdict.kind !== 'met' && !(c.verdict.reason.length > 0 && !c.verdict.reason.startsWith('no control')),
  );
  const counts = { met: 0, 'not-applicable': 0, 'out-of-scope': 0 };
  for (const c of coverage) counts[c.verdict.kind]++;
  return Promise.resolve(
    declaredVerdict(
      [
        {
          sent: `the ${coverage.length} provisions of EN 303 645 V2.1.1 for this profile`,
          received:
            `${counts.met} met by controls, ${counts['not-applicable']} not applicable and ` +
            `${counts['out-of-scope']} out of scope, each with its reason${
              unexplained.length
                ? `; ` + `${unexplained.length} without a reason (${unexplained.map((c) => c.provision.id).join(', ')})`
                : ''
            }`,
          finding: unexplained.length > 0,
        },
      ],
      'every provision is met, or its reason for not applying is written down',
      () => 'provisions lack a written reason',
    ),
  );
}
