/**
 * The simulated hardware of a unit: the model's capabilities with their current values, and
 * the actions that change them. Values persist in the state dir so a restart keeps the plug on.
 * Readings (energy, temperature) are derived from time so they move without a timer.
 */
import { join } from 'node:path';
import { BulwarkError } from '../errors/index.ts';
import {
  writeFileAtomic,
  readStateFile,
  SECRET_FILE_MODE,
  type DamagedStateSink,
  type StateFormat,
} from '../storage/index.ts';
import type { ModelSpec, Capability } from '../models/index.ts';

/** Thrown for an action the model does not have or a value it cannot take. */
export class CapabilityError extends BulwarkError<
  'UNKNOWN_CAPABILITY' | 'UNKNOWN_ACTION' | 'CAPABILITY_VALUE_INVALID' | 'CAPABILITY_UNAVAILABLE'
> {}

/** A capability with its current value. */
export interface CapabilityValue {
  readonly id: string;
  readonly kind: Capability['kind'];
  readonly description: string;
  readonly actions: readonly string[];
  readonly sensitive: boolean;
  /** The model's display name, when it gives one. */
  readonly name?: string;
  readonly unit?: string;
  readonly value: unknown;
  /** True when the hardware (its driver) cannot give the value now: `value` is then null, never a stale one. */
  readonly unavailable?: boolean;
}

type Values = Record<string, boolean | number | string>;

const FILE = 'capabilities.json';

/** capabilities.json: the capability values by id, unversioned (a value it does not know is ignored). */
const VALUES_FORMAT: StateFormat<Record<string, unknown>> = {
  name: FILE,
  parse: (text) => {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object of values');
    return v as Record<string, unknown>;
  },
};

/** A level's first value: full (100) when the range holds it, as the built-in bulb starts; else its minimum. */
const INITIAL_LEVEL = 100;

// The initial value follows the capability's value type, so a maker's model (a garage door that is
// 'open' or 'closed', a setpoint from 5 to 30) simulates as what it declares.
function initialValues(model: ModelSpec): Values {
  const v: Values = {};
  for (const c of model.capabilities) {
    if (c.kind === 'switch') v[c.id] = c.id === 'privacy';
    else if (c.kind === 'level' && c.value.type === 'number')
      v[c.id] = INITIAL_LEVEL >= c.value.min && INITIAL_LEVEL <= c.value.max ? INITIAL_LEVEL : c.value.min;
    else if (c.kind === 'lock' && c.value.type === 'enum') v[c.id] = c.value.values[0]!;
  }
  return v;
}

/** The enum value a lock's action leads to: the value it names ('open'), or its past form ('lock' -> 'locked'). */
function lockValueOf(c: Capability, action: string): string | undefined {
  if (c.value.type !== 'enum') return undefined;
  return [action, `${action}ed`, `${action}d`].find((v) =>
    (c.value as { values: readonly string[] }).values.includes(v),
  );
}

/** A level's new value, checked against its range and step. */
function levelValueOf(c: Capability, value: unknown): number {
  const t = c.value.type === 'number' ? c.value : { min: 0, max: 100, step: 1 };
  const step = t.step;
  const onStep = step === undefined || Math.abs((((value as number) - t.min) / step) % 1) < 1e-9;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < t.min || value > t.max || !onStep) {
    const grain = step === 1 ? 'a whole number' : step === undefined ? 'a number' : `a number in steps of ${step}`;
    throw new CapabilityError('CAPABILITY_VALUE_INVALID', `${c.id} takes ${grain} from ${t.min} to ${t.max}`);
  }
  return value;
}

/** What the surfaces show of a capability besides its value: the model's facts about it. */
export function capabilityFacts(c: Capability): Omit<CapabilityValue, 'value' | 'unavailable'> {
  return {
    id: c.id,
    kind: c.kind,
    description: c.description,
    actions: c.actions,
    sensitive: c.sensitive === true,
    ...(c.name ? { name: c.name } : {}),
    ...(c.unit ? { unit: c.unit } : {}),
  };
}

/**
 * The unit's hardware as the agent's surfaces use it: the built-in simulation
 * ({@link DeviceCapabilities}) or the maker's driver (DriverHardware in driver-hardware.ts).
 */
export interface UnitHardware {
  /** Every capability with its value (none, and `unavailable`, when the hardware cannot say). */
  list(): CapabilityValue[];
  /** Runs `action` on `capability`; resolves to the value after it. @throws CapabilityError */
  invoke(capability: string, action: string, value?: unknown): Promise<unknown>;
  /** Registers a listener for value changes (for the hub and cloud). */
  onChange(listener: (id: string, value: unknown) => void): void;
  /** Factory reset of what the agent keeps about the hardware. */
  reset(): Promise<void>;
  /** Stops what drives the hardware (the driver process), if anything. */
  close?(): Promise<void>;
}

/** The unit's capabilities; `onChange` hears every state change (for the hub and cloud). */
export class DeviceCapabilities {
  readonly #model: ModelSpec;
  readonly #path: string;
  #values: Values;
  #listeners: Array<(id: string, value: unknown) => void> = [];

  private constructor(model: ModelSpec, path: string, values: Values) {
    this.#model = model;
    this.#path = path;
    this.#values = values;
  }

  /**
   * Loads persisted values; a file that cannot be used is moved aside (told to `damaged`) and the
   * model's initial state is used. A value of an unknown capability or of the wrong type is ignored.
   */
  static async load(model: ModelSpec, stateDir: string, damaged?: DamagedStateSink): Promise<DeviceCapabilities> {
    const path = join(stateDir, FILE);
    const values = initialValues(model);
    const sink = damaged ?? { dir: join(stateDir, 'damaged'), note: () => undefined };
    const saved = await readStateFile(path, VALUES_FORMAT, sink);
    for (const [k, v] of Object.entries(saved ?? {})) {
      if (k in values && typeof v === typeof values[k]) values[k] = v as boolean | number | string;
    }
    return new DeviceCapabilities(model, path, values);
  }

  /** Registers a listener for state changes. */
  onChange(listener: (id: string, value: unknown) => void): void {
    this.#listeners.push(listener);
  }

  #reading(c: Capability): unknown {
    const t = Date.now() / 1000;
    switch (c.id) {
      case 'energy':
        return this.#values.power ? Math.round(60 + 5 * Math.sin(t / 30)) : 0;
      case 'temperature':
        return Math.round((21 + 1.5 * Math.sin(t / 600)) * 10) / 10;
      case 'humidity':
        return Math.round(45 + 5 * Math.sin(t / 900));
      default:
        // A reading the simulation has no story for sits in the middle of its declared range.
        return c.value.type === 'number' ? (c.value.min + c.value.max) / 2 : null;
    }
  }

  /** Every capability with its value. */
  list(): CapabilityValue[] {
    return this.#model.capabilities.map((c) => ({
      ...capabilityFacts(c),
      value:
        c.kind === 'reading'
          ? this.#reading(c)
          : c.kind === 'snapshot'
            ? this.#values.privacy
              ? 'privacy shutter closed'
              : 'available'
            : this.#values[c.id],
    }));
  }

  /** Runs `action` on `capability`; returns the new value. */
  async invoke(capability: string, action: string, value?: unknown): Promise<unknown> {
    const c = this.#model.capabilities.find((x) => x.id === capability);
    if (!c)
      throw new CapabilityError(
        'UNKNOWN_CAPABILITY',
        `this ${this.#model.id} has no capability '${String(capability).slice(0, 32)}'`,
      );
    if (!c.actions.includes(action))
      throw new CapabilityError('UNKNOWN_ACTION', `${c.id} has no action '${String(action).slice(0, 32)}'`);
    if (action === 'get')
      return c.kind === 'snapshot' ? this.#snapshot() : this.list().find((x) => x.id === c.id)!.value;
    let next: boolean | number | string;
    if (c.kind === 'switch') next = action === 'toggle' ? !this.#values[c.id] : action === 'on';
    else if (c.kind === 'lock' && lockValueOf(c, action) !== undefined) next = lockValueOf(c, action)!;
    else if (c.kind === 'level') next = levelValueOf(c, value);
    else throw new CapabilityError('UNKNOWN_ACTION', `${c.id} cannot be set`);
    this.#values[c.id] = next;
    await writeFileAtomic(this.#path, JSON.stringify(this.#values) + '\n', SECRET_FILE_MODE);
    for (const l of this.#listeners) l(c.id, next);
    return next;
  }

  #snapshot(): unknown {
    if (this.#values.privacy) throw new CapabilityError('CAPABILITY_UNAVAILABLE', 'the privacy shutter is closed');
    // A stand-in frame: a 1x1 grey PNG, enough to show the path works end to end.
    return {
      contentType: 'image/png',
      data: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABc3UBGAAAAABJRU5ErkJggg==',
    };
  }

  /** Factory reset: back to the model's initial state. */
  async reset(): Promise<void> {
    this.#values = initialValues(this.#model);
    await writeFileAtomic(this.#path, JSON.stringify(this.#values) + '\n', SECRET_FILE_MODE);
  }
}
