/**
 * The words a model may use for its sensors and actuators. They are the device policy's words too
 * (src/policy gives each a risk tier), so a model states what the audit needs once. The shipped JSON
 * Schema lists the same words (index.test.ts checks the two agree).
 */

/** Sensing capabilities a model may declare. */
export const SENSORS = [
  'camera',
  'microphone',
  'location',
  'motion',
  'presence',
  'contact',
  'power-meter',
  'smoke',
  'water-leak',
  'temperature',
  'humidity',
  'light',
  'air-quality',
] as const;
/** A sensing capability of a product. */
export type Sensor = (typeof SENSORS)[number];

/** Physical actuators a model may declare. */
export const ACTUATORS = ['lock', 'heating', 'power', 'motor', 'valve', 'siren', 'light'] as const;
/** Something a product can physically do. */
export type Actuator = (typeof ACTUATORS)[number];
