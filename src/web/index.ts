/** The device's HTTPS admin service. */
export { startWebService, defaultWebServiceConfig, ownerMonitoringChoice } from './service.ts';
export { listenHttps, TLS12_CIPHERS } from './https-server.ts';
export type { HttpsListener, HttpsListenOptions } from './https-server.ts';
export type {
  WebService,
  WebServiceOptions,
  WebServiceConfig,
  HttpsSurfaceLimits,
  WebJournal,
  WebJournalEntry,
  WebDeviceControl,
  WebUpdateFile,
  UpdateFileOutcome,
} from './service.ts';
export type { CapabilityView, JournalRow } from './pages.ts';
export type { DashboardCard, DashboardFact } from './dashboard-page.ts';
export type { JournalListOptions } from './journal-page.ts';
export type { OwnerAction } from './device-site.ts';
export { CONTENT_SECURITY_POLICY } from './http.ts';
export {
  Router,
  HttpError,
  parseBody,
  parseCookies,
  hostCookie,
  renderResponse,
  securityHeaders,
  defaultHttpLimits,
  checkSameOrigin,
  requiredField,
} from './http.ts';
export {
  createWebApp,
  serveApp,
  defaultWantsJson,
  journalRecorder,
  answerInternalError,
  PreSessionForms,
  constantTimeEqual,
} from './app.ts';
export type {
  AppRequest,
  RunningSurface,
  SessionPort,
  SurfaceEvent,
  SurfaceJournal,
  WebApp,
  WebAppOptions,
} from './app.ts';
export { renderPage, formMessages, postButton, addStaticRoutes } from './page-shell.ts';
export type { PageShell } from './page-shell.ts';
export type { WebRequest, WebResponse, HttpLimits, Route, RouteAccess, RenderedResponse } from './http.ts';
export { escapeHtml, displayValue } from './page-shell.ts';
export { APP_CSS } from './assets.ts';
export type { PersonView } from './users-pages.ts';
import type * as PeoplePages from './users-pages.ts';

/** The People pages' bodies (the hub's page wraps them too), loaded on first use: the agent does not carry them. */
export const loadPeoplePages = (): Promise<typeof PeoplePages> => import('./users-pages.ts');
