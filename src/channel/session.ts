/**
 * The channel's protocol core: a state machine with no sockets and no timers. Bytes and the
 * current time go in; effects come out (bytes to send, requests to settle, requests and events
 * to deliver, the end of the channel). The edge applies the effects and calls {@link
 * ChannelSession.tick} at {@link ChannelSession.nextDeadline}.
 *
 * What it guarantees: at most `maxInFlight` requests outstanding each way; every request
 * settles (answer, typed error, timeout or close); a peer silent for `deadAfterMs` ends the
 * channel; any frame or message outside the schemas ends the channel with 'protocol-error'
 * before anything in it is acted on.
 */
import { validateChannelConfig, CHANNEL_CONFIG_BOUNDS, type ChannelConfig } from './config.ts';
import {
  ChannelBusyError,
  ChannelClosedError,
  ChannelError,
  ChannelPeerDeadError,
  ChannelRequestError,
  ChannelTimeoutError,
  ChannelConfigError,
} from './errors.ts';
import { FrameDecoder } from './frame.ts';
import {
  encodeMessage,
  parseMessage,
  MESSAGE_LIMITS,
  type ChannelErrorCode,
  type ChannelEventName,
  type ChannelMessage,
  type ChannelValue,
  type EventMessage,
  type RequestMessage,
} from './messages.ts';

/** Who ended the channel. */
export type ChannelCloseInitiator = 'local' | 'peer';

/** What the edge must do after a call into the session. Apply in order. */
export type SessionEffect =
  /** Write these bytes (one whole frame) to the peer. */
  | { readonly type: 'send'; readonly bytes: Buffer }
  /** Our request `id` was answered with `value`. */
  | { readonly type: 'resolve'; readonly id: number; readonly value: ChannelValue }
  /** Our request `id` failed: typed remote error, timeout or close. */
  | { readonly type: 'reject'; readonly id: number; readonly error: ChannelError }
  /** The peer asks us to act; answer with {@link ChannelSession.reply}. */
  | { readonly type: 'request'; readonly request: RequestMessage }
  /** The peer pushed an event. */
  | { readonly type: 'event'; readonly event: EventMessage }
  /** The channel is over; tear the transport down after writing any 'send' before it. */
  | {
      readonly type: 'closed';
      readonly reason: string;
      readonly initiator: ChannelCloseInitiator;
      readonly error?: ChannelError;
    };

/** How a request handler answered. */
export type RequestOutcome =
  | { readonly ok: true; readonly value: ChannelValue }
  | { readonly ok: false; readonly code: ChannelErrorCode; readonly message: string };

interface IncomingRequest {
  readonly deadline: number;
  /** A TIMEOUT error already went out; the slot stays taken until the handler settles. */
  answered: boolean;
}

/**
 * One channel's protocol state. `now` is a monotonic clock in ms (e.g. performance.now()).
 *
 * @example
 * const session = new ChannelSession(config, performance.now());
 * const { id, effects } = session.request('switch', 'on', true, performance.now());
 * apply(effects); socket.on('data', (c) => apply(session.receive(c, performance.now())));
 */
export class ChannelSession {
  readonly config: ChannelConfig;
  readonly #decoder: FrameDecoder;
  readonly #outgoing = new Map<number, number>();
  readonly #incoming = new Map<number, IncomingRequest>();
  #nextId = 1;
  #nextPing = 0;
  #lastReceivedAt: number;
  #lastPingAt: number;
  #open = true;
  #messagesReceived = 0;

  constructor(config: Partial<ChannelConfig> | undefined, now: number) {
    this.config = validateChannelConfig(config);
    this.#decoder = new FrameDecoder({ maxFrameBytes: this.config.maxFrameBytes });
    this.#lastReceivedAt = now;
    this.#lastPingAt = now;
  }

  /** Whether the channel is still open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Our requests awaiting an answer. */
  get outgoingInFlight(): number {
    return this.#outgoing.size;
  }

  /** The peer's requests whose handler has not settled yet. */
  get incomingInFlight(): number {
    return this.#incoming.size;
  }

  /** Valid messages received so far. */
  get messagesReceived(): number {
    return this.#messagesReceived;
  }

  /** Bytes held for an incomplete incoming frame. */
  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  #send(message: ChannelMessage): SessionEffect {
    return { type: 'send', bytes: encodeMessage(message, this.config.maxFrameBytes) };
  }

  #requireOpen(): void {
    if (!this.#open) throw new ChannelClosedError('CHANNEL_CLOSED', 'the channel is closed');
  }

  /**
   * Starts a request. Throws 'CHANNEL_CLOSED', 'CHANNEL_BUSY' (maxInFlight outstanding) or
   * 'CHANNEL_BAD_MESSAGE' (a name or value outside the schema) without changing any state.
   */
  request(
    capability: string,
    action: string,
    value: ChannelValue | undefined,
    now: number,
    timeoutMs: number = this.config.requestTimeoutMs,
  ): { id: number; effects: SessionEffect[] } {
    this.#requireOpen();
    if (
      !Number.isInteger(timeoutMs) ||
      timeoutMs < CHANNEL_CONFIG_BOUNDS.minTimeMs ||
      timeoutMs > CHANNEL_CONFIG_BOUNDS.maxTimeMs
    ) {
      throw new ChannelConfigError(
        'timeoutMs',
        `must be an integer from ${CHANNEL_CONFIG_BOUNDS.minTimeMs} to ${CHANNEL_CONFIG_BOUNDS.maxTimeMs}`,
      );
    }
    if (this.#outgoing.size >= this.config.maxInFlight) throw new ChannelBusyError(this.config.maxInFlight);
    let id = this.#nextId;
    // At most maxInFlight ids are taken, so this finds a free one within maxInFlight + 1 steps.
    while (this.#outgoing.has(id)) id = id >= MESSAGE_LIMITS.maxId ? 1 : id + 1;
    const message: RequestMessage =
      value === undefined
        ? { type: 'request', id, capability, action }
        : { type: 'request', id, capability, action, value };
    const send = this.#send(message);
    this.#nextId = id >= MESSAGE_LIMITS.maxId ? 1 : id + 1;
    this.#outgoing.set(id, now + timeoutMs);
    return { id, effects: [send] };
  }

  /** Pushes an event to the peer. Throws 'CHANNEL_CLOSED' or 'CHANNEL_BAD_MESSAGE'. */
  event(name: ChannelEventName, value: ChannelValue, at: number, capability?: string): SessionEffect[] {
    this.#requireOpen();
    const message: EventMessage =
      capability === undefined ? { type: 'event', name, value, at } : { type: 'event', name, capability, value, at };
    return [this.#send(message)];
  }

  /**
   * Answers the peer's request `id`. An id not in flight (already answered by a timeout, or
   * never asked) is ignored. An outcome outside the schema is answered with INTERNAL.
   */
  reply(id: number, outcome: RequestOutcome): SessionEffect[] {
    const entry = this.#incoming.get(id);
    if (!entry) return [];
    this.#incoming.delete(id);
    if (entry.answered || !this.#open) return [];
    try {
      return [
        this.#send(
          outcome.ok
            ? { type: 'response', id, ok: true, value: outcome.value }
            : { type: 'error', id, code: outcome.code, message: outcome.message },
        ),
      ];
    } catch {
      return [this.#send({ type: 'error', id, code: 'INTERNAL', message: 'the answer could not be encoded' })];
    }
  }

  /** Takes bytes from the peer. */
  receive(chunk: Uint8Array, now: number): SessionEffect[] {
    if (!this.#open) return [];
    let bodies: Buffer[];
    try {
      bodies = this.#decoder.push(chunk);
    } catch (err) {
      return this.#protocolError(err, now);
    }
    const effects: SessionEffect[] = [];
    for (const body of bodies) {
      let message: ChannelMessage;
      try {
        message = parseMessage(body, this.config.maxFrameBytes);
      } catch (err) {
        effects.push(...this.#protocolError(err, now));
        return effects;
      }
      this.#messagesReceived++;
      this.#lastReceivedAt = now;
      this.#dispatch(message, now, effects);
      if (!this.#open) break;
    }
    return effects;
  }

  #protocolError(err: unknown, now: number): SessionEffect[] {
    if (!(err instanceof ChannelError)) throw err;
    return this.close('protocol-error', now, err);
  }

  #dispatch(message: ChannelMessage, now: number, effects: SessionEffect[]): void {
    switch (message.type) {
      case 'request': {
        if (this.#incoming.has(message.id)) {
          effects.push(
            this.#send({ type: 'error', id: message.id, code: 'BAD_REQUEST', message: 'request id already in flight' }),
          );
        } else if (this.#incoming.size >= this.config.maxInFlight) {
          effects.push(
            this.#send({ type: 'error', id: message.id, code: 'BUSY', message: 'too many requests in flight' }),
          );
        } else {
          this.#incoming.set(message.id, { deadline: now + this.config.requestTimeoutMs, answered: false });
          effects.push({ type: 'request', request: message });
        }
        return;
      }
      case 'response':
      case 'error': {
        // An id we are not waiting for is a late answer to a request that timed out: dropped.
        if (!this.#outgoing.delete(message.id)) return;
        effects.push(
          message.type === 'response'
            ? { type: 'resolve', id: message.id, value: message.value }
            : { type: 'reject', id: message.id, error: new ChannelRequestError(message.code, message.message) },
        );
        return;
      }
      case 'event':
        effects.push({ type: 'event', event: message });
        return;
      case 'ping':
        effects.push(this.#send({ type: 'pong', n: message.n }));
        return;
      case 'pong':
        return;
      case 'bye':
        effects.push(...this.#end(message.reason, 'peer', undefined));
        return;
    }
  }

  /**
   * The server's greeting: an unsolicited pong (a one-way heartbeat that needs no answer),
   * sent as soon as it has accepted the client's key. The client waits for it.
   */
  greet(): SessionEffect[] {
    this.#requireOpen();
    return [this.#send({ type: 'pong', n: 0 })];
  }

  /** Sends a ping now. */
  ping(now: number): SessionEffect[] {
    this.#requireOpen();
    this.#lastPingAt = now;
    const n = this.#nextPing;
    this.#nextPing = n >= MESSAGE_LIMITS.maxCounter ? 0 : n + 1;
    return [this.#send({ type: 'ping', n })];
  }

  /** Advances time: request timeouts, keepalive pings, a dead peer. */
  tick(now: number): SessionEffect[] {
    if (!this.#open) return [];
    const silentMs = now - this.#lastReceivedAt;
    if (silentMs >= this.config.deadAfterMs) return this.close('peer-dead', now, new ChannelPeerDeadError(silentMs));
    const effects: SessionEffect[] = [];
    for (const [id, deadline] of this.#outgoing) {
      if (now < deadline) continue;
      this.#outgoing.delete(id);
      effects.push({
        type: 'reject',
        id,
        error: new ChannelTimeoutError('CHANNEL_REQUEST_TIMEOUT', 'no answer in time', { id }),
      });
    }
    for (const [id, entry] of this.#incoming) {
      if (entry.answered || now < entry.deadline) continue;
      entry.answered = true;
      effects.push(this.#send({ type: 'error', id, code: 'TIMEOUT', message: 'the handler did not answer in time' }));
    }
    if (now - Math.max(this.#lastReceivedAt, this.#lastPingAt) >= this.config.keepaliveMs)
      effects.push(...this.ping(now));
    return effects;
  }

  /** The earliest time {@link tick} has something to do, or undefined once closed. */
  nextDeadline(): number | undefined {
    if (!this.#open) return undefined;
    let next = Math.min(
      this.#lastReceivedAt + this.config.deadAfterMs,
      Math.max(this.#lastReceivedAt, this.#lastPingAt) + this.config.keepaliveMs,
    );
    for (const deadline of this.#outgoing.values()) if (deadline < next) next = deadline;
    for (const entry of this.#incoming.values()) if (!entry.answered && entry.deadline < next) next = entry.deadline;
    return next;
  }

  /** Ends the channel from our side: says bye (with `reason`) and fails what is pending. */
  close(reason: string, _now: number, error?: ChannelError): SessionEffect[] {
    if (!this.#open) return [];
    let bye: SessionEffect;
    try {
      bye = this.#send({ type: 'bye', reason });
    } catch {
      bye = this.#send({ type: 'bye', reason: 'closing' });
    }
    return [bye, ...this.#end(reason, 'local', error)];
  }

  /** The transport went away without a bye: fails what is pending. */
  transportClosed(error?: ChannelError): SessionEffect[] {
    if (!this.#open) return [];
    return this.#end(error ? 'transport-error' : 'transport-closed', 'peer', error);
  }

  #end(reason: string, initiator: ChannelCloseInitiator, error: ChannelError | undefined): SessionEffect[] {
    this.#open = false;
    const effects: SessionEffect[] = [];
    for (const id of this.#outgoing.keys()) {
      effects.push({
        type: 'reject',
        id,
        error: new ChannelClosedError('CHANNEL_CLOSED', `the channel closed (${reason})`, { reason }, { cause: error }),
      });
    }
    this.#outgoing.clear();
    this.#incoming.clear();
    effects.push(error ? { type: 'closed', reason, initiator, error } : { type: 'closed', reason, initiator });
    return effects;
  }
}
