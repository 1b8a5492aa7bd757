/**
 * cloud.claim-window against the deployed cloud, not its library: the auditor registers two test
 * accounts on the owner API (--cloud-api), gives the unit's button a claim press (--state: it opens
 * only the cloud claim window, over the unit's own session; no pairing window, no login unlock),
 * and reads what the cloud does: the label's code before the window opens, a wrong code, the right
 * code, the right code from another account, and wrong codes until the cloud backs off. The
 * cloud's answer to the window-open, which the unit reports, says how long the cloud keeps the
 * window open; the policy bounds it. The unit is released and the accounts deleted afterwards, so
 * the cloud is left as it was found (bar its journal of the probe).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { readBounded } from './files.ts';
import type { Evidence } from './types.ts';
import type { HttpsTarget } from './net.ts';
import type { OwnerApiClient } from '../cloud/index.ts';

/** What the policy allows (the catalogue's cloud.claim-window control). */
export const CLAIM_POLICY = Object.freeze({
  /** Longest claim window the button may open, minutes. */
  maxWindowMinutes: 10,
  /** Most wrong claim codes one account may try before the cloud backs off. */
  maxFailuresPerAccount: 10,
});

/** The unit as the probe needs it: its serial and the manufacturer CA (the owner API's, without --cloud-api-ca). */
export interface ProbedUnit {
  readonly serial: string;
  readonly caPem: string;
}

/** How a probe ended: run, or not run because the unit has an owner or its window was already open. */
type ProbeResult = 'probed' | 'owned' | 'window-open';

/** How long the probe waits for the cloud's answer to a window-open, ms. */
const ANSWER_WAIT_MS = 5_000;

type Client = OwnerApiClient;

/** The claim code printed on the unit's label (label.json in the bundle); undefined when unreadable. */
async function labelClaimCode(ctx: AuditContext): Promise<string | undefined> {
  if (ctx.inputs.bundleDir === undefined) return undefined;
  const f = await readBounded(join(ctx.inputs.bundleDir, 'label.json'), 65_536);
  if (!f.ok) return undefined;
  try {
    const code = (JSON.parse(f.text) as { claimCode?: unknown }).claimCode;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A test account with a random address and password, registered on the owner API, its address confirmed with the
 * link the cloud mailed to `mailDir` (a claim needs a confirmed address), and logged in.
 */
async function testAccount(
  target: HttpsTarget,
  ca: string,
  mailDir: string,
): Promise<{ client: Client; password: string }> {
  const { OwnerApiClient, findMailedLink } = await import('../cloud/index.ts');
  const client = new OwnerApiClient(target.origin, ca, { timeoutMs: 15_000 });
  const password = randomBytes(24).toString('base64url');
  const email = `audit-${randomBytes(6).toString('hex')}@audit.example`;
  const r = await client.register(email, password);
  if (r.status !== 202) throw new Error(`a test account was refused: ${r.status} ${r.error?.code ?? ''}`);
  let link: string | undefined;
  for (let i = 0; i < 50 && link === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    link = await findMailedLink(mailDir, email, '/verify');
  }
  if (link === undefined) throw new Error(`no confirmation message for the test account reached ${mailDir}`);
  const confirmed = await client.confirmAddress(new URL(link).searchParams.get('token') ?? '');
  const login = confirmed.status === 200 ? await client.login(email, password) : confirmed;
  if (login.status !== 200) throw new Error(`the test account was not confirmed: ${said(login)}`);
  return { client, password };
}

/** An answer as evidence text: the status and the error code, if any. */
function said(a: { status: number; error?: { code: string } }): string {
  return `${a.status}${a.error ? ` ${a.error.code}` : ''}`;
}

/**
 * A claim press on the unit's button (its socket in --state: the same hand on the unit, opening only the cloud claim
 * window, no pairing and no login unlock): the unit asks the cloud for the window over its own session and says what
 * the cloud answered. Returns how long the cloud keeps the window open, ms, or why that is not known.
 */
async function pressForWindow(stateDir: string): Promise<{ lengthMs?: number; said: string }> {
  const { pressButton } = await import('../device/index.ts');
  let said: string;
  try {
    said = await pressButton(stateDir, 'claim', ANSWER_WAIT_MS * 2);
  } catch (err) {
    return { said: `the button did not answer: ${(err as Error).message.slice(0, 120)}` };
  }
  const m = /claim window open for (\d+) minutes?(?: (\d+) s)?/.exec(said);
  return m ? { lengthMs: Number(m[1]) * 60_000 + Number(m[2] ?? 0) * 1000, said } : { said };
}

/** Wrong codes from one account until the cloud backs off (429), at most one more than the policy allows. */
async function backOffEvidence(client: Client, serial: string, wrong: string): Promise<Evidence> {
  const most = CLAIM_POLICY.maxFailuresPerAccount + 1;
  for (let n = 1; n <= most; n++) {
    const a = await client.claim(serial, wrong);
    if (a.status === 429)
      return {
        sent: `wrong claim codes from one test account`,
        received: `429 after ${n - 1} failures`,
        finding: false,
      };
  }
  return {
    sent: `wrong claim codes from one test account`,
    received: `no back-off after ${most} failures (the policy allows ${CLAIM_POLICY.maxFailuresPerAccount})`,
    finding: true,
  };
}

/** The probe's steps; a refusal it did not expect is a finding, an error ends the probe with the evidence so far. */
async function probeSteps(
  o: {
    ctx: AuditContext;
    target: HttpsTarget;
    ca: string;
    stateDir: string;
    mailDir: string;
    serial: string;
    code: string;
  },
  evidence: Evidence[],
  cleanup: Array<() => Promise<unknown>>,
): Promise<ProbeResult> {
  const { generateClaimCode, normaliseClaimCode } = await import('../identity/index.ts');
  const step = (what: string, a: { status: number; error?: { code: string } }, want: string): void => {
    evidence.push({ sent: `the deployed cloud's owner API: ${what}`, received: said(a), finding: said(a) !== want });
  };
  const first = await testAccount(o.target, o.ca, o.mailDir);
  cleanup.push(() => first.client.deleteAccount(first.password));
  const serial = o.serial;
  const before = await first.client.claim(serial, o.code);
  if (before.error?.code === 'DEVICE_CLAIMED') return 'owned';
  if (before.status === 201) {
    // Someone pressed the button minutes ago: the window was open, and the test account now holds the unit.
    cleanup.unshift(() => first.client.release(serial));
    return 'window-open';
  }
  step("the label's code, no window open", before, '409 CLAIM_WINDOW_CLOSED');
  const opened = await pressForWindow(o.stateDir);
  const minutes = opened.lengthMs === undefined ? undefined : opened.lengthMs / 60_000;
  evidence.push({
    sent: "a claim press on the unit's button (its socket): the unit asks the cloud for its claim window",
    received:
      minutes === undefined
        ? `no length from the cloud (the unit said: ${opened.said.slice(0, 160)})`
        : `the cloud keeps the window open ${Math.round(minutes * 10) / 10} min (the policy allows ` +
          `${CLAIM_POLICY.maxWindowMinutes})`,
    finding: minutes === undefined || minutes > CLAIM_POLICY.maxWindowMinutes,
  });
  const wrong = normaliseClaimCode(generateClaimCode());
  step('a wrong code inside the window', await first.client.claim(serial, wrong), '403 CLAIM_REFUSED');
  const claimed = await first.client.claim(serial, o.code);
  step("the label's code inside the window", claimed, '201');
  if (claimed.status === 201) cleanup.unshift(() => first.client.release(serial));
  const second = await testAccount(o.target, o.ca, o.mailDir);
  cleanup.push(() => second.client.deleteAccount(second.password));
  step("another account with the label's code", await second.client.claim(serial, o.code), '409 DEVICE_CLAIMED');
  evidence.push(await backOffEvidence(second.client, serial, wrong));
  return 'probed';
}

/**
 * The deployed cloud's claim rules, probed with test accounts; a not-tested reason (a string) when the inputs
 * are missing or the unit already has an owner.
 */
export async function claimProbeEvidence(
  ctx: AuditContext,
  unit: ProbedUnit | undefined,
): Promise<Evidence[] | string> {
  const target = ctx.inputs.cloudApi;
  if (target === undefined)
    return "needs --cloud-api (the cloud's HTTPS API) to probe the deployed cloud's claim rules with a test account";
  const code = await labelClaimCode(ctx);
  if (unit === undefined || code === undefined) return "needs --bundle with the unit's label (its claim code) and CA";
  const stateDir = ctx.inputs.stateDir;
  if (stateDir === undefined) return "needs --state (the unit's button socket) to open its claim window";
  const mailDir = ctx.inputs.cloudMailDir;
  if (mailDir === undefined)
    return "needs --cloud-mail (the maildir where the cloud's mail to the test accounts arrives) to confirm them";
  const evidence: Evidence[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];
  let result: ProbeResult = 'probed';
  try {
    const o = { ctx, target, ca: target.ca ?? unit.caPem, stateDir, mailDir, serial: unit.serial, code };
    result = await probeSteps(o, evidence, cleanup);
  } catch (err) {
    evidence.push({ sent: 'the claim probe', received: (err as Error).message.slice(0, 160), finding: true });
  } finally {
    for (const undo of cleanup) await undo().catch(() => undefined);
  }
  if (result === 'owned')
    return 'the unit already has an owner: the probe needs a unit nobody owns (its owner would lose it)';
  if (result === 'window-open')
    return (
      "the unit's claim window was already open (its button was pressed in the last minutes; the test account " +
      'that claimed it has let it go): audit again once the window has closed'
    );
  return evidence;
}
