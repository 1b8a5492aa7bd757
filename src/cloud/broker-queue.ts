/**
 * The embedded broker's message dispatcher: aedes's mqemitter, with its waiting queue made a
 * real FIFO and a bound on it. Profiled at a paced 10,000 msgs/s, the stock mqemitter spent a
 * third of the broker's time in `Array.prototype.shift` on its waiting queue (O(n) per message
 * once thousands wait), so the further behind it fell the slower it got: the backlog collapse.
 * Here the queue is O(1) per message; many messages are dispatched at once (a message holds its
 * slot for two turns of the event loop, so a small number caps the rate whenever a turn is slow,
 * as on a busy machine); and publishers are held back (their PUBACK and their next packets wait)
 * while the backlog is over its bound, so memory stays bounded and the delay shows up at the
 * devices instead of inside the broker.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A FIFO with amortised O(1) push and shift, shaped like the arrays mqemitter uses. */
export class Fifo<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): number {
    this.#items.push(item);
    return this.length;
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head >= 1_024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** The dispatcher as aedes sees it (an mqemitter), plus the backlog bound. */
export interface BrokerQueue {
  /** Pass as `new Aedes({ mq })`. */
  readonly mq: { readonly length: number };
  /** Calls `go` at once when the backlog is under its bound, else when it has drained below half of it. */
  whenRoom(go: () => void): void;
  /** Messages being dispatched or waiting to be. */
  readonly length: number;
  /** Publishers held back right now. */
  readonly held: number;
}

/**
 * Creates the dispatcher. `concurrency`: messages dispatched at once; `maxQueued`: messages
 * waiting beyond those before publishers are held back.
 */
export function createBrokerQueue(concurrency: number, maxQueued: number): BrokerQueue {
  const mqemitter = require('mqemitter') as (opts: object) => {
    length: number;
    current: number;
    _messageQueue: unknown;
    _messageCallbacks: unknown;
  };
  const mq = mqemitter({ concurrency, matchEmptyLevels: true });
  // Messages being dispatched plus those waiting: what the bound is about.
  const backlog = (): number => mq.current + mq.length;
  mq._messageQueue = new Fifo();
  mq._messageCallbacks = new Fifo();
  const waiting = new Fifo<() => void>();
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    while (waiting.length > 0 && backlog() < maxQueued / 2) waiting.shift()!();
    if (waiting.length === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    mq,
    get length() {
      return backlog();
    },
    get held() {
      return waiting.length;
    },
    whenRoom(go: () => void): void {
      if (backlog() < maxQueued && waiting.length === 0) {
        go();
        return;
      }
      waiting.push(go);
      timer ??= setInterval(check, 2);
    },
  };
}
