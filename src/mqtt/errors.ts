/** The MQTT client's errors; each carries a stable code. */
import { BulwarkError } from '../errors/index.ts';

/** Stable codes of the MQTT client's errors. */
export type MqttErrorCode =
  | 'MQTT_MALFORMED'
  | 'MQTT_TOO_LARGE' // MqttProtocolError
  | 'MQTT_REFUSED'
  | 'MQTT_CLOSED'
  | 'MQTT_TIMEOUT'
  | 'MQTT_BUSY'
  | 'MQTT_URL_INVALID'; // MqttConnectionError

/**
 * Bytes from a broker that are not MQTT 3.1.1 ('MQTT_MALFORMED'), or a packet over the size limit
 * ('MQTT_TOO_LARGE').
 */
export class MqttProtocolError extends BulwarkError<MqttErrorCode> {}

/**
 * The broker refused or dropped our connection ('MQTT_REFUSED', 'MQTT_CLOSED', 'MQTT_TIMEOUT', 'MQTT_BUSY',
 * 'MQTT_URL_INVALID').
 */
export class MqttConnectionError extends BulwarkError<MqttErrorCode> {}
