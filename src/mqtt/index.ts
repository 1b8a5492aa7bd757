/**
 * MQTT 3.1.1, client side: a pure codec (the packets a client sends, a streaming decoder for what
 * a broker sends) and a small client over mutual TLS for the device's cloud link. The cloud's own
 * subscriber (src/cloud/service-mqtt.ts) uses the codec directly for its batched acknowledgements.
 */
export * from './codec.ts';
export { MqttClient, connectMqtt, parseMqttsUrl } from './client.ts';
export type { MqttClientOptions, PublishCallback } from './client.ts';
export { MqttProtocolError, MqttConnectionError } from './errors.ts';
export type { MqttErrorCode } from './errors.ts';
