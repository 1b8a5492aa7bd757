/**
 * Owner commands to devices: each gets a random id (the device runs an id at most once) and an
 * expiry (a command that reaches the device late is not run), is recorded in the store, sent at
 * QoS 1, and answered by the device's reply. The reply may reach another cloud instance (shared
 * subscription): that instance records it, and the waiting one sees it in the store.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { deviceTopic, encodePayload, type ReplyMessage, type ScalarValue } from '../cloudprotocol/index.ts';
import { CommandError } from './errors.ts';
import type { CloudStore, CommandRecord } from './store.ts';

/** Timing of commands, ms. */
export interface CommandConfig {
  /** The owner waits this long for the device's reply. */
  readonly replyTimeoutMs: number;
  /** The device refuses a command older than this. */
  readonly expiryMs: number;
  /** How often a waiting instance looks in the store for a reply another instance received. */
  readonly pollIntervalMs: number;
}

/** The defaults. */
export const defaultCommandConfig: Readonly<CommandConfig> = Object.freeze({
  replyTimeoutMs: 10_000,
  expiryMs: 30_000,
  pollIntervalMs: 200,
});

/** Sends commands and waits for their replies. */
export class CommandCenter {
  readonly #store: CloudStore;
  readonly #publish: (topic: string, payload: Uint8Array, qos: 0 | 1) => Promise<void>;
  readonly #replies: EventEmitter;
  readonly #config: CommandConfig;

  constructor(o: {
    store: CloudStore;
    publish: (topic: string, payload: Uint8Array, qos: 0 | 1) => Promise<void>;
    replies: EventEmitter;
    config?: Partial<CommandConfig>;
  }) {
    this.#store = o.store;
    this.#publish = o.publish;
    this.#replies = o.replies;
    this.#config = { ...defaultCommandConfig, ...o.config };
  }

  /** Sends a command to `serial` (which the caller has checked belongs to `accountId`) and waits for the reply. */
  async send(
    serial: string,
    accountId: string,
    capability: string,
    action: string,
    value?: ScalarValue,
  ): Promise<CommandRecord> {
    const now = Date.now();
    const id = randomBytes(16).toString('base64url');
    const record: CommandRecord = {
      id,
      serial,
      accountId,
      capability,
      action,
      value,
      createdAt: now,
      expiresAt: now + this.#config.expiryMs,
      status: 'sent',
      result: null,
    };
    await this.#store.createCommand(record);
    let done!: (reply: ReplyMessage | undefined) => void;
    const local = new Promise<ReplyMessage | undefined>((resolve) => {
      done = resolve;
    });
    const onReply = (from: string, reply: ReplyMessage): void => {
      if (from === serial && reply.id === id) done(reply);
    };
    this.#replies.on('reply', onReply);
    const timeout = setTimeout(() => done(undefined), this.#config.replyTimeoutMs);
    const poll = setInterval(() => {
      this.#store.command(id).then(
        (c) => {
          if (c && c.status !== 'sent') done({ id, ok: c.status === 'done' });
        },
        () => undefined,
      );
    }, this.#config.pollIntervalMs);
    try {
      try {
        await this.#publish(
          deviceTopic(serial, 'commands'),
          encodePayload({
            id,
            capability,
            action,
            ...(value !== undefined ? { value } : {}),
            expiresAt: record.expiresAt,
          }),
          1,
        );
      } catch {
        throw new CommandError('DEVICE_UNREACHABLE', 'the cloud could not reach its broker; try again');
      }
      const reply = await local;
      if (!reply) throw new CommandError('DEVICE_TIMEOUT', 'the device did not answer in time (is it online?)');
    } finally {
      clearTimeout(timeout);
      clearInterval(poll);
      this.#replies.off('reply', onReply);
    }
    const stored = await this.#store.command(id);
    if (!stored) throw new CommandError('DEVICE_TIMEOUT', 'the command record is gone');
    return stored;
  }
}
