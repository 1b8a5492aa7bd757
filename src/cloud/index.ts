/**
 * The manufacturer's cloud: the device broker (embedded aedes with mutual TLS and a per-device
 * rule, Mosquitto configured by {@link writeBrokerConfig}, or a RabbitMQ cluster configured by
 * {@link writeRabbitmqConfig} and answered by {@link startRabbitmqAuthorizer}), the registry and owner store
 * (SQLite or PostgreSQL), the cloud's own MQTT client, claims that need the sticker's code and
 * the device's button, the owner API `/v1` and the owner web app.
 *
 * @example
 * const cloud = await startCloud({ factoryDir: 'factory', stateDir: 'cloud-state', manifests: ['units/manifest.json'],
 *   broker: { port: 8883 }, api: { port: 9443 } });
 * // devices connect to cloud.brokerUrl; owners use cloud.api.url
 * await cloud.close();
 *
 * @module bulwark/cloud
 */
export { startCloud, openCloudStore, readManifest } from './service.ts';
export type { CloudService, CloudServiceOptions, CloudMosquittoOptions } from './service.ts';
export { startEmbeddedBroker, defaultEmbeddedBrokerConfig, validateEmbeddedBrokerConfig } from './broker.ts';
export type { EmbeddedBroker, EmbeddedBrokerConfig, EmbeddedBrokerOptions, BrokerRefusal } from './broker.ts';
export {
  writeBrokerConfig,
  renderMosquittoConf,
  renderMosquittoAcl,
  defaultMosquittoSettings,
  validateMosquittoSettings,
  renderDynsecSeed,
  renderCrlPathUnit,
  renderCrlReloadService,
  dynsecAdminName,
  dynsecAdminFiles,
  CRL_RELOAD_UNIT,
  CRL_VALIDITY_MS,
} from './broker-config.ts';
export type { MosquittoSettings, MosquittoPaths, WrittenBrokerConfig } from './broker-config.ts';
export {
  writeRabbitmqConfig,
  validateRabbitmqSettings,
  defaultRabbitmqSettings,
  renderRabbitmqConf,
  renderAdvancedConfig,
  renderDefinitions,
  rabbitmqNodeName,
  rabbitmqNodeFiles,
  RABBITMQ_PLUGINS,
} from './rabbitmq-config.ts';
export type {
  RabbitmqSettings,
  RabbitmqNodeSettings,
  RabbitmqPaths,
  RabbitmqNodeFiles,
  WrittenRabbitmqNode,
  WrittenRabbitmqConfig,
} from './rabbitmq-config.ts';
export {
  startRabbitmqAuthorizer,
  answerRabbitmqRequest,
  validateRabbitmqAuthorizerConfig,
  defaultRabbitmqAuthorizerConfig,
} from './rabbitmq-authorizer.ts';
export type {
  RabbitmqAuthorizer,
  RabbitmqAuthorizerConfig,
  RabbitmqAuthorizerOptions,
  RefusalJournal,
} from './rabbitmq-authorizer.ts';
export {
  decideRabbitmqQuestion,
  parseRabbitmqQuestion,
  validateRabbitmqAuthPolicy,
  defaultRabbitmqAuthPolicy,
  mqttSessionQueues,
  topicOfRoutingKey,
} from './rabbitmq-auth.ts';
export type {
  RabbitmqAuthPolicy,
  RabbitmqQuestion,
  RabbitmqDecision,
  RabbitmqRefusal,
  RevokedCommonName,
} from './rabbitmq-auth.ts';
export {
  ensureCloudCredentials,
  certificateIssuer,
  factoryIssuer,
  createTestCa,
  commonNameOf,
  CLOUD_PKI_FILES,
} from './pki.ts';
export type { CloudCredentials, CertificateIssuer, CertificateWithKey, IssueOptions } from './pki.ts';
export { ServiceMqttClient, defaultServiceMqttConfig } from './service-mqtt.ts';
export type { ServiceMqttConfig, ServiceMqttOptions, InboundPublish } from './service-mqtt.ts';
// The MQTT codec, client and URL parser, re-exported whole from their own folder.
export * from '../mqtt/index.ts';
export { DeviceTraffic, defaultIngestConfig } from './ingest.ts';
export type { IngestConfig, IngestCounters } from './ingest.ts';
export { CommandCenter, defaultCommandConfig } from './commands.ts';
export type { CommandConfig } from './commands.ts';
export {
  startOwnerApi,
  defaultOwnerApiConfig,
  validateOwnerApiConfig,
  makerTokenSha256,
  remoteControls,
} from './api.ts';
export { deviceView, modelOf, firmwareText, outcomeText } from './owner-devices.ts';
export {
  Mailer,
  composeMail,
  defaultMailConfig,
  validateMailConfig,
  writeMaildirMessage,
  maildirTransport,
  smtpTransport,
  findMailedLink,
  maildirMessages,
} from './mail.ts';
export type { StoredMail, MailConfig, SmtpConfig, MailKind, MailFacts, OutgoingMail, MailTransport } from './mail.ts';
export { defaultAccountLinkConfig } from './account-links.ts';
export type { AccountLinkConfig } from './account-links.ts';
export { roleMayUse, parseInvitation } from './household.ts';
export type { DeviceRole, DeviceAccess } from './household.ts';
export type { HouseholdRole, HouseholdMemberRecord, NotificationRecord } from './accounts-sql.ts';
export { FIRMWARE_HISTORY } from './firmware-sql.ts';
export {
  REVOCATION_REASONS,
  RevocationError,
  RevocationList,
  normaliseFingerprint,
  parseRevocationRequest,
} from './revocation.ts';
export type { RevocationReason, RevocationRecord, RevocationTarget } from './revocation.ts';
export type { RevokeOutcome, CloneSuspect, RevokedSerialNumber } from './revocation-sql.ts';
export { CloneWatch, defaultCloneDetectionConfig, validateCloneDetectionConfig } from './clone-detection.ts';
export type { CloneDetectionConfig } from './clone-detection.ts';
export { RevocationEnforcer, describeRevocation, DEFAULT_REVOCATION_POLL_MS } from './revocation-enforcer.ts';
export { IssuingAuthority, defaultIssuingConfig, validateIssuingConfig } from './issuing.ts';
export type { IssuingConfig } from './issuing.ts';
export type { IssuingCaRecord, OperationalCertificateRecord } from './issuing-sql.ts';
export { OperationalIdentities, makerOf } from './identities.ts';
export { Enrolment } from './enrolment.ts';
export { writeRevokedIdentity } from './revoked-identity.ts';
export {
  MosquittoRevocation,
  MosquittoRevocationError,
  defaultMosquittoRevocationConfig,
  writeMosquittoCrl,
  signalMosquittoReload,
  mosquittoCrlFile,
  mosquittoTrustFile,
  writeMosquittoTrust,
} from './mosquitto-revocation.ts';
export type {
  MosquittoRevocationConfig,
  MosquittoRevocationErrorCode,
  MosquittoRevocationOptions,
} from './mosquitto-revocation.ts';
export type { RevokedDisconnect, SessionTakeover } from './broker.ts';
export type { OwnerApi, OwnerApiConfig, OwnerApiOptions, OwnerCtx } from './api.ts';
export { telemetryChart } from './app-pages.ts';
export { OwnerApiClient } from './owner-client.ts';
export type { OwnerApiAnswer } from './owner-client.ts';
export { SqlStore, SCHEMA_VERSION } from './sql-store.ts';
export type { SqlDriver, SqlRunner } from './sql-store.ts';
export { openSqliteDriver } from './sqlite-driver.ts';
export type { SqliteOptions } from './sqlite-driver.ts';
export { openPostgresDriver } from './pg-driver.ts';
export type { PostgresOptions } from './pg-driver.ts';
// The store's records and interface: every type store.ts declares.
export type * from './store.ts';
export {
  CloudError,
  CloudConfigError,
  MqttProtocolError,
  MqttConnectionError,
  StoreError,
  ClaimError,
  RateLimitedError,
  NotFoundError,
  AccountError,
  CommandError,
  FactsPublishError,
  AccountStateError,
  RoleError,
  MailError,
} from './errors.ts';
export type { CloudErrorCode } from './errors.ts';
export { openCase, addFacts, recordFix, markSubmitted, craOverview } from './cra-cases.ts';
export type { CraCaseView } from './cra-cases.ts';
export { deadlinesOf, dueReports, addOneMonth, CRA_REPORTS } from './cra-reporting.ts';
export type { CraCaseRecord, CraFacts, CraReportKind, CraDeadline, DueReport } from './cra-reporting.ts';
export { draftReport } from './cra-drafts.ts';
export type { CraDraft } from './cra-drafts.ts';
export { publishAdvisory, checkAdvisory, csafFileStem } from './csaf-provider.ts';
export {
  publishFactsRecord,
  readFactsRecord,
  factsFolder,
  FACTS_DIR,
  FACTS_ROUTE_PREFIX,
  MAX_FACTS_BYTES,
} from './facts-records.ts';
export type { FactsPublishOutcome, FactsRecordParser, FactsRecordFacts } from './facts-records.ts';
export { validateSecurityConfig, defaultSecurityConfig } from './security-config.ts';
export type { SecurityConfig } from './security-config.ts';
export { renderSecurityTxt } from './security-txt.ts';
export type { DisclosureReportRecord, CsafAdvisoryRecord } from './security-sql.ts';
