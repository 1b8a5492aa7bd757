/**
 * Identity (factory side): the manufacturer CA, per-unit keys and certificates, random
 * passwords, setup and claim codes, stickers, and the batch manifest. Also the one place
 * certificates are made: the cloud's (issued by the CA) and the hub's (self-signed, pinned key).
 *
 * @example
 * await initFactory('/secure/factory');
 * const units = await provisionUnits({ factoryDir: '/secure/factory', model: 'plug', count: 10, outDir: 'out' });
 *
 * @module bulwark/factory
 */
export {
  initFactory,
  loadFactory,
  provisionUnits,
  refuseWeakeningOptions,
  factoryCaCertPath,
  FactoryError,
  FACTORY_FORMAT,
  MANIFEST_FORMAT,
  MAX_BATCH,
  UPDATE_KEYS_DIR,
  defaultFactorySettings,
} from './factory.ts';
export type {
  FactoryConfig,
  Factory,
  InitFactoryOptions,
  ProvisionOptions,
  ProvisionedUnit,
  Manifest,
  ManifestUnit,
} from './factory.ts';
export {
  generateAdminPassword,
  generateClaimCode,
  generateSetupCode,
  generateSerial,
  hashClaimCode,
  normaliseClaimCode,
  isWellFormedSetupCode,
  normaliseSetupCode,
  SERIAL_PATTERN,
  ADMIN_PASSWORD_BITS,
  CLAIM_CODE_BITS,
  READABLE_ALPHABET,
} from './codes.ts';
export {
  stickerUri,
  parseStickerUri,
  renderStickerSvg,
  renderStickerPng,
  renderQrCodeSvg,
  MAX_QR_TEXT_CHARS,
} from './sticker.ts';
export type { StickerPayload, StickerContent } from './sticker.ts';
export {
  certificateFingerprint,
  createCertificateAuthority,
  createPinnedKeyCertificate,
  createCertificateRequest,
  issueFromRequest,
  CertificateRequestError,
  createRevocationList,
  readRevocationList,
  MAX_REVOCATION_LIST_ENTRIES,
  createWebCertificate,
  issueClientCertificate,
  issueServerCertificate,
  loadCaSigner,
  LOOPBACK_NAMES,
  renewWebCertificate,
  WEB_CERTIFICATE_DAYS,
} from './certificates.ts';
export type {
  CaSigner,
  CrlReason,
  IssuedCertificate,
  CertificateRequest,
  IssuedForRequest,
  IssueCertificateOptions,
  RevocationListContents,
  RevocationListEntry,
  ValidityOptions,
} from './certificates.ts';
export type { IdentityErrorCode, FactoryErrorCode } from './errors.ts';
