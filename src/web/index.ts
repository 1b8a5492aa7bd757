/** The device's HTTPS admin service. */
export { startWebService, defaultWebServiceConfig } from './service.ts';
export { listenHttps, TLS12_CIPHERS } from './https-server.ts';
export type { HttpsListener, HttpsListenOptions } from './https-server.ts';
export type { WebService, WebServiceOptions, WebServiceConfig, WebJournal, WebJournalEntry, WebDeviceControl } from './service.ts';
export type { CapabilityView, JournalRow } from './pages.ts';
export { CONTENT_SECURITY_POLICY } from './http.ts';
export {
  Router, HttpError, parseBody, parseCookies, hostCookie, writeResponse, securityHeaders, defaultHttpLimits,
  checkSameOrigin, answerInternalError,
} from './http.ts';
export type { WebRequest, WebResponse, HttpLimits, Route, RouteAccess } from './http.ts';
export { escapeHtml } from './pages.ts';
export { APP_CSS } from './assets.ts';
