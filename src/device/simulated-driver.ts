/**
 * The built-in `simulated` driver: the simulated hardware ({@link DeviceCapabilities}: values kept in
 * capabilities.json in the state dir, readings derived from time) served through the driver kit and
 * reached in-process, so its values take the same path and the same checks as a maker's driver's. A
 * model with a snapshot (the camera) is refused: a frame does not fit a protocol line.
 */
import type { ModelSpec } from '../models/index.ts';
import type { DriverDefinition, DriverValue } from '../driver/index.ts';
import { DeviceCapabilities } from './capabilities.ts';

/** What names the built-in driver in the agent's config: `driver: { builtin: 'simulated' }`. */
export interface BuiltinDriverTarget {
  readonly builtin: 'simulated';
}

/** The simulated driver's definition and the factory reset of the values it keeps. */
export interface SimulatedDriver {
  readonly definition: Omit<DriverDefinition, 'input' | 'output' | 'onClose'>;
  reset(): Promise<void>;
}

/**
 * Loads the simulated hardware of `model` from `stateDir` and wraps it as a driver definition.
 *
 * @example
 * const sim = await loadSimulatedDriver(model, stateDir);
 * const { client } = DriverClient.inProcess(driverModel, sim.definition);
 */
export async function loadSimulatedDriver(model: ModelSpec, stateDir: string): Promise<SimulatedDriver> {
  const hardware = await DeviceCapabilities.load(model, stateDir);
  return {
    definition: {
      name: 'bulwark-simulated',
      version: '1',
      get: async (capability) => (await hardware.invoke(capability, 'get')) as DriverValue,
      act: async (capability, action, value) => (await hardware.invoke(capability, action, value)) as DriverValue,
    },
    reset: () => hardware.reset(),
  };
}
