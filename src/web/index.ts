/** The device's HTTPS admin service. */
export { startWebService, defaultWebServiceConfig, TLS12_CIPHERS } from './service.ts';
export type { WebService, WebServiceOptions, WebServiceConfig, WebJournal, WebJournalEntry, WebDeviceControl } from './service.ts';
export type { CapabilityView, JournalRow } from './pages.ts';
export { CONTENT_SECURITY_POLICY } from './http.ts';
