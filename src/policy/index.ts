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
export {
  etsiCoverage,
  pstiCoverage,
  frameworkCoverage,
  nistCoverage,
  craAnnex1Coverage,
  craAnnex2Coverage,
  psaCoverage,
  ioxtCoverage,
} from './coverage.ts';
export type { ProvisionCoverage, PstiCoverage, FrameworkCoverage } from './coverage.ts';
export { CRA_REQUIREMENTS } from './cra.ts';
export type { CraRequirementId } from './cra.ts';
export { FRAMEWORKS, getFramework, referencedIds } from './frameworks.ts';
export type { Framework, FrameworkKey } from './frameworks.ts';
export type { FrameworkProvision } from './framework-types.ts';
export { CRA_ANNEX2_ITEMS, CRA_ANNEX2_ITEM_IDS } from './cra-annex2.ts';
export type { CraAnnex2ItemId } from './cra-annex2.ts';
export { NIST_OUTCOMES, NIST_OUTCOME_IDS } from './nist-ir8425.ts';
export type { NistOutcomeId } from './nist-ir8425.ts';
export { PSA_GOALS, PSA_GOAL_IDS } from './psa.ts';
export type { PsaGoalId } from './psa.ts';
export { IOXT_PRINCIPLES, IOXT_PRINCIPLE_IDS } from './ioxt.ts';
export type { IoxtPrincipleId } from './ioxt.ts';
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
export { withMakerFacts } from './maker-facts.ts';
export type { MakerFacts } from './maker-facts.ts';
export { renderPolicy, buildPolicyDocument, DEFAULT_DISCLOSURE_TIMELINES } from './render.ts';
export type { RenderOptions, DisclosureTimelines } from './render.ts';
export { toHtml } from './document.ts';
export type { DocumentModel, Block, Inline } from './document.ts';
export {
  loadProfileFile,
  loadProfileWithModel,
  loadExampleProfile,
  modelResolverFor,
  writePolicyDocument,
  EXAMPLE_MODELS,
} from './load.ts';
export type { ExampleModel } from './load.ts';
export { ProfileError, UnknownExampleError, FactsRecordError } from './errors.ts';
export type { ProfileErrorCode, FactsErrorCode } from './errors.ts';
export {
  buildFactsRecord,
  parseFactsRecord,
  validateFactsRecord,
  serializeFactsRecord,
  factsRecordPath,
  factsSchema,
  FACTS_SCHEMA_ID,
  FACTS_PATH_PREFIX,
  MAX_FACTS_RECORD_BYTES,
} from './facts.ts';
export type { FactsRecord, FactsInput, FactsReleaseImage } from './facts.ts';
export {
  EN18031_REQUIREMENTS,
  EN18031_FAMILIES,
  EN18031_PARTS,
  EN18031_PART_SCOPES,
  EN18031_FACT_IDS,
  en18031RequirementIds,
  en18031Facts,
} from './en18031.ts';
export type {
  En18031Part,
  En18031Requirement,
  En18031FactId,
  En18031Fact,
  En18031Facts,
  En18031PartScope,
} from './en18031.ts';
export { EN18031_TREES } from './en18031-trees.ts';
export { walkEn18031Tree, answerNode } from './en18031-walk.ts';
export type {
  En18031Tree,
  En18031Node,
  En18031Branch,
  En18031EvidenceRef,
  En18031Evidence,
  En18031EvidenceValue,
  En18031Step,
  En18031Walk,
  En18031Outcome,
  En18031Verdict,
  En18031CheckStatus,
} from './en18031-walk.ts';
export { assessEn18031, en18031PartScopes } from './en18031-assess.ts';
export type { En18031Result, En18031PartResult } from './en18031-assess.ts';
export { buildAssetInventory } from './assets.ts';
export type {
  AssetInventory,
  AssetInventoryInput,
  SecurityAsset,
  NetworkInterface,
  DataAsset,
  PrivacyClass,
  SecurityProperty,
} from './assets.ts';
