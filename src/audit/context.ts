/**
 * What every check sees: the resolved inputs, the bounds, the deadline, a way to send one
 * request from a probe family's source address, and the trace of what the auditor already did
 * (cookies seen, its own connection endpoints, the canary passwords it sent), so white-box
 * checks can look for the auditor's own traffic in the device's journal.
 */
import type { Decision, DeviceProfile, CheckId } from '../policy/index.ts';
import type { AuditLimits, ProbeFamily } from './config.ts';
import { httpsExchange, type HttpAnswer, type HttpProbe, type HttpsTarget, type SeenCookie } from './net.ts';
import type { CheckResult, Evidence } from './types.ts';
import type { LoginDiscovery } from './login.ts';
import type { UnitBoot } from './unit-boot.ts';

/** The audit's inputs after validation. */
export interface AuditInputs {
  readonly profile: DeviceProfile;
  readonly decision: Decision;
  /** Every --url, first one the primary target of the full battery. */
  readonly targets: readonly HttpsTarget[];
  readonly bundleDir?: string;
  readonly stateDir?: string;
  readonly manifestPath?: string;
  readonly sourceDir?: string;
  /** The device's hub port, host:port. */
  readonly hub?: string;
  /** The manufacturer broker, mqtts://host:port. */
  readonly cloud?: string;
  /**
   * A folder with `device-cert.pem` and `device-key.pem` of an identity the cloud has revoked:
   * connecting with it must be refused (cloud.revocation-enforced).
   */
  readonly revokedIdentityDir?: string;
  /** The release side's update repository folder (metadata/, targets/, audits/, vulns/). */
  readonly updateRepoDir?: string;
  /** The manufacturer cloud's HTTPS API (security.txt, the disclosure intake), with its CA when given. */
  readonly cloudApi?: HttpsTarget;
  /** The maildir where the cloud's messages to the claim probe's test addresses arrive. */
  readonly cloudMailDir?: string;
  /** The installed systemd unit file of the device service (default: the one the firmware generates). */
  readonly serviceUnitPath?: string;
  readonly limits: AuditLimits;
  /** Source address per probe family (loopback IPv4 targets only). */
  readonly sources?: Readonly<Record<ProbeFamily, string>>;
  /** An SDK product's own boot, to start fresh and reset copies of the unit as the product does (unit-launch.ts). */
  readonly unitBoot?: UnitBoot;
}

/** One answer the auditor received without credentials, kept for the info-disclosure check. */
export interface TracedAnswer {
  readonly family: ProbeFamily;
  readonly request: string;
  readonly status: number;
  readonly headers: HttpAnswer['headers'];
  /** First bytes of the body. */
  readonly bodyStart: string;
}

/** What the auditor has done so far. */
export interface ProbeTrace {
  readonly cookies: Array<SeenCookie & { readonly request: string }>;
  readonly answers: TracedAnswer[];
  /** Random wrong passwords sent; the journal and state must never contain them. */
  readonly canaries: string[];
  /** Local endpoints ('address:port') of the auditor's connections, per family. */
  readonly endpoints: Map<ProbeFamily, Set<string>>;
  /** Set by the lockout probe when the device signalled lockout. */
  lockout?: { readonly attempt: number; readonly localAddress?: string };
  /** Set by the CSRF probe when the device refused the cross-origin request. */
  csrfRefused?: boolean;
  /** Set by the TLS probe when the device refused an old protocol version. */
  oldTlsRefused?: { readonly localAddress?: string };
  /** The login discovery at the primary target (once). */
  login?: LoginDiscovery;
  /** What the hub-port probes saw (hub.pairing-window), for the checks that reason over it. */
  hubProbe?: { readonly pushButton?: string; readonly setupCode?: string };
}

const TRACE_BODY_CHARS = 4_096;
const TRACE_MAX_ANSWERS = 200;

/** The state shared by the checks of one audit. */
export class AuditContext {
  readonly inputs: AuditInputs;
  readonly trace: ProbeTrace = { cookies: [], answers: [], canaries: [], endpoints: new Map() };
  readonly results = new Map<CheckId, CheckResult>();
  readonly deadline: number;
  readonly progress: (message: string) => void;

  constructor(inputs: AuditInputs, progress: (message: string) => void = () => undefined, now = Date.now()) {
    this.inputs = inputs;
    this.deadline = now + inputs.limits.auditDeadlineMs;
    this.progress = progress;
  }

  /** The primary target, when --url was given. */
  get target(): HttpsTarget | undefined {
    return this.inputs.targets[0];
  }

  /** Time left before the deadline, ms. */
  remainingMs(): number {
    return this.deadline - Date.now();
  }

  /** The loopback source address of a family, or undefined (off loopback: the host's own address). */
  sourceFor(family: ProbeFamily): string | undefined {
    return this.target?.loopbackV4 === true ? this.inputs.sources?.[family] : undefined;
  }

  /** ' from 127.0.0.5x' for evidence, or ''. */
  fromText(family: ProbeFamily): string {
    const s = this.sourceFor(family);
    return s === undefined ? '' : ` from ${s}`;
  }

  /** Records a local endpoint of the auditor's connection. */
  noteEndpoint(family: ProbeFamily, local: { address: string; port: number } | undefined): void {
    if (local === undefined || local.address === '') return;
    let set = this.trace.endpoints.get(family);
    if (set === undefined) {
      set = new Set();
      this.trace.endpoints.set(family, set);
    }
    set.add(`${local.address.replace(/^::ffff:/, '')}:${local.port}`);
  }

  /** Sends one request to `target` (default: the primary) from `family`'s source, tracing cookies and answers. */
  async exchange(
    family: ProbeFamily,
    probe: HttpProbe,
    target: HttpsTarget | undefined = this.target,
  ): Promise<HttpAnswer> {
    if (target === undefined) throw new RangeError('no target'); // callers check for a target first
    const localAddress = probe.localAddress ?? this.sourceFor(family);
    const answer = await httpsExchange(
      target,
      { ...probe, ...(localAddress ? { localAddress } : {}) },
      this.inputs.limits,
    );
    this.noteEndpoint(family, answer.local);
    const request = `${probe.method} ${probe.path}`;
    for (const c of answer.cookies) this.trace.cookies.push({ ...c, request });
    if (this.trace.answers.length < TRACE_MAX_ANSWERS && answer.status !== 0) {
      this.trace.answers.push({
        family,
        request,
        status: answer.status,
        headers: answer.headers,
        bodyStart: answer.body.slice(0, TRACE_BODY_CHARS),
      });
    }
    return answer;
  }
}

/** What a check function returns; the registry adds id, kind and timing. */
export interface CheckOutcome {
  readonly status: CheckResult['status'];
  readonly summary: string;
  readonly evidence: readonly Evidence[];
}

/** A check that could not be run, and why. */
export function notTested(summary: string, evidence: readonly Evidence[] = []): CheckOutcome {
  return { status: 'not-tested', summary, evidence };
}

/** True when `validate` accepts a configuration (returns), false when it refuses it (throws). */
export function acceptsConfig(validate: () => unknown): boolean {
  try {
    validate();
    return true;
  } catch {
    return false;
  }
}

/**
 * For a check whose evidence is the maker's own statement (the policy it publishes, its model): "declared" when no
 * piece of evidence is a finding, fail otherwise. A statement read is not a control tested, so it is never a pass.
 */
export function declaredVerdict(
  evidence: readonly Evidence[],
  declaredSummary: string,
  failSummary: (findings: Evidence[]) => string,
): CheckOutcome {
  const outcome = verdict(evidence, declaredSummary, failSummary);
  return outcome.status === 'pass' ? { ...outcome, status: 'declared' } : outcome;
}

/** Pass when no piece of evidence is a finding, fail otherwise, with the given summaries. */
export function verdict(
  evidence: readonly Evidence[],
  passSummary: string,
  failSummary: (findings: Evidence[]) => string,
): CheckOutcome {
  const findings = evidence.filter((e) => e.finding === true);
  return findings.length === 0
    ? { status: 'pass', summary: passSummary, evidence }
    : { status: 'fail', summary: failSummary(findings), evidence };
}
