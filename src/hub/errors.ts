/** The hub's errors; each carries a stable code. */
import { BulwarkError } from '../errors/index.ts';

/**
 * Thrown by the hub: an unknown device ('HUB_DEVICE_UNKNOWN'), a capability the device's model
 * lacks ('HUB_CAPABILITY_UNKNOWN') or that its access list does not grant
 * ('HUB_CAPABILITY_NOT_GRANTED'), a device not connected now ('HUB_DEVICE_OFFLINE'), a setup
 * code that fails its check digit ('HUB_SETUP_CODE_MALFORMED'), a bad setting
 * ('HUB_CONFIG_INVALID'), an unreadable or insecure state file ('HUB_STATE_CORRUPT',
 * 'HUB_KEY_INSECURE', 'HUB_KEY_INVALID'), no hub running for the control socket
 * ('HUB_NOT_RUNNING') or a malformed control request ('HUB_CONTROL_BAD_REQUEST').
 */
export class HubError extends BulwarkError {}
