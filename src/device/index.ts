/**
 * The device runtime: the agent (listening surfaces, journal, capabilities), its supervisor,
 * and the physical button.
 *
 * @module bulwark/device
 */
export { startDeviceAgent, assertNoDebugInterfaces, firmwareVersion, defaultDeviceAgentConfig } from './agent.ts';
export type { DeviceAgent, DeviceAgentConfig } from './agent.ts';
export { superviseAgent, agentEntry, AGENT_NODE_FLAGS, AGENT_ENV } from './supervisor.ts';
export type { SupervisorOptions } from './supervisor.ts';
export { pressButton, listenForButton, BUTTON_SOCKET, ButtonError } from './button.ts';
export { installUpdateFile, describeFileInstall, type InstallUpdateFileOptions } from './file-update.ts';
export type { ButtonGesture } from './button.ts';
export { DeviceCapabilities, CapabilityError, type UnitHardware, type CapabilityValue } from './capabilities.ts';
export { DriverHardware, type DriverTarget, type DriverHardwareEvents } from './driver-hardware.ts';
export { startHubSurface, defaultHubSurfaceConfig, HubSurfaceError, LINK_CAPABILITY } from './hub-surface.ts';
export type { HubSurface, HubSurfaceConfig, HubSurfaceOptions, PairedHub } from './hub-surface.ts';
export {
  renderSystemdUnit,
  renderSystemdUnits,
  driverSocketPath,
  SYSTEMD_HARDENING,
  DRIVER_HARDENING,
  DRIVER_UNIT_DEFAULTS,
  AGENT_UNIT_NAME,
} from './systemd-unit.ts';
export type { SystemdUnitOptions, SystemdUnitFile, DriverUnitOptions } from './systemd-unit.ts';
export {
  runtimeDebugEvidence,
  agentLaunchEvidence,
  debugFlagsOf,
  deviceModeOf,
  DEVICE_MODE_VARIABLE,
  OWNER_DATA_FILES,
  KEPT_AFTER_FACTORY_RESET,
} from './evidence.ts';
export type { RuntimeDebugEvidence } from './evidence.ts';
export type { DeviceErrorCode, CapabilityErrorCode, ButtonErrorCode } from './errors.ts';
