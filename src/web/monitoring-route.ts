/**
 * Monitoring the owner can turn off (CRA Annex I Part I 2(l)): one control on the dashboard and
 * its JSON equivalent. The choice is saved atomically in the owner's web state (a factory reset
 * erases it: on again), then applied to the journal, then journalled as a security event the
 * journal keeps either way. What the journal keeps with monitoring off is src/journal's rule.
 */
import { InvalidInputError } from '../errors/index.ts';
import type { Router, WebRequest, WebResponse } from './http.ts';
import { recordOwner, type DeviceCtx, type DeviceSite } from './device-site.ts';

/** The path the dashboard's form posts to. */
export const MONITORING_FORM_PATH = '/settings/monitoring';
/** The JSON API: GET reads the choice, POST `{ "monitoring": "on" | "off" }` changes it. */
export const MONITORING_API_PATH = '/api/settings/monitoring';

/** The journal events of a change, by the new state. */
const EVENTS = { on: 'monitoring-on', off: 'monitoring-off' } as const;

/** The choice a request asks for: 'on' or 'off' (a JSON boolean too); anything else is refused (INVALID_INPUT). */
export function requestedMonitoring(value: unknown): boolean {
  if (value === 'on' || value === true) return true;
  if (value === 'off' || value === false) return false;
  throw new InvalidInputError("field monitoring must be 'on' or 'off'", { field: 'monitoring' });
}

async function changeMonitoring(site: DeviceSite, req: WebRequest): Promise<WebResponse> {
  const on = requestedMonitoring(req.body.monitoring);
  const was = site.state.monitoring;
  await site.state.saveMonitoring(on);
  site.applyMonitoring(on);
  // Journalled even when unchanged: the owner asked, and the journal keeps this event either way.
  const detail =
    was === on
      ? `connection monitoring stays ${on ? 'on' : 'off'}`
      : `connection monitoring turned ${on ? 'on' : 'off'}`;
  recordOwner(site, req, on ? EVENTS.on : EVENTS.off, 'success', detail);
  if (req.wantsJson) return { kind: 'json', body: { ok: true, monitoring: on ? 'on' : 'off' } };
  return { kind: 'redirect', location: '/', notice: `Connection monitoring is now ${on ? 'on' : 'off'}.` };
}

/** The monitoring control: the dashboard's form, and the JSON API's read and change. */
export function addMonitoringRoutes(router: Router<DeviceCtx>, site: DeviceSite): void {
  router.add({
    method: 'POST',
    path: MONITORING_FORM_PATH,
    access: 'session',
    csrf: true,
    handler: (req) => changeMonitoring(site, req),
  });
  router.add({
    method: 'GET',
    path: MONITORING_API_PATH,
    access: 'session',
    csrf: false,
    handler: () => ({ kind: 'json', body: { monitoring: site.state.monitoring ? 'on' : 'off' } }),
  });
  router.add({
    method: 'POST',
    path: MONITORING_API_PATH,
    access: 'session',
    csrf: true,
    handler: (req) => changeMonitoring(site, req),
  });
}
