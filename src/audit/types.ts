/**
 * The audit report as data: what each check found (with evidence), how each control and each
 * standard provision stands, and the summary a release pipeline gates on. JSON-safe throughout.
 */
import type {
  CheckId,
  CheckKind,
  ControlId,
  ProvisionRefs,
  Tier,
  DeviceProfile,
  EtsiProvisionId,
  EtsiStatus,
  FrameworkKey,
  PstiRequirementId,
  En18031Part,
  En18031Result,
  En18031Step,
} from '../policy/index.ts';

/**
 * The verdict of one check. 'not-applicable': the check does not concern this target (e.g. no password stored yet).
 * 'declared': the evidence is the maker's own statement (the policy it publishes, its model), which the auditor can
 * read but not test; it is never a pass, and never a failure either.
 */
export type CheckStatus = 'pass' | 'fail' | 'not-applicable' | 'not-tested' | 'declared';

/**
 * The verdict on one control. Required controls are pass, fail, not tested or declared (no check failed or went
 * untested, but at least one rests on the maker's statement); others are not applicable.
 */
export type ControlStatus = 'pass' | 'fail' | 'not-applicable' | 'not-tested' | 'declared';

/** The verdict on one standard provision, derived from its controls. */
export type ProvisionStatus = 'pass' | 'fail' | 'not-tested' | 'declared' | 'not-applicable' | 'out-of-scope';

/** One piece of evidence: what the auditor sent and what came back. Never holds a secret. */
export interface Evidence {
  /** What was sent or read, e.g. 'TLS ClientHello offering only TLSv1 from 127.0.0.50'. */
  readonly sent: string;
  /** What came back or was found, e.g. 'handshake completed: TLSv1 ECDHE-RSA-AES256-SHA'. */
  readonly received: string;
  /** Whether this piece on its own is a finding against the device. */
  readonly finding?: boolean;
}

/** The result of one check. */
export interface CheckResult {
  readonly id: CheckId;
  readonly kind: CheckKind;
  readonly status: CheckStatus;
  /** One sentence: why this status. */
  readonly summary: string;
  readonly evidence: readonly Evidence[];
  /** Wall time the check took, ms. */
  readonly durationMs: number;
}

/** The verdict on one control, from its checks. */
export interface ControlResult {
  readonly id: ControlId;
  readonly title: string;
  readonly statement: string;
  readonly required: boolean;
  /** Why the profile requires it, or why it does not apply. */
  readonly because: readonly string[];
  readonly status: ControlStatus;
  /** One sentence: how the status follows from the checks. */
  readonly summary: string;
  readonly checks: readonly CheckId[];
  readonly provisions: ProvisionRefs;
}

/** How one provision of a standard stands. */
export interface ProvisionResult {
  readonly id: string;
  /** The standard's status notation, e.g. 'M C(1)'. */
  readonly status: EtsiStatus;
  readonly text: string;
  readonly verdict: ProvisionStatus;
  /** The required controls that meet it (empty when not applicable or out of scope). */
  readonly controls: readonly ControlId[];
  /** Why it is not applicable or out of scope, or a caveat on partial coverage. */
  readonly note?: string;
}

/** How one provision of a framework beside ETSI and PSTI stands (NIST IR 8425, CRA, PSA, ioXt). */
export interface FrameworkProvisionResult {
  readonly id: string;
  /** The name the public text uses. */
  readonly name: string;
  readonly text: string;
  readonly verdict: ProvisionStatus;
  /** The required controls that meet it (empty when not applicable or out of scope). */
  readonly controls: readonly ControlId[];
  /** Why it is not applicable or out of scope. */
  readonly note?: string;
}

/** One framework's results: where its names come from and each provision's verdict. */
export interface FrameworkResult {
  readonly title: string;
  readonly source: string;
  readonly provisions: readonly FrameworkProvisionResult[];
}

/** Counts of control verdicts. */
export interface StatusCounts {
  readonly pass: number;
  readonly fail: number;
  readonly notTested: number;
  /**
   * Required controls that rest on the maker's declaration: counted apart, never as a pass. Reports written before
   * this verdict existed lack the key; readers take it as 0.
   */
  readonly declared: number;
  readonly notApplicable: number;
}

/** The optional inputs of an audit: what is not given is not tested. */
export interface AuditInputPaths {
  /** The unit's bundle folder (from the factory). */
  readonly bundle?: string;
  /** The running device's state folder. */
  readonly state?: string;
  /** The batch's manifest.json. */
  readonly manifest?: string;
  /** The firmware's project folder (lint, source scans, SBOM). */
  readonly source?: string;
  /** The device's hub port, host:port (pairing window and channel probes). */
  readonly hub?: string;
  /** The manufacturer's broker, mqtts://host:port (client certificate and identity probes). */
  readonly cloud?: string;
  /** A folder with the certificate and key of an identity the cloud has revoked (device-cert.pem, device-key.pem). */
  readonly revoked?: string;
  /** The update repository folder of the release side (its signed metadata, images, SBOMs and kept audit reports). */
  readonly updateRepo?: string;
  /** The installed systemd unit file of the device service; default: the unit the firmware generates. */
  readonly serviceUnit?: string;
  /** The manufacturer cloud's HTTPS API, https://host:port (security.txt and the disclosure intake). */
  readonly cloudApi?: string;
  /** PEM CA certificate(s) the cloud API's certificate must chain to; without it the certificate is not verified. */
  readonly cloudApiCa?: string;
  /**
   * A maildir where the cloud's messages to the claim probe's test addresses arrive (the cloud's `<state>/mail`
   * when it has no SMTP server): the probe confirms its test accounts with the links, as the cloud requires.
   */
  readonly cloudMail?: string;
}

/** What the audit looked at. Paths as given; no secrets. */
export interface AuditScope extends AuditInputPaths {
  readonly urls: readonly string[];
  /** The firmware image the device runs, as its state folder shows it (the release gate keys reports by it). */
  readonly firmware?: FirmwareIdentity;
  /** What the auditor recognised at the first URL: a Bulwark device, another device, or nothing to probe. */
  readonly targetKind: 'bulwark' | 'other' | 'unreachable' | 'none';
  /** The login mechanism the auditor could drive, or why none. */
  readonly login: string;
  /** Loopback source address per probe family, when the target is on loopback. */
  readonly sourceAddresses?: Readonly<Record<string, string>>;
}

/** A firmware image: the model, its version and security version, and where it runs from. */
export interface FirmwareIdentity {
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  /** 'factory' (the installed runtime) or the A/B slot. */
  readonly slot: string;
  /** SHA-256 of the image's TUF target, for an image installed from the repository. */
  readonly targetSha256?: string;
}

/** The EN 18031 section of a report. Outcomes are apart from the exit code, which the controls decide. */
export interface En18031Section {
  /** The unit's model the facts came from, or why it is not known. */
  readonly model: string;
  /** Whether each part applies, with the step that decided it. */
  readonly parts: readonly {
    readonly part: En18031Part;
    readonly applies: boolean | 'not known';
    readonly because: En18031Step;
  }[];
  /** Every requirement of every part: id, title, part, outcome and the path taken. */
  readonly requirements: readonly En18031Result[];
  readonly summary: {
    readonly pass: number;
    readonly fail: number;
    readonly notApplicable: number;
    readonly notTested: number;
  };
}

/** Format tag of the JSON report. */
export const AUDIT_REPORT_FORMAT = 'bulwark-audit/1';

/** A whole audit. */
export interface AuditReport {
  readonly format: typeof AUDIT_REPORT_FORMAT;
  readonly generatedAt: string;
  readonly durationMs: number;
  readonly tool: { readonly name: 'bulwark'; readonly version: string };
  readonly profile: DeviceProfile;
  readonly tier: Tier;
  readonly reasons: readonly string[];
  readonly scope: AuditScope;
  readonly checks: readonly CheckResult[];
  readonly controls: readonly ControlResult[];
  readonly etsi: readonly (ProvisionResult & { readonly id: EtsiProvisionId })[];
  readonly psti: readonly (ProvisionResult & { readonly id: PstiRequirementId })[];
  /** CRA Annex I and II, NIST IR 8425, PSA Certified and ioXt: each provision's verdict from its controls. */
  readonly frameworks: Readonly<Record<FrameworkKey, FrameworkResult>>;
  /** EN 18031-1, -2 and -3: which parts apply, and each requirement's decision path and outcome. */
  readonly en18031: En18031Section;
  /** Counts over the required controls (notApplicable: controls the profile does not need). */
  readonly summary: StatusCounts & {
    /** True only when no required control failed or went untested (declared ones are not failures). */
    readonly passed: boolean;
    /** The exit code `bulwark audit` returns: see {@link AUDIT_EXIT_CODES}. */
    readonly exitCode: number;
  };
}

/**
 * Exit codes of `bulwark audit`. A release gate treats anything but 0 as "do not ship";
 * 3 tells a pipeline the device may be fine but the evidence is incomplete.
 */
export const AUDIT_EXIT_CODES = Object.freeze({
  /** Every required control passed, or rests on the maker's declaration where no test can reach (counted apart). */
  passed: 0,
  /** At least one required control failed. */
  failed: 1,
  /**
   * (2 is the CLI's code for an error that stopped the audit.) No failure, but some required control was not tested.
   */
  incomplete: 3,
});
