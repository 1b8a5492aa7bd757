/**
 * The CRA technical file of one model and version (Regulation (EU) 2024/2847 Art. 13 and Annex VII):
 * the risk register (assets, threats, treating controls with the audit's evidence, residual risk,
 * decision), the Annex I Part I table, the Annex II user information, a draft EU declaration of
 * conformity (Annex V), the product security policy, the audit report, the SBOMs and the security
 * facts record, with index.html and index.json over them (schemas/techfile.v1.schema.json). Builders
 * are pure; load.ts reads the inputs and write.ts writes the folder atomically.
 *
 * @example
 *   import { loadTechnicalFileInput, buildTechnicalFile, writeTechnicalFile, validateTechnicalFile } from './index.ts';
 *   const input = await loadTechnicalFileInput({
 *     model: 'plug', version: '1.2.0', auditReport: 'audit.json', release: 'releases',
 *   });
 *   await writeTechnicalFile('techfile', buildTechnicalFile(input)); // throws, naming the item, on a gap
 *   (await validateTechnicalFile('techfile')).valid; // true
 */
export { buildTechnicalFile } from './technical-file.ts';
export type { TechnicalFile, TechnicalFileInput, SbomInput } from './technical-file.ts';
export { loadTechnicalFileInput, DEFAULT_TECHFILE_INPUT_LIMITS } from './load.ts';
export type { TechfileSources, TechfileInputLimits } from './load.ts';
export { writeTechnicalFile } from './write.ts';
export {
  validateTechnicalFile,
  assertTechnicalFile,
  techfileSchema,
  DEFAULT_TECHFILE_READ_LIMITS,
} from './validate.ts';
export type { TechfileValidation, TechfileReadLimits } from './validate.ts';
export { parseAuditEvidence } from './audit-input.ts';
export type { AuditEvidence } from './audit-input.ts';
export { buildRiskRegister } from './risk-register.ts';
export type { RiskRegister, RiskEntry, RiskDecision } from './risk-register.ts';
export { threatsOf } from './threats.ts';
export type { Threat, RiskLevel, RegisterAsset } from './threats.ts';
export { controlVerdicts } from './verdicts.ts';
export type { ControlVerdict, ControlVerdicts, CheckEvidence } from './verdicts.ts';
export { buildAnnex1Table } from './annex1.ts';
export type { Annex1Row, LinkedControl } from './annex1.ts';
export { buildUserInformation, DOCUMENTATION_POINTS } from './user-information.ts';
export type {
  UserInformation,
  UserInformationPoint,
  UserInformationEntry,
  UserInformationInput,
  SbomReference,
} from './user-information.ts';
export { buildDeclaration, TO_COMPLETE } from './declaration.ts';
export type { DeclarationDraft, DeclarationInput } from './declaration.ts';
export { TECHFILE_SCHEMA_ID, TECHFILE_PATHS } from './index-file.ts';
export type { TechnicalFileIndex, IndexedFile, FileRole } from './index-file.ts';
export { TechfileError } from './errors.ts';
export type { TechfileErrorCode } from './errors.ts';
