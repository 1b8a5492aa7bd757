/**
 * One open channel over a socket: the thin edge around {@link ChannelSession}. It feeds the
 * socket's bytes and the clock into the session and carries out the effects: writes, settling
 * promises, calling the request handler and event listeners, one timer for the next deadline.
 */
import type { TLSSocket } from 'node:tls';
import type { ChannelConfig } from './config.ts';
import { ChannelClosedError, ChannelRequestError, ChannelTransportError, type ChannelError } from './errors.ts';
import {
  CHANNEL_ERROR_CODES,
  MESSAGE_LIMITS,
  type ChannelErrorCode,
  type ChannelEventName,
  type ChannelValue,
  type EventMessage,
  type RequestMessage,
} from './messages.ts';
import { ChannelSession, type ChannelCloseInitiator, type RequestOutcome, type SessionEffect } from './session.ts';

/** How a channel ended. */
export interface ChannelCloseInfo {
  readonly reason: string;
  readonly initiator: ChannelCloseInitiator;
  /** Set when it ended on a fault: protocol error, dead peer, transport failure. */
  readonly error?: ChannelError;
}

/**
 * What a client needs to resume a TLS session with the same server: the session (a secret:
 * it holds the resumption key; keep it in memory only) and the server key pin it was made with.
 */
export interface ChannelResumption {
  readonly ticket: Buffer;
  readonly peerSpkiSha256: Buffer;
}

/** A request from the peer, as given to the handler. */
export interface ChannelIncomingRequest {
  readonly id: number;
  readonly capability: string;
  readonly action: string;
  readonly value?: ChannelValue;
}

/**
 * Answers the peer's requests. Return the value (undefined answers null); throw a
 * {@link ChannelRequestError} to answer with its code; any other throw answers INTERNAL and
 * says nothing more.
 */
export type ChannelRequestHandler<P> = (
  request: ChannelIncomingRequest,
  peer: P,
) => ChannelValue | undefined | Promise<ChannelValue | undefined>;

/** Receives the peer's events. Errors thrown by a listener are caught and dropped. */
export type ChannelEventListener<P> = (event: EventMessage, peer: P) => void;

/** Made by the server and client functions of this folder; not constructed directly. */
export interface ChannelConnectionInit<P> {
  readonly socket: TLSSocket;
  readonly config: ChannelConfig;
  readonly peer: P;
  readonly peerSpkiSha256: Buffer;
  readonly resumed: boolean;
  /** The latest session ticket (client side), updated as the server sends them. */
  readonly tickets?: { latest: Buffer | undefined };
  /**
   * 'send': greet the peer at once with an unsolicited pong, the sign that we accepted it
   * (server side). 'await': the peer's first message is its acceptance of us (client side).
   */
  readonly greeting: 'send' | 'await';
  /** Handlers in place before the first byte is read, so nothing that arrives early is missed. */
  readonly onRequest?: ChannelRequestHandler<P>;
  readonly onEvent?: ChannelEventListener<P>;
}

const KNOWN_CODES: ReadonlySet<string> = new Set(CHANNEL_ERROR_CODES);
/** A local close waits this long for the peer's FIN before destroying the socket, ms. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Sockets we ended that the peer has not closed yet, with when to give up on them. One shared
 * timer sweeps them, rather than one timer per closed connection.
 */
const lingering = new Map<TLSSocket, number>();
let sweeper: NodeJS.Timeout | undefined;

function destroyIfLingering(socket: TLSSocket): void {
  lingering.set(socket, clock() + CLOSE_GRACE_MS);
  if (sweeper) return;
  sweeper = setInterval(() => {
    const now = clock();
    for (const [s, deadline] of lingering) {
      if (now < deadline) continue;
      lingering.delete(s);
      s.destroy();
    }
    if (lingering.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }, CLOSE_GRACE_MS / 2);
  sweeper.unref();
}

const clock = (): number => performance.now();

/**
 * An open, mutually authenticated channel to one pinned peer.
 *
 * @example
 * conn.onRequest(async ({ capability, action, value }) => device.act(capability, action, value));
 * const state = await conn.request('switch', 'set', true);
 * conn.sendEvent('state', true, { capability: 'switch' });
 */
export class ChannelConnection<P> {
  /** What the pin lookup returned for the peer's key. */
  readonly peer: P;
  /** The peer's key pin: SHA-256 of its SubjectPublicKeyInfo. */
  readonly peerSpkiSha256: Buffer;
  /** Whether the TLS session was resumed (no full handshake). */
  readonly resumed: boolean;
  /** Settles when the channel has ended (it never rejects). */
  readonly closed: Promise<ChannelCloseInfo>;
  /** Settles once the peer has greeted us, i.e. accepted our key (client side; at once on the server). */
  readonly ready: Promise<void>;

  readonly #socket: TLSSocket;
  readonly #session: ChannelSession;
  readonly #config: ChannelConfig;
  readonly #tickets: { latest: Buffer | undefined } | undefined;
  readonly #pending = new Map<
    number,
    { resolve: (value: ChannelValue) => void; reject: (error: ChannelError) => void }
  >();
  readonly #eventListeners = new Set<ChannelEventListener<P>>();
  readonly #closeListeners = new Set<(info: ChannelCloseInfo) => void>();
  readonly #socketClosed: Promise<void>;
  #handler: ChannelRequestHandler<P> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #closeInfo: ChannelCloseInfo | undefined;
  #resolveClosed!: (info: ChannelCloseInfo) => void;
  #ready: { resolve: () => void; reject: (error: ChannelError) => void } | undefined;

  constructor(init: ChannelConnectionInit<P>) {
    this.#socket = init.socket;
    this.#config = init.config;
    this.#tickets = init.tickets;
    this.peer = init.peer;
    this.peerSpkiSha256 = Buffer.from(init.peerSpkiSha256);
    this.resumed = init.resumed;
    this.#handler = init.onRequest;
    if (init.onEvent) this.#eventListeners.add(init.onEvent);
    this.#session = new ChannelSession(init.config, clock());
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.ready =
      init.greeting === 'await'
        ? new Promise((resolve, reject) => {
            this.#ready = { resolve, reject };
          })
        : Promise.resolve();
    this.ready.catch(() => {});
    this.#socketClosed = new Promise((resolve) => {
      init.socket.once('close', () => {
        lingering.delete(init.socket);
        resolve();
      });
    });

    const socket = init.socket;
    socket.on('data', (chunk: Buffer) => {
      this.#apply(this.#session.receive(chunk, clock()));
      if (this.#ready && this.#session.messagesReceived > 0) {
        this.#ready.resolve();
        this.#ready = undefined;
      }
    });
    socket.on('error', (err: Error & { code?: string }) => {
      this.#apply(
        this.#session.transportClosed(
          new ChannelTransportError(
            'CHANNEL_SOCKET_FAILED',
            'the connection failed',
            { reason: err.code },
            { cause: err },
          ),
        ),
      );
    });
    socket.on('end', () => this.#apply(this.#session.transportClosed()));
    socket.on('close', () => this.#apply(this.#session.transportClosed()));
    // The greeting is the first frame the server sends, before anything its handlers send.
    if (init.greeting === 'send') this.#apply(this.#session.greet());
    else this.#arm();
  }

  /** Whether the channel is still open. */
  get isOpen(): boolean {
    return this.#session.isOpen;
  }

  /** The peer's address (looked up when first asked: it costs a system call). */
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  /** Our requests awaiting an answer. */
  get inFlight(): number {
    return this.#session.outgoingInFlight;
  }

  /** How the channel ended, once it has. */
  get closeInfo(): ChannelCloseInfo | undefined {
    return this.#closeInfo;
  }

  /** For a client: what to pass as `resumption` to reconnect fast (undefined before a ticket came). */
  get resumption(): ChannelResumption | undefined {
    const ticket = this.#tickets?.latest;
    return ticket ? { ticket, peerSpkiSha256: this.peerSpkiSha256 } : undefined;
  }

  /**
   * Asks the peer to act. Resolves with its value; rejects with ChannelRequestError (the
   * peer's code in `remoteCode`), 'CHANNEL_REQUEST_TIMEOUT', 'CHANNEL_BUSY', 'CHANNEL_CLOSED'
   * or 'CHANNEL_BAD_MESSAGE'.
   */
  request(
    capability: string,
    action: string,
    value?: ChannelValue,
    options: { timeoutMs?: number } = {},
  ): Promise<ChannelValue> {
    let started: { id: number; effects: SessionEffect[] };
    try {
      started = this.#session.request(capability, action, value, clock(), options.timeoutMs);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new ChannelClosedError('CHANNEL_CLOSED', 'request refused'));
    }
    const answer = new Promise<ChannelValue>((resolve, reject) => {
      this.#pending.set(started.id, { resolve, reject });
    });
    this.#apply(started.effects);
    return answer;
  }

  /**
   * Sets the handler for the peer's requests (replacing any earlier one). Without one, requests
   * get UNKNOWN_CAPABILITY.
   */
  onRequest(handler: ChannelRequestHandler<P>): void {
    this.#handler = handler;
  }

  /** Pushes an event to the peer. Throws 'CHANNEL_CLOSED' or 'CHANNEL_BAD_MESSAGE'. */
  sendEvent(name: ChannelEventName, value: ChannelValue, options: { capability?: string; at?: number } = {}): void {
    this.#apply(this.#session.event(name, value, options.at ?? Date.now(), options.capability));
  }

  /** Listens to the peer's events; returns a function that stops listening. */
  onEvent(listener: ChannelEventListener<P>): () => void {
    this.#eventListeners.add(listener);
    return () => {
      this.#eventListeners.delete(listener);
    };
  }

  /** Called once when the channel ends (at once if it already has); returns a function that unsubscribes. */
  onClose(listener: (info: ChannelCloseInfo) => void): () => void {
    if (this.#closeInfo) {
      listener(this.#closeInfo);
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => {
      this.#closeListeners.delete(listener);
    };
  }

  /** Says bye with `reason` ([a-z][a-z0-9-]*, e.g. 'unpaired'), fails pending requests, and closes the socket. */
  async close(reason = 'closing'): Promise<ChannelCloseInfo> {
    this.#apply(this.#session.close(reason, clock()));
    await this.#socketClosed;
    return this.closed;
  }

  #apply(effects: SessionEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          this.#write(effect.bytes);
          break;
        case 'resolve': {
          const pending = this.#pending.get(effect.id);
          this.#pending.delete(effect.id);
          pending?.resolve(effect.value);
          break;
        }
        case 'reject': {
          const pending = this.#pending.get(effect.id);
          this.#pending.delete(effect.id);
          pending?.reject(effect.error);
          break;
        }
        case 'request':
          void this.#handle(effect.request);
          break;
        case 'event':
          for (const listener of this.#eventListeners) {
            try {
              listener(effect.event, this.peer);
            } catch {
              // A listener's fault must not take the channel down.
            }
          }
          break;
        case 'closed':
          this.#teardown(
            effect.error
              ? { reason: effect.reason, initiator: effect.initiator, error: effect.error }
              : { reason: effect.reason, initiator: effect.initiator },
          );
          break;
      }
    }
    this.#arm();
  }

  #write(bytes: Buffer): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    socket.write(bytes);
    if (socket.writableLength > this.#config.maxQueuedBytes && this.#session.isOpen) {
      const error = new ChannelTransportError('CHANNEL_BACKPRESSURE', 'the peer does not read what we send', {
        queuedBytes: socket.writableLength,
      });
      this.#apply(this.#session.transportClosed(error));
    }
  }

  async #handle(request: RequestMessage): Promise<void> {
    let outcome: RequestOutcome;
    const handler = this.#handler;
    if (!handler) {
      outcome = { ok: false, code: 'UNKNOWN_CAPABILITY', message: 'no capabilities are offered' };
    } else {
      try {
        const incoming: ChannelIncomingRequest =
          request.value === undefined
            ? { id: request.id, capability: request.capability, action: request.action }
            : { id: request.id, capability: request.capability, action: request.action, value: request.value };
        const value = await handler(incoming, this.peer);
        outcome = { ok: true, value: value === undefined ? null : value };
      } catch (err) {
        outcome =
          err instanceof ChannelRequestError && KNOWN_CODES.has(err.remoteCode)
            ? {
                ok: false,
                code: err.remoteCode as ChannelErrorCode,
                message: err.message.slice(0, MESSAGE_LIMITS.maxErrorMessageLength),
              }
            : { ok: false, code: 'INTERNAL', message: 'internal error' };
      }
    }
    this.#apply(this.#session.reply(request.id, outcome));
  }

  #arm(): void {
    const next = this.#session.nextDeadline();
    if (next === undefined) {
      this.#disarm();
      return;
    }
    // An earlier timer is kept: it fires, finds nothing due, and re-arms for the later deadline.
    if (this.#timer && this.#timerAt <= next) return;
    this.#disarm();
    this.#timerAt = next;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#apply(this.#session.tick(clock()));
      },
      Math.max(0, Math.ceil(next - clock())),
    );
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #teardown(info: ChannelCloseInfo): void {
    this.#closeInfo = info;
    this.#disarm();
    const socket = this.#socket;
    if (info.error instanceof ChannelTransportError) {
      socket.destroy();
    } else if (!socket.destroyed) {
      socket.end();
      destroyIfLingering(socket);
    }
    if (this.#ready) {
      this.#ready.reject(
        info.error ??
          new ChannelClosedError('CHANNEL_REFUSED', 'the peer closed the channel before accepting it', {
            reason: info.reason,
          }),
      );
      this.#ready = undefined;
    }
    this.#resolveClosed(info);
    for (const listener of this.#closeListeners) {
      try {
        listener(info);
      } catch {
        // As with event listeners: one faulty listener must not stop the others.
      }
    }
    this.#closeListeners.clear();
  }
}
