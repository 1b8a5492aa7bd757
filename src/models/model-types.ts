/**
 * The types of a product model (schemas/model.v1.schema.json describes the same, for files).
 */
import type { Actuator, Sensor } from './vocabulary.ts';
import type { SecurityBaselineDeclaration } from './security-baseline.ts';

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
  /** What the owner's pages call it ('Energy use'), 1-40 characters of plain text; else its id made readable. */
  readonly name?: string;
  readonly kind: 'switch' | 'level' | 'lock' | 'reading' | 'snapshot';
  readonly actions: readonly string[];
  readonly value: CapabilityValueType;
  readonly sensitive?: boolean;
  readonly unit?: string;
  readonly description: string;
}

/** A network a unit joins. */
export type NetworkKind = 'wifi' | 'ethernet' | 'thread' | 'zigbee' | 'bluetooth-le' | 'cellular';

/**
 * What the maker tells the user, as CRA Annex II asks, in the words only the maker can write. What other sources
 * hold is not repeated here: the maker's name and security contact (the device profile), the support end date
 * (`supportPeriod`) and the SBOM's location (the release repository). src/techfile names each Annex II point.
 */
export interface ModelDocumentation {
  /** Annex II 1: the maker's postal address (the name and contact are the profile's). */
  readonly postalAddress?: string;
  /** Annex II 4: what the product is for. */
  readonly intendedPurpose?: string;
  /** Annex II 4: where it is meant to run and what it relies on there. */
  readonly securityEnvironment?: string;
  /** Annex II 4: its essential functions. */
  readonly essentialFunctions?: readonly string[];
  /** Annex II 5: known or foreseeable circumstances, misuse included, that may lead to security risks. */
  readonly foreseeableMisuse?: readonly string[];
  /** Annex II 6: where the EU declaration of conformity is published (https). */
  readonly declarationOfConformityUrl?: string;
  /** Annex II 8(a): what to do when putting the product into service. */
  readonly secureCommissioning?: string;
  /** Annex II 8(a): what to do during its life to keep using it securely. */
  readonly secureLifetimeUse?: string;
  /** Annex II 8(b): how changes to the product can affect the security of data. */
  readonly changesAndDataSecurity?: string;
  /** Annex II 8(c): how security updates are installed. */
  readonly installingUpdates?: string;
  /** Annex II 8(d): how to take it out of use securely and remove the user's data. */
  readonly decommissioning?: string;
  /** Annex II 8(e): how to turn automatic security updates off. */
  readonly turningOffAutomaticUpdates?: string;
  /** Annex II 8(f): what an integrator needs, or why the product is not meant to be built into another. */
  readonly integration?: string;
}

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
  /** The information for the user (CRA Annex II) that only the maker can write; built-in models carry it. */
  readonly documentation?: ModelDocumentation;
  /**
   * The secure-default baseline as declared (security-baseline.ts): stricter values than the toolkit ships; a setting
   * left out has the shipped value (`securityBaselineOf`).
   */
  readonly securityBaseline?: SecurityBaselineDeclaration;
}
