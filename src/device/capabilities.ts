/**
 * The simulated hardware of a unit: the model's capabilities with their current values, and
 * the actions that change them. Values persist in the state dir so a restart keeps the plug on.
 * Readings (energy, temperature) are derived from time so they move without a timer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BulwarkError } from '../errors/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
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
  readonly unit?: string;
  readonly value: unknown;
  /** True when the hardware (its driver) cannot give the value now: `value` is then null, never a stale one. */
  readonly unavailable?: boolean;
}

type Values = Record<string, boolean | number | string>;

const FILE = 'capabilities.json';

function initialValues(model: ModelSpec): Values {
  const v: Values = {};
  for (const c of model.capabilities) {
    if (c.kind === 'switch') v[c.id] = c.id === 'privacy' ? true : false;
    else if (c.kind === 'level') v[c.id] = 100;
    else if (c.kind === 'lock') v[c.id] = 'locked';
  }
  return v;
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

  /** Loads persisted values (a damaged file falls back to the model's initial state). */
  static async load(model: ModelSpec, stateDir: string): Promise<DeviceCapabilities> {
    const path = join(stateDir, FILE);
    const values = initialValues(model);
    try {
      const saved = JSON.parse(await readFile(path, 'utf8')) as unknown;
      if (saved && typeof saved === 'object' && !Array.isArray(saved)) {
        for (const [k, v] of Object.entries(saved)) {
          if (k in values && typeof v === typeof values[k]) values[k] = v as boolean | number | string;
        }
      }
    } catch {
      /* first boot or damaged file: initial state */
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
        return null;
    }
  }

  /** Every capability with its value. */
  list(): CapabilityValue[] {
    return this.#model.capabilities.map((c) => ({
      id: c.id,
      kind: c.kind,
      description: c.description,
      actions: c.actions,
      sensitive: c.sensitive === true,
      ...(c.unit ? { unit: c.unit } : {}),
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
    else if (c.kind === 'lock') next = action === 'lock' ? 'locked' : 'unlocked';
    else if (c.kind === 'level') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
        throw new CapabilityError('CAPABILITY_VALUE_INVALID', `${c.id} takes a whole number from 0 to 100`);
      }
      next = value;
    } else throw new CapabilityError('UNKNOWN_ACTION', `${c.id} cannot be set`);
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
