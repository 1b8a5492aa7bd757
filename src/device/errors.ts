/** The device folder's error codes (its error classes live beside the code that throws them). */
import type { CapabilityError } from './capabilities.ts';
import type { ButtonError } from './button.ts';

/** Codes of {@link CapabilityError}. */
export type CapabilityErrorCode = CapabilityError['code'];

/** Codes of {@link ButtonError}. */
export type ButtonErrorCode = ButtonError['code'];

/** Every code the device folder throws. */
export type DeviceErrorCode =
  | CapabilityErrorCode
  | ButtonErrorCode
  | 'DEVICE_CONFIG_INVALID' // ConfigError: a device setting (or `device run` option) is malformed
  | 'DEVICE_UNIT_INVALID' // ConfigError: a systemd unit setting would weaken the service (e.g. User=root)
  | 'DEBUG_INTERFACE_REFUSED' // ConfigError: a production agent started with the Node inspector
  | 'HUB_SURFACE_CONFIG_INVALID' // HubSurfaceError: the hub port's settings
  | 'HUB_SURFACE_LISTEN_FAILED' // HubSurfaceError: the hub port cannot listen (in use, not permitted)
  | 'AGENT_MISSING'; // the supervisor finds no agent entry point
