/**
 * The agent's side of the driver boundary. The client starts or dials the driver, initializes it
 * with the model, bounds every request by a timeout and the driver's notifications, faults and
 * log lines by rates, restarts a crashed or hung driver with back-off, and refuses to answer for
 * a driver that is not ready: while it is away, `get` and `act` fail with 'DRIVER_UNAVAILABLE',
 * never with a remembered or invented value. Every value it passes on is checked against the model.
 */
import { DriverError, type DriverErrorCode } from './errors.ts';
import { restartDelay, validateDriverClientConfig, type DriverClientConfig } from './config.ts';
import {
  checkAction,
  checkDriverModel,
  checkHealthResult,
  checkInitializeResult,
  checkNotification,
  checkValue,
  checkValueResult,
  cleanText,
  DRIVER_PROTOCOL,
  encodeRequest,
  findCapability,
  LineReader,
  parseDriverLine,
  RPC_ERRORS,
  type ButtonGesture,
  type DriverHealth,
  type DriverIdentity,
  type DriverInbound,
  type DriverModel,
  type DriverValue,
} from './protocol.ts';
import { TokenBucket } from './rate.ts';
import {
  inMemoryConnector,
  processConnector,
  socketConnector,
  type DriverConnection,
  type DriverConnector,
  type DriverProgram,
} from './transport.ts';
import { serveDriver, type DriverDefinition, type DriverEmitter } from './kit.ts';

/** Whether the driver can be asked: 'ready' only after it answered `initialize`. */
export type DriverState = 'starting' | 'ready' | 'unavailable';

/** Something the agent should journal about its driver. */
export interface DriverFaultEvent {
  readonly code: DriverErrorCode;
  readonly message: string;
}

/** The agent's callbacks; none of them may throw. */
export interface DriverEvents {
  /** A checked `changed` notification. */
  onChanged?(capability: string, value: DriverValue): void;
  /** A `button` notification. */
  onButton?(gesture: ButtonGesture): void;
  /** The driver's own `fault`, a bad message, an exit or hang, or a count of what the rates dropped. */
  onFault?(event: DriverFaultEvent): void;
  /** One line of the driver's stderr, cleaned and cut (process drivers only). */
  onLog?(line: string): void;
  /** Every change of state, with the driver's identity once ready. */
  onState?(state: DriverState, identity?: DriverIdentity): void;
}

/** How a client is set up; every part optional. */
export interface DriverClientOptions {
  readonly events?: DriverEvents;
  readonly config?: Partial<DriverClientConfig>;
  /** A monotonic clock, ms; process.hrtime by default. */
  readonly now?: () => number;
  /** The jitter's random draw, from 0 to 1; Math.random by default. */
  readonly random?: () => number;
}

interface Pending {
  readonly method: string;
  readonly check: (result: unknown) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: DriverError) => void;
  readonly timer: NodeJS.Timeout;
}

interface Dropped {
  notifications: number;
  faults: number;
  logLines: number;
}

const SUMMARY_INTERVAL_MS = 1_000;

/**
 * The agent's connection to its driver; make one with {@link DriverClient.spawn},
 * {@link DriverClient.socket} or {@link DriverClient.inProcess}.
 *
 * @example
 * const driver = DriverClient.spawn(model, { program: '/opt/acme/driver', args: ['--bus', '1'] }, {
 *   events: { onChanged: (capability, value) => publish(capability, value), onFault: (e) => journal(e) },
 * });
 * await driver.whenReady(5_000);
 * await driver.act('setpoint', 'set', 21.5);
 */
export class DriverClient {
  readonly #model: DriverModel;
  readonly #connector: DriverConnector;
  readonly #config: DriverClientConfig;
  readonly #events: DriverEvents;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #notifications: TokenBucket;
  readonly #faults: TokenBucket;
  readonly #logLines: TokenBucket;
  readonly #pending = new Map<number, Pending>();
  readonly #readyWaiters = new Set<() => void>();
  #state: DriverState = 'starting';
  #identity: DriverIdentity | undefined;
  #connection: DriverConnection | undefined;
  #generation = 0;
  #reader = new LineReader();
  #stderrReader: LineReader;
  #nextId = 1;
  #timeoutsInRow = 0;
  #attempt = 0;
  #readySince: number | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #summaryTimer: NodeJS.Timeout | undefined;
  #dropped: Dropped = { notifications: 0, faults: 0, logLines: 0 };
  #closed = false;

  private constructor(model: DriverModel, connector: DriverConnector, options: DriverClientOptions) {
    this.#model = checkDriverModel(model);
    this.#config = validateDriverClientConfig(options.config);
    this.#connector = connector;
    this.#events = options.events ?? {};
    // Not performance.now(): the global `performance` loads perf_hooks (nine modules) on an idle device.
    this.#now = options.now ?? (() => Number(process.hrtime.bigint()) / 1e6);
    this.#random = options.random ?? Math.random;
    const c = this.#config;
    this.#notifications = new TokenBucket(c.notificationsPerSecond, c.notificationBurst);
    this.#faults = new TokenBucket(c.faultsPerSecond, c.faultBurst);
    this.#logLines = new TokenBucket(c.stderrLinesPerSecond, c.stderrBurst);
    this.#stderrReader = new LineReader(c.maxStderrLineBytes);
    this.#connect();
  }

  /**
   * Starts `program` as the driver (argv only, no shell; its environment is PATH, LANG, the
   * protocol name and `program.env`, never the agent's) and keeps it running.
   */
  static spawn(model: DriverModel, program: DriverProgram, options: DriverClientOptions = {}): DriverClient {
    const config = validateDriverClientConfig(options.config);
    return new DriverClient(model, processConnector(program, config.killGraceMs), options);
  }

  /** Dials a driver listening on the Unix socket `path`, and dials again when it goes away. */
  static socket(model: DriverModel, path: string, options: DriverClientOptions = {}): DriverClient {
    return new DriverClient(model, socketConnector(path), options);
  }

  /**
   * Runs `definition` inside this process (the built-in simulated hardware, say) over in-memory
   * streams carrying the same lines, so its values pass the same checks. `emit` is its notifications.
   */
  static inProcess(
    model: DriverModel,
    definition: Omit<DriverDefinition, 'input' | 'output' | 'onClose'>,
    options: DriverClientOptions = {},
  ): { client: DriverClient; emit: DriverEmitter } {
    let current: DriverEmitter | undefined;
    const connector = inMemoryConnector((input, output) => {
      const server = serveDriver({ ...definition, input, output, onClose: () => undefined });
      current = server.emit;
      return server;
    });
    const emit: DriverEmitter = {
      changed: (capability, value) => current?.changed(capability, value) ?? false,
      button: (gesture) => current?.button(gesture) ?? false,
      fault: (message) => current?.fault(message) ?? false,
    };
    return { client: new DriverClient(model, connector, options), emit };
  }

  /** The current state. */
  get state(): DriverState {
    return this.#state;
  }

  /** The driver's name and version while it is ready. */
  get identity(): DriverIdentity | undefined {
    return this.#identity;
  }

  /** Resolves once the driver is ready; rejects with 'DRIVER_UNAVAILABLE' after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<DriverIdentity> {
    if (this.#state === 'ready' && this.#identity !== undefined) return Promise.resolve(this.#identity);
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        clearTimeout(timer);
        this.#readyWaiters.delete(waiter);
        if (this.#identity !== undefined) resolve(this.#identity);
        else reject(new DriverError('DRIVER_UNAVAILABLE', 'the driver client is closed'));
      };
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(waiter);
        reject(new DriverError('DRIVER_UNAVAILABLE', `the driver was not ready in ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#readyWaiters.add(waiter);
    });
  }

  /** Asks the driver for a capability's value: the driver's own answer, checked, or a DriverError. */
  async get(capabilityId: string): Promise<DriverValue> {
    const capability = findCapability(this.#model, capabilityId);
    this.#requireReady();
    const value = await this.#request('get', { capability: capability.id }, this.#config.requestTimeoutMs, (r) =>
      checkValueResult(capability, r),
    );
    return value as DriverValue;
  }

  /** Asks the driver to perform `action` (with `value`, checked first); resolves to the value it answers. */
  async act(capabilityId: string, action: string, value?: DriverValue): Promise<DriverValue> {
    const capability = findCapability(this.#model, capabilityId);
    checkAction(capability, action);
    const params: Record<string, unknown> = { capability: capability.id, action };
    if (value !== undefined) params.value = checkValue(capability, value);
    this.#requireReady();
    const answer = await this.#request('act', params, this.#config.requestTimeoutMs, (r) =>
      checkValueResult(capability, r),
    );
    return answer as DriverValue;
  }

  /**
   * Asks the driver's own health check (`health`, optional in the protocol): its answer, checked, or
   * undefined when the driver has none (it did not declare `health` at `initialize`, or answers "unknown method").
   */
  async health(): Promise<DriverHealth | undefined> {
    this.#requireReady();
    if (this.#identity?.health !== true) return undefined;
    try {
      return (await this.#request('health', {}, this.#config.requestTimeoutMs, checkHealthResult)) as DriverHealth;
    } catch (err) {
      if (err instanceof DriverError && err.details.rpcCode === RPC_ERRORS.METHOD_NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** Stops the driver (SIGTERM, then SIGKILL after the grace) and every timer; resolves once it is gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation += 1;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#summaryTimer);
    this.#failPending('the driver client is closed');
    this.#identity = undefined;
    this.#setState('unavailable');
    for (const waiter of [...this.#readyWaiters]) waiter();
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.close();
  }

  #requireReady(): void {
    if (this.#state === 'ready') return;
    const why = this.#state === 'starting' ? 'is starting' : 'is not running';
    throw new DriverError('DRIVER_UNAVAILABLE', `the driver ${why}`);
  }

  #setState(state: DriverState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#events.onState?.(state, this.#identity);
  }

  #connect(): void {
    if (this.#closed) return;
    const generation = ++this.#generation;
    const mine = (): boolean => generation === this.#generation;
    this.#reader = new LineReader();
    this.#stderrReader = new LineReader(this.#config.maxStderrLineBytes);
    this.#timeoutsInRow = 0;
    this.#setState('starting');
    try {
      this.#connection = this.#connector({
        data: (chunk) => mine() && this.#onData(chunk, mine),
        stderr: (chunk) => mine() && this.#onStderr(chunk),
        closed: (reason) => mine() && this.#lost('DRIVER_EXITED', `the driver ${reason}`),
      });
    } catch (e) {
      this.#lost('DRIVER_EXITED', `the driver could not be started: ${cleanText(String(e))}`);
      return;
    }
    const params = { protocol: DRIVER_PROTOCOL, model: this.#model };
    this.#request('initialize', params, this.#config.initializeTimeoutMs, checkInitializeResult).then(
      (identity) => mine() && this.#ready(identity as ReturnType<typeof checkInitializeResult>),
      (e: DriverError) => mine() && this.#lost(e.code, `initialize failed: ${e.message}`),
    );
  }

  #ready(identity: DriverIdentity): void {
    this.#identity = identity;
    this.#readySince = this.#now();
    this.#setState('ready');
    for (const waiter of [...this.#readyWaiters]) waiter();
  }

  /** The driver is gone, hung or unusable: fail what waits, report it, and restart after the back-off. */
  #lost(code: DriverErrorCode, message: string): void {
    if (this.#closed) return;
    this.#generation += 1;
    const connection = this.#connection;
    this.#connection = undefined;
    this.#failPending('the driver stopped before it answered');
    this.#identity = undefined;
    this.#setState('unavailable');
    this.#events.onFault?.({ code, message });
    const now = this.#now();
    if (this.#readySince !== undefined && now - this.#readySince >= this.#config.healthyResetMs) this.#attempt = 0;
    this.#readySince = undefined;
    const delay = restartDelay(this.#attempt, this.#config, this.#random());
    this.#attempt += 1;
    const gone = connection?.close() ?? Promise.resolve();
    clearTimeout(this.#restartTimer);
    const timer = setTimeout(() => {
      void gone.then(() => {
        if (this.#restartTimer === timer) this.#connect();
      });
    }, delay);
    timer.unref();
    this.#restartTimer = timer;
  }

  #failPending(message: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new DriverError('DRIVER_UNAVAILABLE', message, { method: p.method }));
    }
  }

  #request(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    check: (result: unknown) => unknown,
  ): Promise<unknown> {
    const connection = this.#connection;
    if (connection === undefined) return Promise.reject(new DriverError('DRIVER_UNAVAILABLE', 'no driver'));
    if (this.#pending.size >= this.#config.maxInFlight) {
      return Promise.reject(new DriverError('DRIVER_BUSY', `already ${this.#config.maxInFlight} requests in flight`));
    }
    const id = this.#nextId++;
    const answered = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => this.#timedOut(id, timeoutMs), timeoutMs);
      timer.unref();
      this.#pending.set(id, { method, check, resolve, reject, timer });
    });
    connection.send(encodeRequest(id, method, params));
    if (connection.backlogBytes() > this.#config.maxWriteBacklogBytes) {
      this.#lost('DRIVER_TIMEOUT', 'the driver does not read its input');
    }
    return answered;
  }

  #timedOut(id: number, timeoutMs: number): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    pending.reject(new DriverError('DRIVER_TIMEOUT', `${pending.method} had no answer in ${timeoutMs} ms`));
    if (pending.method === 'initialize') return; // its rejection restarts the driver
    this.#timeoutsInRow += 1;
    if (this.#timeoutsInRow >= this.#config.maxTimeoutsInRow) {
      this.#lost('DRIVER_TIMEOUT', `the driver answered none of ${this.#timeoutsInRow} requests in a row`);
    }
  }

  #onData(chunk: Buffer, mine: () => boolean): void {
    for (const event of this.#reader.push(chunk)) {
      if (!mine()) return;
      if ('line' in event) this.#onLine(event.line);
      else this.#badMessage(event.error);
    }
  }

  #onLine(line: string): void {
    let inbound: DriverInbound;
    try {
      inbound = parseDriverLine(line);
    } catch (e) {
      return this.#badMessage(e as DriverError);
    }
    if (inbound.type === 'notification') return this.#onNotification(inbound.method, inbound.params);
    const pending = this.#pending.get(inbound.id);
    if (pending === undefined) {
      return this.#badMessage(
        new DriverError('DRIVER_PROTOCOL_INVALID', `an answer to no open request (${inbound.id})`),
      );
    }
    this.#pending.delete(inbound.id);
    clearTimeout(pending.timer);
    this.#timeoutsInRow = 0;
    if (inbound.type === 'error') {
      const error = new DriverError('DRIVER_FAILED', `the driver refused ${pending.method}: ${inbound.message}`, {
        rpcCode: inbound.code,
      });
      return pending.reject(error);
    }
    try {
      pending.resolve(pending.check(inbound.result));
    } catch (e) {
      pending.reject(e as DriverError);
      this.#badMessage(e as DriverError);
    }
  }

  #onNotification(method: string, params: Record<string, unknown>): void {
    if (!this.#notifications.take(this.#now())) return this.#count('notifications');
    try {
      const n = checkNotification(this.#model, method, params);
      if (n.method === 'changed') this.#events.onChanged?.(n.capability, n.value);
      else if (n.method === 'button') this.#events.onButton?.(n.gesture);
      else this.#events.onFault?.({ code: 'DRIVER_FAULT', message: `the driver reports: ${n.message}` });
    } catch (e) {
      this.#badMessage(e as DriverError);
    }
  }

  #badMessage(error: DriverError): void {
    if (!this.#faults.take(this.#now())) return this.#count('faults');
    this.#events.onFault?.({ code: error.code, message: error.message });
  }

  #onStderr(chunk: Buffer): void {
    for (const event of this.#stderrReader.push(chunk)) {
      if (!this.#logLines.take(this.#now())) {
        this.#count('logLines');
        continue;
      }
      const max = this.#config.maxStderrLineBytes;
      if ('line' in event) this.#events.onLog?.(cleanText(event.line, max));
      else if (event.error.code === 'DRIVER_LINE_TOO_LONG') this.#events.onLog?.(`(a line over ${max} bytes, dropped)`);
      else this.#events.onLog?.('(a line that is not UTF-8, dropped)');
    }
  }

  /** Counts what a rate dropped; one fault event a second says how much. */
  #count(kind: keyof Dropped): void {
    this.#dropped[kind] += 1;
    if (this.#summaryTimer !== undefined) return;
    this.#summaryTimer = setTimeout(() => {
      this.#summaryTimer = undefined;
      const { notifications, faults, logLines } = this.#dropped;
      this.#dropped = { notifications: 0, faults: 0, logLines: 0 };
      const message = `dropped in the last second: ${notifications} notifications, ${faults} fault reports, `;
      this.#events.onFault?.({ code: 'DRIVER_RATE_LIMITED', message: `${message}${logLines} log lines` });
    }, SUMMARY_INTERVAL_MS);
    this.#summaryTimer.unref();
  }
}
