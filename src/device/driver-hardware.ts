/**
 * The unit's hardware behind the maker's driver (src/driver): the agent never touches hardware
 * itself. The values it shows and reports are the driver's own answers and notifications, checked
 * against the model; while the driver is away every capability is shown as unavailable, never as a
 * stale or invented value. A `button` notification is the unit's physical button, and every fault
 * (a bad message, an exit, a hang, a flood) is journalled.
 */
import type { ModelSpec } from '../models/index.ts';
import {
  DriverClient,
  DriverError,
  checkValue,
  type ButtonGesture,
  type DriverFaultEvent,
  type DriverModel,
  type DriverClientOptions,
  type DriverHealth,
  type DriverValue,
} from '../driver/index.ts';
import { CapabilityError, capabilityFacts, type CapabilityValue, type UnitHardware } from './capabilities.ts';

/** Where the driver is: a program the agent starts (argv, never a shell), or a Unix socket it listens on. */
export type DriverTarget =
  { readonly program: string; readonly args?: readonly string[] } | { readonly socket: string };

/** What the agent hears from its driver. */
export interface DriverHardwareEvents {
  /** The unit's physical button, pressed or held, as the driver saw it. */
  onButton(gesture: ButtonGesture): void;
  /** Something to journal: the code and a short message (never a value the driver sent as text). */
  onFault(event: DriverFaultEvent): void;
  /** The driver came up (its name and version) or went away. */
  onAvailability?(available: boolean, driver?: string): void;
}

/** Makes the client for a model with the hardware's callbacks: a spawned, dialled or in-process driver. */
type ClientMaker = (model: DriverModel, options: DriverClientOptions) => DriverClient;

/** How often readings are asked for again, ms: a driver need not notify every small change. */
const READING_REFRESH_MS = 5_000;

/** The hardware as the agent uses it: the same surface as the simulated {@link DeviceCapabilities}. */
export class DriverHardware implements UnitHardware {
  readonly #model: ModelSpec;
  readonly #client: DriverClient;
  readonly #values = new Map<string, DriverValue>();
  readonly #listeners: Array<(id: string, value: unknown) => void> = [];
  readonly #refresh: NodeJS.Timeout;
  readonly #resetHardware: () => Promise<void>;

  private constructor(
    model: ModelSpec,
    connect: ClientMaker,
    events: DriverHardwareEvents,
    reset?: () => Promise<void>,
  ) {
    this.#model = model;
    this.#resetHardware = reset ?? (() => Promise.resolve());
    const driverModel = { id: model.id, capabilities: model.capabilities } as unknown as DriverModel;
    this.#client = connect(driverModel, {
      events: {
        onChanged: (capability: string, value: DriverValue) => this.#set(capability, value),
        onButton: (gesture: ButtonGesture) => events.onButton(gesture),
        onFault: (event: DriverFaultEvent) => events.onFault(event),
        onState: (state: string, identity?: { name: string; version: string }) => {
          if (state !== 'ready') this.#values.clear();
          else void this.#readAll();
          events.onAvailability?.(state === 'ready', identity ? `${identity.name} ${identity.version}` : undefined);
        },
      },
    });
    this.#refresh = setInterval(() => void this.#readAll(true), READING_REFRESH_MS);
    this.#refresh.unref();
  }

  /** Starts (or connects to) the driver; the agent does not wait for it: until it is ready, all is unavailable. */
  static start(model: ModelSpec, target: DriverTarget, events: DriverHardwareEvents): DriverHardware {
    const connect: ClientMaker = (driverModel, options) =>
      'socket' in target
        ? DriverClient.socket(driverModel, target.socket, options)
        : DriverClient.spawn(driverModel, { program: target.program, args: [...(target.args ?? [])] }, options);
    return new DriverHardware(model, connect, events);
  }

  /**
   * The built-in `simulated` driver (simulated-driver.ts) in this process, through the same client and
   * checks as a maker's; its factory reset puts the simulated values back to the model's initial state.
   */
  static async simulated(model: ModelSpec, stateDir: string, events: DriverHardwareEvents): Promise<DriverHardware> {
    // Loaded only when named, so a maker's driver does not load the simulation.
    const { loadSimulatedDriver } = await import('./simulated-driver.ts');
    const simulation = await loadSimulatedDriver(model, stateDir);
    const connect: ClientMaker = (driverModel, options) =>
      DriverClient.inProcess(driverModel, simulation.definition, options).client;
    return new DriverHardware(model, connect, events, () => simulation.reset());
  }

  /** Whether the driver is up. */
  get available(): boolean {
    return this.#client.state === 'ready';
  }

  /** Registers a listener for value changes (for the hub and cloud). */
  onChange(listener: (id: string, value: unknown) => void): void {
    this.#listeners.push(listener);
  }

  /** Every capability with the last value its driver gave, or none (unavailable) while it is away. */
  list(): CapabilityValue[] {
    const up = this.available;
    return this.#model.capabilities.map((c) => ({
      ...capabilityFacts(c),
      value: up ? (this.#values.get(c.id) ?? null) : null,
      ...(up && this.#values.has(c.id) ? {} : { unavailable: true }),
    }));
  }

  /** Runs `action` on `capability` through the driver; answers the value the driver reports after it. */
  async invoke(capability: string, action: string, value?: unknown): Promise<unknown> {
    const c = this.#model.capabilities.find((x) => x.id === capability);
    if (!c) {
      const id = String(capability).slice(0, 32);
      throw new CapabilityError('UNKNOWN_CAPABILITY', `this ${this.#model.id} has no capability '${id}'`);
    }
    if (!c.actions.includes(action))
      throw new CapabilityError('UNKNOWN_ACTION', `${c.id} has no action '${String(action).slice(0, 32)}'`);
    // The caller's value is checked here, so that whatever the driver does wrong after it is never
    // blamed on the caller: a bad answer is the hardware's fault (unavailable), not a bad request.
    if (value !== undefined) {
      try {
        checkValue(c, value);
      } catch (err) {
        throw new CapabilityError('CAPABILITY_VALUE_INVALID', err instanceof Error ? err.message : String(err));
      }
    }
    try {
      const result =
        action === 'get' ? await this.#client.get(c.id) : await this.#client.act(c.id, action, value as DriverValue);
      this.#set(c.id, result);
      return result;
    } catch (err) {
      if (err instanceof DriverError) throw new CapabilityError('CAPABILITY_UNAVAILABLE', err.message);
      throw err;
    }
  }

  /**
   * The product's own health check through its driver (`health`, optional in the protocol), asked on a
   * trial boot before the image commits: the driver's answer, or undefined when it has none. Throws
   * DriverError while the driver is not up.
   */
  health(): Promise<DriverHealth | undefined> {
    return this.#client.health();
  }

  /**
   * Factory reset: a maker's hardware keeps its own state (a relay stays as it is), so nothing the agent
   * holds is erased; the built-in simulation goes back to its initial values.
   */
  reset(): Promise<void> {
    return this.#resetHardware();
  }

  /** Stops the driver. */
  async close(): Promise<void> {
    clearInterval(this.#refresh);
    await this.#client.close();
  }

  #set(capability: string, value: DriverValue): void {
    const before = this.#values.get(capability);
    this.#values.set(capability, value);
    if (before !== value) for (const l of this.#listeners) l(capability, value);
  }

  /** Asks the driver for every value (or the readings only); a failure leaves that value unavailable. */
  async #readAll(readingsOnly = false): Promise<void> {
    if (!this.available) return;
    for (const c of this.#model.capabilities) {
      if (!c.actions.includes('get') || (readingsOnly && c.kind !== 'reading')) continue;
      try {
        this.#set(c.id, await this.#client.get(c.id));
      } catch {
        this.#values.delete(c.id);
      }
    }
  }
}
