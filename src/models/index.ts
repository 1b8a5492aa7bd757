/**
 * The model catalogue: what each product model can do and how risky it is. The factory, the
 * device agent, the hub and the policy all read it from here, so "a lock refuses push-button
 * pairing" is a fact stated once.
 */
import { BulwarkError } from '../errors/index.ts';

/** How much harm a compromised unit can do; decides pairing and initial-password rules. */
export type RiskClass = 'standard' | 'lock' | 'camera' | 'microphone';

/** How the first password is established. */
export type InitialPasswordMode = 'sticker' | 'setup';

/** A control or reading a model exposes. `sensitive` ones need an explicit grant on a hub. */
export interface Capability {
  readonly id: string;
  readonly kind: 'switch' | 'level' | 'lock' | 'reading' | 'snapshot';
  readonly actions: readonly string[];
  readonly sensitive?: boolean;
  readonly unit?: string;
  readonly description: string;
}

/** One product model. */
export interface ModelSpec {
  readonly id: string;
  readonly name: string;
  /** Short uppercase code used in serial numbers. */
  readonly serialPrefix: string;
  readonly riskClass: RiskClass;
  readonly capabilities: readonly Capability[];
  readonly sensors: readonly string[];
  readonly actuators: readonly string[];
  readonly initialPasswordMode: InitialPasswordMode;
}

/** Stable codes of the models folder's errors. */
export type ModelsErrorCode = 'MODEL_UNKNOWN';

/** Thrown when a model id is not in the catalogue. */
export class UnknownModelError extends BulwarkError<ModelsErrorCode> {
  constructor(model: string) {
    super('MODEL_UNKNOWN', `unknown model '${model}'; known models: ${MODEL_IDS.join(', ')}`, { model });
  }
}

const power: Capability = {
  id: 'power',
  kind: 'switch',
  actions: ['on', 'off', 'toggle', 'get'],
  description: 'Switches the load on or off',
};

const MODELS: readonly ModelSpec[] = [
  {
    id: 'plug',
    name: 'Smart Plug',
    serialPrefix: 'PLG',
    riskClass: 'standard',
    capabilities: [
      power,
      { id: 'energy', kind: 'reading', actions: ['get'], unit: 'W', description: 'Power drawn by the load' },
    ],
    sensors: ['power-meter'],
    actuators: ['power'],
    initialPasswordMode: 'sticker',
  },
  {
    id: 'bulb',
    name: 'Smart Bulb',
    serialPrefix: 'BLB',
    riskClass: 'standard',
    capabilities: [
      power,
      { id: 'brightness', kind: 'level', actions: ['set', 'get'], unit: '%', description: 'Brightness from 0 to 100' },
    ],
    sensors: [],
    actuators: ['light'],
    initialPasswordMode: 'sticker',
  },
  {
    id: 'lock',
    name: 'Smart Door Lock',
    serialPrefix: 'LCK',
    riskClass: 'lock',
    capabilities: [
      {
        id: 'bolt',
        kind: 'lock',
        actions: ['lock', 'unlock', 'get'],
        sensitive: true,
        description: 'Throws or withdraws the bolt',
      },
    ],
    sensors: ['contact'],
    actuators: ['lock'],
    initialPasswordMode: 'sticker',
  },
  {
    id: 'sensor',
    name: 'Climate Sensor',
    serialPrefix: 'SNS',
    riskClass: 'standard',
    capabilities: [
      { id: 'temperature', kind: 'reading', actions: ['get'], unit: '°C', description: 'Air temperature' },
      { id: 'humidity', kind: 'reading', actions: ['get'], unit: '%', description: 'Relative humidity' },
    ],
    sensors: ['temperature', 'humidity'],
    actuators: [],
    initialPasswordMode: 'sticker',
  },
  {
    id: 'camera',
    name: 'Indoor Camera',
    serialPrefix: 'CAM',
    riskClass: 'camera',
    capabilities: [
      { id: 'snapshot', kind: 'snapshot', actions: ['get'], sensitive: true, description: 'Takes a still picture' },
      {
        id: 'privacy',
        kind: 'switch',
        actions: ['on', 'off', 'get'],
        description: 'Privacy shutter: no capture while on',
      },
    ],
    sensors: ['camera', 'microphone'],
    actuators: [],
    initialPasswordMode: 'setup',
  },
];

/** Ids of every model in the catalogue. */
export const MODEL_IDS: readonly string[] = MODELS.map((m) => m.id);

/** Every model in the catalogue. */
export function listModels(): readonly ModelSpec[] {
  return MODELS;
}

/** The model with `id`; throws UnknownModelError (code MODEL_UNKNOWN) when there is none. */
export function getModel(id: string): ModelSpec {
  const model = MODELS.find((m) => m.id === id);
  if (!model) throw new UnknownModelError(id);
  return model;
}

/** Locks, cameras and anything with a microphone must pair by setup code, never push-button. */
export function allowsPushButtonPairing(model: ModelSpec): boolean {
  return model.riskClass === 'standard' && !model.sensors.includes('microphone') && !model.sensors.includes('camera');
}
