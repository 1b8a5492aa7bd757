/**
 * The security policy as code: the control catalogue, the standards it maps to, the device
 * profile (which names its product model, src/models), the decision tree and the rendered
 * policy document. The auditor (src/audit)
 * consumes the catalogue's checks and the decision's required controls.
 *
 * @example
 *   import { loadProfileFile, decide, renderPolicy } from '../policy/index.ts';
 *   const profile = await loadProfileFile('camera.yaml'); // model: camera (or a model file beside it)
 *   const decision = decide(profile);            // tier 3, required controls, reasons
 *   const html = renderPolicy(profile, decision, { format: 'html' });
 */
export { CATALOGUE, CONTROL_IDS, CHECK_IDS, CHECKS, BRIEF_PARTS, findControl, getControl } from './catalogue.ts';
export type {
  Control,
  ControlId,
  Check,
  CheckId,
  CheckKind,
  Applicability,
  ProvisionRefs,
  BriefPart,
  Tier,
} from './catalogue.ts';
export {
  ETSI_PROVISIONS,
  ETSI_PROVISION_IDS,
  ETSI_CONDITIONS,
  ETSI_OUT_OF_SCOPE,
  ETSI_PARTIAL_NOTES,
  findEtsiProvision,
  statusConditions,
  isMandatory,
} from './etsi.ts';
export type { EtsiProvision, EtsiProvisionId, EtsiStatus } from './etsi.ts';
export { PSTI_REQUIREMENTS, PSTI_REQUIREMENT_IDS } from './psti.ts';
export type { PstiRequirement, PstiRequirementId } from './psti.ts';
export { etsiCoverage, pstiCoverage } from './coverage.ts';
export type { ProvisionCoverage, PstiCoverage } from './coverage.ts';
export { CRA_REQUIREMENTS } from './cra.ts';
export type { CraRequirementId } from './cra.ts';
export {
  parseProfile,
  validateProfile,
  DEFAULT_PROFILE_LIMITS,
  NETWORK_MODELS,
  SENSORS,
  ACTUATORS,
} from './profile.ts';
export type { DeviceProfile, ModelResolver, ProfileLimits, NetworkModel, Sensor, Actuator } from './profile.ts';
export {
  decide,
  etsiCoverageFor,
  evaluateApplicability,
  riskFactors,
  SENSOR_TIERS,
  ACTUATOR_TIERS,
  PERSONAL_DATA_TIER,
  INTERNET_EXPOSED_TIER,
  TIER_DESCRIPTIONS,
  NETWORK_MODEL_NAMES,
} from './decide.ts';
export type {
  Decision,
  RequiredControl,
  NotApplicableControl,
  RiskFactor,
  ProvisionVerdict,
  ProductProvisionCoverage,
} from './decide.ts';
export { renderPolicy, buildPolicyDocument, DEFAULT_DISCLOSURE_TIMELINES } from './render.ts';
export type { RenderOptions, DisclosureTimelines } from './render.ts';
export { loadProfileFile, loadExampleProfile, modelResolverFor, writePolicyDocument, EXAMPLE_MODELS } from './load.ts';
export type { ExampleModel } from './load.ts';
export { ProfileError, UnknownExampleError } from './errors.ts';
export type { ProfileErrorCode } from './errors.ts';
