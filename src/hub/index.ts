/**
 * The local automation hub: pairing (setup code over SPAKE2+, or push button), paired devices
 * and their access lists in SQLite, a pinned mutual-TLS channel to each device, automations,
 * a local HTTPS admin page and a 0600 control socket for the CLI.
 *
 * @example
 * const hub = await startHubService({ stateDir: '/var/lib/bulwark-hub', webPort: 8444 });
 * const lock = await hub.hub.pair({ address: '192.0.2.11:5541', setupCode: '1234-5678-9012' });
 * hub.hub.grant(lock.serial, 'bolt');
 * await hub.hub.call(lock.serial, 'bolt', 'lock');
 */
export { HubError } from './errors.ts';
export { Hub, defaultHubConfig, parseDeviceAddress, initialAccess } from './hub.ts';
export type { HubConfig, HubDeviceView, HubOptions, HubValueEvent } from './hub.ts';
export { HubStore } from './store.ts';
export type { AutomationRule, HubDeviceRecord } from './store.ts';
export { crosses, dueRules } from './automations.ts';
export { createHubIdentity, loadOrCreateHubIdentity, selfSignedCertificate } from './identity.ts';
export type { HubIdentity } from './identity.ts';
export { DeviceLink, LINK_CAPABILITY } from './links.ts';
export type { CapabilityState, DeviceLinkEvents } from './links.ts';
export { startHubService } from './service.ts';
export type { HubService, HubServiceOptions } from './service.ts';
export {
  callHubControl,
  listenForControl,
  runControlOp,
  HUB_CONTROL_SOCKET,
  HUB_CONTROL_LIMITS,
  HUB_CONTROL_OPS,
} from './control.ts';
export type { HubControlOp } from './control.ts';
export { startHubWeb, defaultHubWebConfig, HUB_INITIAL_PASSWORD_FILE } from './web.ts';
export type { HubWeb, HubWebConfig } from './web.ts';
export { demoHub } from './demo.ts';
export type { DemoHubOptions, DemoDeviceAgent, DemoStartAgent } from './demo.ts';
export type { HubErrorCode } from './errors.ts';
