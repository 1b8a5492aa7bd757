/**
 * A client that keeps its channel up: on loss it reconnects after a jittered exponential
 * back-off, resuming the TLS session when the server still honours the ticket.
 */
import { EventEmitter } from 'node:events';
import { reconnectDelay } from './backoff.ts';
import { validateChannelConfig, type ChannelConfig } from './config.ts';
import type {
  ChannelCloseInfo,
  ChannelConnection,
  ChannelEventListener,
  ChannelRequestHandler,
  ChannelResumption,
} from './connection.ts';
import { ChannelClosedError, ChannelError, ChannelRequestError, ChannelTransportError } from './errors.ts';
import type { ChannelEventName, ChannelValue } from './messages.ts';
import { connectChannel, createChannelClientContext, type ConnectChannelOptions } from './tls.ts';

/** The events of a {@link ReconnectingChannel}. */
export interface ReconnectingChannelEvents<P> {
  /** A channel is up (the first one, or after a loss). */
  connected: [connection: ChannelConnection<P>];
  /** The channel was lost; a reconnect follows unless the client was closed. */
  disconnected: [info: ChannelCloseInfo];
  /** An attempt failed or the channel was lost; the next attempt comes after `delayMs`. */
  retrying: [info: { readonly attempt: number; readonly delayMs: number; readonly error: ChannelError }];
  /** `reconnectMaxAttempts` attempts in a row failed; the client stopped. */
  'gave-up': [error: ChannelError];
}

/**
 * Keeps one channel to one server. Handlers and listeners set here carry over to every new
 * connection. Requests made while disconnected fail at once with 'CHANNEL_NOT_CONNECTED'.
 *
 * @example
 * const link = reconnectingClient({ host, port, key, cert, pinnedPeer });
 * link.on('connected', () => log('up')).on('disconnected', (i) => log('down', i.reason));
 * await link.whenConnected();
 * await link.request('switch', 'set', true);
 */
export class ReconnectingChannel<P> extends EventEmitter<ReconnectingChannelEvents<P>> {
  readonly config: ChannelConfig;
  readonly #options: ConnectChannelOptions<P>;
  readonly #random: () => number;
  readonly #eventListeners = new Set<ChannelEventListener<P>>();
  #handler: ChannelRequestHandler<P> | undefined;
  #connection: ChannelConnection<P> | undefined;
  #resumption: ChannelResumption | undefined;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #abort: AbortController | undefined;
  #stopped = false;
  #connects = 0;

  constructor(options: ConnectChannelOptions<P>, random: () => number = Math.random) {
    super();
    this.config = validateChannelConfig(options.config);
    // One parsed identity for every reconnect, unless the caller shares one already.
    this.#options = {
      ...options,
      config: this.config,
      context: options.context ?? createChannelClientContext(options),
      // Dispatch through this object, so handlers set at any time reach every connection from its first frame.
      onRequest: (request, peer) => {
        if (!this.#handler) throw new ChannelRequestError('UNKNOWN_CAPABILITY', 'no capabilities are offered');
        return this.#handler(request, peer);
      },
      onEvent: (event, peer) => {
        for (const listener of this.#eventListeners) {
          try {
            listener(event, peer);
          } catch {
            // As on a single connection: one faulty listener must not stop the others.
          }
        }
      },
    };
    this.#random = random;
    this.#resumption = options.resumption;
    this.#handler = options.onRequest;
    if (options.onEvent) this.#eventListeners.add(options.onEvent);
  }

  /** The current channel, if up. */
  get connection(): ChannelConnection<P> | undefined {
    return this.#connection;
  }

  /** Channels established so far. */
  get connects(): number {
    return this.#connects;
  }

  /** Whether the client was closed or gave up. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Starts connecting (called by {@link reconnectingClient}). */
  start(): this {
    if (!this.#stopped && !this.#connection && !this.#abort && !this.#timer) void this.#attempt();
    return this;
  }

  /** Resolves with the channel once it is up; rejects if the client stops first. */
  whenConnected(): Promise<ChannelConnection<P>> {
    if (this.#connection) return Promise.resolve(this.#connection);
    if (this.#stopped) return Promise.reject(new ChannelClosedError('CHANNEL_NOT_CONNECTED', 'the client is stopped'));
    return new Promise((resolve, reject) => {
      const onConnected = (c: ChannelConnection<P>): void => {
        this.off('gave-up', onGaveUp);
        resolve(c);
      };
      const onGaveUp = (e: ChannelError): void => {
        this.off('connected', onConnected);
        reject(e);
      };
      this.once('connected', onConnected);
      this.once('gave-up', onGaveUp);
    });
  }

  /** Asks the peer over the current channel; see ChannelConnection.request. */
  request(
    capability: string,
    action: string,
    value?: ChannelValue,
    options?: { timeoutMs?: number },
  ): Promise<ChannelValue> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(new ChannelClosedError('CHANNEL_NOT_CONNECTED', 'the channel is down'));
    return connection.request(capability, action, value, options);
  }

  /** Pushes an event over the current channel. Throws 'CHANNEL_NOT_CONNECTED' when down. */
  sendEvent(name: ChannelEventName, value: ChannelValue, options?: { capability?: string; at?: number }): void {
    const connection = this.#connection;
    if (!connection) throw new ChannelClosedError('CHANNEL_NOT_CONNECTED', 'the channel is down');
    connection.sendEvent(name, value, options);
  }

  /** Sets the request handler for this and every later channel. */
  onRequest(handler: ChannelRequestHandler<P>): void {
    this.#handler = handler;
  }

  /** Listens to events on this and every later channel; returns a function that stops listening. */
  onEvent(listener: ChannelEventListener<P>): () => void {
    this.#eventListeners.add(listener);
    return () => {
      this.#eventListeners.delete(listener);
    };
  }

  /** Stops reconnecting and closes the channel with `reason`. */
  async close(reason = 'closing'): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) await connection.close(reason);
  }

  async #attempt(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    const abort = new AbortController();
    this.#abort = abort;
    let connection: ChannelConnection<P>;
    try {
      connection = await connectChannel({ ...this.#options, resumption: this.#resumption, signal: abort.signal });
    } catch (err) {
      this.#abort = undefined;
      if (this.#stopped) return;
      const error =
        err instanceof ChannelError
          ? err
          : new ChannelTransportError('CHANNEL_SOCKET_FAILED', 'the connection failed', {}, { cause: err });
      this.#failures++;
      if (this.#failures >= this.config.reconnectMaxAttempts) {
        this.#stopped = true;
        this.emit('gave-up', error);
        return;
      }
      this.#schedule(error);
      return;
    }
    this.#abort = undefined;
    if (this.#stopped) {
      await connection.close('closing');
      return;
    }
    this.#failures = 0;
    this.#connects++;
    this.#connection = connection;
    this.#resumption = connection.resumption ?? this.#resumption;
    connection.onClose((info) => {
      this.#resumption = connection.resumption ?? this.#resumption;
      if (this.#connection === connection) this.#connection = undefined;
      this.emit('disconnected', info);
      if (!this.#stopped)
        this.#schedule(
          info.error ??
            new ChannelClosedError('CHANNEL_CLOSED', `the channel closed (${info.reason})`, { reason: info.reason }),
        );
    });
    this.emit('connected', connection);
  }

  #schedule(error: ChannelError): void {
    if (this.#stopped || this.#timer) return;
    const delayMs = reconnectDelay(this.#failures, this.config, this.#random());
    this.emit('retrying', { attempt: this.#failures + 1, delayMs, error });
    this.#timer = setTimeout(() => {
      void this.#attempt();
    }, delayMs);
  }
}

/**
 * Starts a {@link ReconnectingChannel}: connects now, and again after every loss, with
 * jittered exponential back-off (`reconnectBaseMs`, `reconnectMaxMs`, `reconnectJitter`,
 * `reconnectMaxAttempts` of the config).
 */
export function reconnectingClient<P>(
  options: ConnectChannelOptions<P>,
  random: () => number = Math.random,
): ReconnectingChannel<P> {
  return new ReconnectingChannel(options, random).start();
}
