/**
 * The driver boundary (the package entry `bulwark/driver`): the agent never touches hardware; it
 * talks to the maker's driver, a separate process in any language, over JSON-RPC 2.0 with one
 * message a line (docs/driver.md). `DriverClient` is the agent's side; `serveDriver` is the
 * TypeScript driver kit; the protocol's checks are pure and exported for other kits' tests.
 *
 * @example
 * // the driver, in its own process
 * const driver = serveDriver({ name: 'acme-thermostat', version: '1.0.0', get: readHardware, act: driveHardware });
 * driver.emit.changed('temperature', 21.5);
 * // the agent
 * const client = DriverClient.spawn(model, { program: '/opt/acme/driver' }, { events: { onFault: journal } });
 * const celsius = await client.get('temperature');
 *
 * @module bulwark/driver
 */
export { DriverError, DriverConfigError, type DriverErrorCode } from './errors.ts';
export {
  DRIVER_PROTOCOL,
  DRIVER_LIMITS,
  RPC_ERRORS,
  LineReader,
  checkAction,
  checkAgentCall,
  checkDriverModel,
  checkHealthResult,
  checkInitializeResult,
  checkNotification,
  checkValue,
  checkValueResult,
  cleanText,
  encodeError,
  encodeNotification,
  encodeRequest,
  encodeResult,
  findCapability,
  parseAgentLine,
  parseDriverLine,
  type AgentCall,
  type AgentRequest,
  type ButtonGesture,
  type DriverCapability,
  type DriverHealth,
  type DriverIdentity,
  type DriverInbound,
  type DriverModel,
  type DriverNotification,
  type DriverValue,
  type DriverValueType,
  type LineEvent,
} from './protocol.ts';
export { TokenBucket } from './rate.ts';
export {
  defaultDriverClientConfig,
  validateDriverClientConfig,
  restartDelay,
  type DriverClientConfig,
} from './config.ts';
export { DRIVER_PROTOCOL_ENV, driverEnvironment, type DriverProgram } from './transport.ts';
export {
  DriverClient,
  type DriverClientOptions,
  type DriverEvents,
  type DriverFaultEvent,
  type DriverState,
} from './client.ts';
export { serveDriver, type DriverDefinition, type DriverEmitter, type DriverServer } from './kit.ts';
