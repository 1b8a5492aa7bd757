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
 *
 * @module bulwark/hub
 */
export { HubError, type HubErrorCode } from './errors.ts';
export {
  Hub,
  defaultHubConfig,
  parseDeviceAddress,
  initialAccess,
  type HubConfig,
  type HubDeviceView,
  type HubOptions,
  type HubValueEvent,
} from './hub.ts';
export { HubStore, type AutomationRule, type HubDeviceRecord } from './store.ts';
export { crosses, dueRules } from './automations.ts';
export { createHubIdentity, loadOrCreateHubIdentity, selfSignedCertificate, type HubIdentity } from './identity.ts';
export { DeviceLink, LINK_CAPABILITY, type CapabilityState, type DeviceLinkEvents } from './links.ts';
export { startHubService, type HubService, type HubServiceOptions } from './service.ts';
export {
  callHubControl,
  listenForControl,
  runControlOp,
  HUB_CONTROL_SOCKET,
  HUB_CONTROL_LIMITS,
  HUB_CONTROL_OPS,
  type HubControlOp,
} from './control.ts';
export { startHubWeb, defaultHubWebConfig, HUB_INITIAL_PASSWORD_FILE, type HubWeb, type HubWebConfig } from './web.ts';
export { demoHub, type DemoHubOptions, type DemoDeviceAgent, type DemoStartAgent } from './demo.ts';
