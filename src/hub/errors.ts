/** The hub's errors; each carries a stable code. */
import { BulwarkError } from '../errors/index.ts';

/** Stable codes of the hub's own errors. */
export type HubErrorCode =
  | 'HUB_DEVICE_UNKNOWN'
  | 'HUB_CAPABILITY_UNKNOWN'
  | 'HUB_ACTION_UNKNOWN'
  | 'HUB_MODEL_UNKNOWN'
  | 'HUB_MODEL_INVALID'
  | 'HUB_CAPABILITY_NOT_GRANTED'
  | 'HUB_DEVICE_OFFLINE'
  | 'HUB_ADDRESS_INVALID'
  | 'HUB_SETUP_CODE_MALFORMED'
  | 'HUB_CONFIG_INVALID'
  | 'HUB_STATE_CORRUPT'
  | 'HUB_KEY_INSECURE'
  | 'HUB_KEY_INVALID'
  | 'HUB_CLOSED'
  | 'HUB_NOT_RUNNING'
  | 'HUB_CONTROL_BAD_REQUEST'
  | 'HUB_CONTROL_BAD_ANSWER'
  | 'HUB_CONTROL_TIMEOUT'
  | 'HUB_CONTROL_PATH_TAKEN'
  | 'HUB_INTERNAL';

/**
 * A literal code must be the hub's own; a code held in a string passes as is (the control socket's
 * client relays the code the hub threw, e.g. 'PAIRING_WINDOW_CLOSED').
 */
type OwnOrRelayed<C extends string> = string extends C ? string : HubErrorCode;

/**
 * Thrown by the hub: an unknown device ('HUB_DEVICE_UNKNOWN'), a capability the device's model
 * lacks ('HUB_CAPABILITY_UNKNOWN'), a model document a pairing device gave that is not a valid
 * model or names another model than the device announced ('HUB_MODEL_INVALID'), or that its access list does not grant
 * ('HUB_CAPABILITY_NOT_GRANTED'), a device not connected now ('HUB_DEVICE_OFFLINE'), a setup
 * code that fails its check digit ('HUB_SETUP_CODE_MALFORMED'), a bad setting
 * ('HUB_CONFIG_INVALID'), an unreadable or insecure state file ('HUB_STATE_CORRUPT',
 * 'HUB_KEY_INSECURE', 'HUB_KEY_INVALID'), no hub running for the control socket
 * ('HUB_NOT_RUNNING') or a malformed control request ('HUB_CONTROL_BAD_REQUEST').
 */
export class HubError<C extends string = HubErrorCode> extends BulwarkError<C> {
  /** `code` is one of {@link HubErrorCode}, or a code held in a string (relayed from the control socket). */
  constructor(
    code: C & OwnOrRelayed<C>,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, details, options);
  }
}
