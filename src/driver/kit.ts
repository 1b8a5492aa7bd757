/**
 * The TypeScript driver kit: a maker writes `get` and `act` for the hardware, the kit speaks the
 * protocol. It checks every request against the model `initialize` gave, and every value the
 * maker's code answers or emits, so a mistake shows up in the driver rather than in the agent.
 */
import type { Readable, Writable } from 'node:stream';
import { DriverError } from './errors.ts';
import {
  checkAgentCall,
  checkHealthResult,
  checkValue,
  cleanText,
  encodeError,
  encodeNotification,
  encodeResult,
  findCapability,
  LineReader,
  parseAgentLine,
  RPC_ERRORS,
  type AgentCall,
  type AgentRequest,
  type ButtonGesture,
  type DriverModel,
  type DriverNotification,
  type DriverValue,
} from './protocol.ts';

/** What a maker writes: the driver's name and version, and what `get` and `act` do on the hardware. */
export interface DriverDefinition {
  readonly name: string;
  readonly version: string;
  /** Reads a capability's current value from the hardware. */
  get(capability: string): DriverValue | Promise<DriverValue>;
  /** Performs `action` (with `value` when the agent gave one); answers the capability's value after it. */
  act(capability: string, action: string, value?: DriverValue): DriverValue | Promise<DriverValue>;
  /**
   * The product's own health check (optional): asked before a new firmware image commits on its trial boot;
   * `{ ok: false, reason }` keeps the image on trial. Without it, the kit answers `health` as an unknown method.
   */
  health?(): { ok: boolean; reason?: string } | Promise<{ ok: boolean; reason?: string }>;
  /** Called with the unit's model at `initialize`; throw to refuse a model this driver cannot serve. */
  initialize?(model: DriverModel): void | Promise<void>;
  /** Where requests come from; process.stdin by default. */
  readonly input?: Readable;
  /** Where answers and notifications go; process.stdout by default. */
  readonly output?: Writable;
  /** Called once when the agent closes the input; by default a driver on process.stdin exits. */
  onClose?(): void;
}

/** The notifications a driver sends; each returns false when it was not sent (before `initialize`, or backed up). */
export interface DriverEmitter {
  /** A capability's value changed without a request (a reading moved, a switch was flipped by hand). */
  changed(capability: string, value: DriverValue): boolean;
  /** The unit's physical button: a press (pairing and claim windows) or a hold (factory reset). */
  button(gesture: ButtonGesture): boolean;
  /** Something is wrong with the hardware; the agent journals it. */
  fault(message: string): boolean;
}

/** A running driver: its notifications and a way to stop it. */
export interface DriverServer {
  readonly emit: DriverEmitter;
  /** The model `initialize` gave, or undefined before it. */
  readonly model: DriverModel | undefined;
  /** Stops reading requests; answers still being computed are dropped. */
  close(): void;
}

/** Notifications beyond this many bytes unread by the agent are dropped rather than queued. */
const MAX_OUTPUT_BACKLOG_BYTES = 1_048_576;

function rpcCodeOf(err: unknown): number {
  if (!(err instanceof DriverError)) return RPC_ERRORS.HARDWARE_FAILED;
  if (err.code === 'DRIVER_PROTOCOL_INVALID' && /^unknown method/.test(err.message)) return RPC_ERRORS.METHOD_NOT_FOUND;
  if (err.code === 'DRIVER_PROTOCOL_INVALID' && /before initialize$/.test(err.message))
    return RPC_ERRORS.NOT_INITIALIZED;
  if (err.code === 'DRIVER_PROTOCOL_INVALID' || err.code === 'DRIVER_LINE_TOO_LONG') return RPC_ERRORS.INVALID_REQUEST;
  return RPC_ERRORS.INVALID_PARAMS;
}

function messageOf(err: unknown): string {
  return cleanText(err instanceof Error ? err.message : String(err));
}

/**
 * Serves the driver protocol over `input`/`output` (stdin/stdout by default).
 *
 * @example
 * const driver = serveDriver({ name: 'acme-thermostat', version: '1.0.0',
 *   get: (capability) => readSensor(capability), act: (capability, action, value) => setRelay(value) });
 * sensor.on('change', (celsius) => driver.emit.changed('temperature', celsius));
 */
export function serveDriver(definition: DriverDefinition): DriverServer {
  const input = definition.input ?? process.stdin;
  const output = definition.output ?? process.stdout;
  const reader = new LineReader();
  let model: DriverModel | undefined;
  let closed = false;

  const write = (line: string): void => {
    if (!closed && output.writable) output.write(line);
  };
  const answer = async (request: AgentRequest): Promise<void> => {
    let call: AgentCall;
    try {
      call = checkAgentCall(model, request);
    } catch (e) {
      return write(encodeError(request.id, rpcCodeOf(e), messageOf(e)));
    }
    try {
      write(encodeResult(request.id, await perform(call)));
    } catch (e) {
      write(encodeError(request.id, rpcCodeOf(e), messageOf(e)));
    }
  };
  const perform = async (call: AgentCall): Promise<unknown> => {
    if (call.method === 'initialize') {
      await definition.initialize?.(call.model);
      model = call.model;
      return { name: definition.name, version: definition.version, ...(definition.health ? { health: true } : {}) };
    }
    if (call.method === 'health') {
      if (!definition.health) throw new DriverError('DRIVER_PROTOCOL_INVALID', "unknown method 'health'");
      return checkHealthResult(await definition.health());
    }
    const value =
      call.method === 'get'
        ? await definition.get(call.capability.id)
        : await definition.act(call.capability.id, call.action, call.value);
    return { value: checkValue(call.capability, value) };
  };
  const onLine = (line: string): void => {
    let request: AgentRequest;
    try {
      request = parseAgentLine(line);
    } catch (e) {
      const id = e instanceof DriverError && typeof e.details.id === 'number' ? e.details.id : null;
      return write(encodeError(id, RPC_ERRORS.INVALID_REQUEST, messageOf(e)));
    }
    void answer(request);
  };
  const onData = (chunk: Buffer): void => {
    for (const event of reader.push(chunk)) {
      if ('line' in event) onLine(event.line);
      else write(encodeError(null, rpcCodeOf(event.error), event.error.message));
    }
  };
  const close = (): void => {
    if (closed) return;
    closed = true;
    input.off('data', onData);
    input.off('end', onEnd);
  };
  const onEnd = (): void => {
    close();
    if (definition.onClose !== undefined) definition.onClose();
    else if (definition.input === undefined) process.exit(0);
  };
  input.on('data', onData);
  input.once('end', onEnd);
  return {
    emit: emitter(
      () => model,
      (line) => !closed && notify(output, line),
    ),
    get model() {
      return model;
    },
    close,
  };
}

function notify(output: Writable, line: string): boolean {
  if (!output.writable || output.writableLength > MAX_OUTPUT_BACKLOG_BYTES) return false;
  output.write(line);
  return true;
}

function emitter(modelOf: () => DriverModel | undefined, send: (line: string) => boolean): DriverEmitter {
  const sendChecked = (notification: DriverNotification): boolean =>
    modelOf() !== undefined && send(encodeNotification(notification));
  return {
    changed: (capability, value) => {
      const model = modelOf();
      if (model === undefined) return false;
      const checked = checkValue(findCapability(model, capability), value);
      return sendChecked({ method: 'changed', capability, value: checked });
    },
    button: (gesture) => sendChecked({ method: 'button', gesture }),
    fault: (message) => sendChecked({ method: 'fault', message: cleanText(message) }),
  };
}
