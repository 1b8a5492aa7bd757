/**
 * The auditor: proves, control by control, that a product meets the security policy its
 * profile requires, with evidence. White-box checks read the bundle, state, manifest and source;
 * black-box checks probe a running device with bounded, polite traffic (and work on devices not
 * built with Bulwark). What cannot be checked is "not tested", never "pass".
 *
 * @example
 *   import { runAudit, renderAuditHtml, auditExitCode } from 'bulwark/audit';
 *   const report = await runAudit({ profile: 'plug.yaml', urls: [agent.web.url], bundle, state, manifest,
 *     hub: `127.0.0.1:${agent.hub.port}`, cloud: 'mqtts://127.0.0.1:8883', updateRepo: 'releases' });
 *   await writeFile('audit.html', renderAuditHtml(report));
 *   process.exitCode = auditExitCode(report); // 0 when no required control failed or went untested
 *
 *   // A running Bulwark device, everything taken from its agent (the demo):
 * const { report, exitCode } = await auditRunningDevice({ model: 'lock', agent, bundle: unit.dir, state, manifest,
 * cloudUrl, updateRepo });
 *
 * @module bulwark/audit
 */
export { runAudit, auditExitCode } from './run.ts';
export { auditRunningDevice } from './running.ts';
export type { RunningDeviceAudit, RunningAgentView } from './running.ts';
export type { UnitBoot, AgentStart } from './unit-boot.ts';
export { keepReleaseAudit, passesReleaseGate, KEPT_AUDITS_DIR, RELEASE_NOTE_FIELDS } from './update-checks.ts';
export {
  signAttestation,
  verifyAttestation,
  preAuthEncoding,
  AUDIT_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
} from './attestation.ts';
export type { DsseEnvelope, AuditStatement, AttestationVerdict } from './attestation.ts';
export { PARSER_INVENTORY } from './fuzz-inventory.ts';
export type { ParserEntry } from './fuzz-inventory.ts';
export { parseUnitFile, judgeUnit } from './runtime-checks.ts';
export type { AuditOptions } from './run.ts';
export { renderAuditHtml, renderAuditJson, reportAnchor } from './html.ts';
export { writeAuditReports } from './write.ts';
// controlVerdict, evaluateControls, evaluateEtsi, evaluatePsti, countControls, exitCodeFor.
export * from './evaluate.ts';
export { CHECK_RUNNERS } from './registry.ts';
export type { CheckRunner, CheckPhase } from './registry.ts';
export {
  DEFAULT_AUDIT_LIMITS,
  validateAuditLimits,
  DEFAULT_CREDENTIALS,
  DEBUG_PORTS,
  BULWARK_PROTECTED_ROUTES,
  COMMON_ADMIN_PATHS,
  LOGIN_DISCOVERY_PATHS,
  PROBE_FAMILIES,
  LOOPBACK_SOURCE_BASE,
  loopbackSources,
} from './config.ts';
export type { AuditLimits, DefaultCredential, ProbeFamily } from './config.ts';
export { AUDIT_REPORT_FORMAT, AUDIT_EXIT_CODES } from './types.ts';
export type {
  AuditReport,
  AuditScope,
  FirmwareIdentity,
  CheckResult,
  CheckStatus,
  ControlResult,
  ControlStatus,
  Evidence,
  ProvisionResult,
  ProvisionStatus,
  StatusCounts,
} from './types.ts';
export { AuditError } from './errors.ts';
export type { AuditErrorCode } from './errors.ts';
