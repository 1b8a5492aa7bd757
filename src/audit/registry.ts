/**
 * One function per check of the catalogue, and the order they run in. A Record over every
 * CheckId, so a check added to the catalogue does not compile until it has a function here.
 * A check that cannot observe what it needs returns "not tested" with the reason, never a pass.
 */
import { CHECKS, type CheckId } from '../policy/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, type CheckOutcome } from './context.ts';
import type { CheckResult } from './types.ts';
import * as bb from './blackbox.ts';
import * as cred from './credential-checks.ts';
import * as bundle from './bundle-checks.ts';
import * as account from './account-checks.ts';
import * as debug from './debug-checks.ts';
import * as journal from './journal-checks.ts';
import * as build from './build-checks.ts';
import * as pol from './policy-checks.ts';
import * as hub from './hub-checks.ts';
import * as upd from './update-checks.ts';
import * as cloud from './cloud-checks.ts';
import * as ids from './identity-checks.ts';
import * as rt from './runtime-checks.ts';
import * as fz from './fuzz-inventory.ts';
import * as st from './state-checks.ts';
import * as flood from './flood-checks.ts';
import * as sbom from './sbom-checks.ts';
import * as vulns from './vuln-checks.ts';
import * as intake from './disclosure-checks.ts';
import * as baseline from './baseline-checks.ts';
import * as facts from './facts-checks.ts';

/** When a check runs: black-box probes first (lockout last of them), then white-box reads of what they left behind. */
export type CheckPhase = 1 | 2 | 3 | 4 | 5;

/** One check's function and phase. */
export interface CheckRunner {
  /** 1 passive probes, 2 login probes, 3 checks over what the probes saw, 4 white-box, 5 policy. */
  readonly phase: CheckPhase;
  /** Runs the check on what the audit has gathered so far. */
  readonly run: (ctx: AuditContext) => Promise<CheckOutcome>;
}

/** Every check id's runner. */
export const CHECK_RUNNERS: Readonly<Record<CheckId, CheckRunner>> = {
  'tls.versions': { phase: 1, run: bb.checkTlsVersions },
  'tls.ciphers': { phase: 1, run: bb.checkTlsCiphers },
  'tls.unique-certificates': { phase: 1, run: bb.checkUniqueCertificates },
  'http.security-headers': { phase: 1, run: bb.checkSecurityHeaders },
  'http.security-txt': { phase: 1, run: bb.checkSecurityTxt },
  'http.auth-all-routes': { phase: 1, run: bb.checkAuthAllRoutes },
  'http.csrf': { phase: 1, run: bb.checkCsrf },
  'http.input-validation': { phase: 1, run: bb.checkInputValidation },
  'net.debug-ports': { phase: 1, run: debug.checkDebugPorts },
  'login.default-credentials': { phase: 2, run: bb.checkDefaultCredentials },
  'login.lockout': { phase: 2, run: bb.checkLockout },
  'http.cookie-flags': { phase: 3, run: bb.checkCookieFlags },
  'http.info-disclosure': { phase: 3, run: bb.checkInfoDisclosure },
  'hub.pairing-window': { phase: 1, run: hub.checkPairingWindow },
  'channel.mutual-tls': { phase: 1, run: hub.checkChannelMutualTls },
  'cloud.client-isolation': { phase: 1, run: cloud.checkClientIsolation },
  'cloud.claim-window': { phase: 4, run: cloud.checkClaimWindow },
  'tls.certificate-lifetimes': { phase: 4, run: ids.checkCertificateLifetimes },
  'cloud.revocation-enforced': { phase: 1, run: ids.checkRevocationEnforced },
  'cloud.disclosure-intake': { phase: 1, run: intake.checkDisclosureIntake },
  'cloud.facts-record': { phase: 1, run: facts.checkFactsRecord },
  'bundle.unique-credentials': { phase: 4, run: cred.checkUniqueCredentials },
  'bundle.hash-params': { phase: 4, run: cred.checkHashParams },
  'bundle.update-trust-anchor': { phase: 4, run: bundle.checkUpdateTrustAnchor },
  'bundle.cloud-trust-anchor': { phase: 4, run: cloud.checkCloudTrustAnchor },
  'bundle.model-designation': { phase: 4, run: bundle.checkModelDesignation },
  'bundle.secret-file-modes': { phase: 4, run: bundle.checkSecretFileModes },
  'build.lint': { phase: 4, run: build.checkLint },
  'build.sbom': { phase: 4, run: build.checkSbom },
  'build.sbom-complete': { phase: 4, run: sbom.checkSbomComplete },
  'build.known-vulnerabilities': { phase: 4, run: vulns.checkKnownVulnerabilities },
  'build.fuzz-targets': { phase: 4, run: fz.checkFuzzTargets },
  'build.no-hardcoded-secrets': { phase: 4, run: build.checkNoHardcodedSecrets },
  'build.crypto-allowlist': { phase: 4, run: build.checkCryptoAllowList },
  'build.audit-report': { phase: 4, run: upd.checkAuditReport },
  'config.password-policy': { phase: 4, run: account.checkPasswordPolicy },
  'config.lockout': { phase: 4, run: account.checkConfigLockout },
  'config.session': { phase: 4, run: account.checkConfigSession },
  'config.debug-off': { phase: 4, run: debug.checkDebugOff },
  'config.upnp-off': { phase: 4, run: build.checkUpnpOff },
  'config.pairing-mode': { phase: 4, run: hub.checkPairingMode },
  'config.hub-acl': { phase: 4, run: hub.checkHubAcl },
  'config.auto-update': { phase: 4, run: upd.checkAutoUpdate },
  'config.log-retention': { phase: 4, run: journal.checkLogRetention },
  'config.service-unit': { phase: 4, run: rt.checkServiceUnit },
  'config.offline-operation': { phase: 4, run: cloud.checkOfflineOperation },
  'journal.connections': { phase: 4, run: journal.checkJournalConnections },
  'journal.security-events': { phase: 4, run: journal.checkJournalSecurityEvents },
  'journal.redaction': { phase: 4, run: journal.checkJournalRedaction },
  'journal.no-content': { phase: 4, run: journal.checkJournalNoContent },
  'update.signature-required': { phase: 4, run: upd.checkSignatureRequired },
  'update.anti-rollback': { phase: 4, run: upd.checkAntiRollback },
  'update.failsafe-slots': { phase: 4, run: upd.checkFailsafeSlots },
  'update.release-notes': { phase: 4, run: upd.checkReleaseNotes },
  'state.factory-reset': { phase: 4, run: st.checkFactoryReset },
  'state.data-export': { phase: 4, run: st.checkDataExport },
  'device.secure-defaults': { phase: 4, run: baseline.checkSecureDefaults },
  // Last of the device checks: the flood must not disturb what the others read or probe.
  'journal.flood-resistant': { phase: 4, run: flood.checkFloodResistant },
  'policy.support-period': { phase: 5, run: pol.checkSupportPeriod },
  'policy.disclosure': { phase: 5, run: pol.checkDisclosurePolicy },
  'policy.privacy-notice': { phase: 5, run: pol.checkPrivacyNotice },
  'policy.setup-guidance': { phase: 5, run: pol.checkSetupGuidance },
  'policy.coverage-justified': { phase: 5, run: pol.checkCoverageJustified },
};

/** Runs one check with timing; an unexpected exception becomes "not tested", never a pass. */
export async function runCheck(id: CheckId, ctx: AuditContext): Promise<CheckResult> {
  const started = performance.now();
  let outcome: CheckOutcome;
  if (ctx.remainingMs() <= 0) outcome = notTested('the audit deadline passed before this check ran');
  else {
    try {
      outcome = await CHECK_RUNNERS[id].run(ctx);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      outcome = notTested(
        `the check could not run: ${typeof code === 'string' ? code : 'error'}: ` +
          `${(err as Error).message?.slice(0, 200) ?? String(err)}`,
      );
    }
  }
  const result: CheckResult = {
    id,
    kind: CHECKS[id].kind,
    ...outcome,
    durationMs: Math.round(performance.now() - started),
  };
  ctx.results.set(id, result);
  return result;
}

/** The checks to run for a set of controls, in run order (phase, then catalogue order). */
export function checkOrder(ids: Iterable<CheckId>): CheckId[] {
  const unique = [...new Set(ids)];
  const catalogueIndex = (id: CheckId): number => Object.keys(CHECK_RUNNERS).indexOf(id);
  return unique.sort(
    (a, b) => CHECK_RUNNERS[a].phase - CHECK_RUNNERS[b].phase || catalogueIndex(a) - catalogueIndex(b),
  );
}
