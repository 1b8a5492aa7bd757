/**
 * The types of a product model (schemas/model.v1.schema.json describes the same, for files).
 */
import type { Actuator, Sensor } from './vocabulary.ts';

/** How much harm a compromised unit can do; decides pairing and initial-password rules. */
export type RiskClass = 'standard' | 'lock' | 'camera' | 'microphone';

/** How the first password is established. */
export type InitialPasswordMode = 'sticker' | 'setup';

/** 'sensitive': the unit has a camera or a microphone (its journal keeps less, its data is guarded more). */
export type ModelPrivacyClass = 'standard' | 'sensitive';

/** The values a capability takes. */
export type CapabilityValueType =
  | { readonly type: 'boolean' }
  | { readonly type: 'number'; readonly min: number; readonly max: number; readonly step?: number }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'string'; readonly maxLength: number };

/** A control or reading a model exposes. `sensitive` ones need an explicit grant on a hub. */
export interface Capability {
  readonly id: string;
  readonly kind: 'switch' | 'level' | 'lock' | 'reading' | 'snapshot';
  readonly actions: readonly string[];
  readonly value: CapabilityValueType;
  readonly sensitive?: boolean;
  readonly unit?: string;
  readonly description: string;
}

/** A network a unit joins. */
export type NetworkKind = 'wifi' | 'ethernet' | 'thread' | 'zigbee' | 'bluetooth-le' | 'cellular';

/** One product model. */
export interface ModelSpec {
  readonly id: string;
  readonly name: string;
  /** Short uppercase code used in serial numbers. */
  readonly serialPrefix: string;
  readonly riskClass: RiskClass;
  readonly privacyClass: ModelPrivacyClass;
  readonly capabilities: readonly Capability[];
  /** What the product senses, in the policy's words. */
  readonly sensors: readonly Sensor[];
  /** What the product physically does, in the policy's words (a `lock` riskClass implies `lock`). */
  readonly actuators: readonly Actuator[];
  readonly initialPasswordMode: InitialPasswordMode;
  readonly networks: readonly NetworkKind[];
  /**
   * Security updates are provided until the end of `endsOn` (UTC), as the label and the CRA ask: at least five years
   * from the model's first publication, unless `shorterExpectedUse` records why the product is used for less.
   */
  readonly supportPeriod: { readonly endsOn: string; readonly shorterExpectedUse?: string };
}
