/**
 * aedes's in-memory persistence with indexed outgoing queues. The stock one keeps each client's
 * queue of QoS 1 messages in an array and finds a message by scanning it, on every PUBACK and
 * every message-id assignment: with the cloud's subscriber thousands of messages behind, each
 * acknowledgement costs thousands of comparisons and the broker falls further behind the faster
 * it is fed (profiled: the backlog collapse of a paced 10,000 msgs/s). Here a queue is a Map in
 * queue order keyed by (broker id, broker counter), with a second Map from message id, so both
 * lookups are O(1) and the order (redelivery after a reconnect) is kept.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);

interface QueuedPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [k: string]: unknown;
}

type PacketConstructor = new (original: object) => QueuedPacket;
type MemoryPersistenceClass = new (opts?: object) => object;
type CallBackPersistenceClass = new (factory: (opts: object) => object, opts?: object) => object;

const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as MemoryPersistenceClass & {
  Packet: PacketConstructor;
};
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: CallBackPersistenceClass;
};
const Packet = MemoryPersistence.Packet;

/** Runs `fn` now, as an async method would: its result resolves the promise, what it throws rejects it. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

class OutgoingQueue {
  /** Queue order; key `${brokerId}:${brokerCounter}`. */
  readonly byKey = new Map<string, QueuedPacket>();
  readonly keyById = new Map<number, string>();
  #anonymous = 0;

  keyOf(p: QueuedPacket): string {
    return p.brokerId !== undefined && p.brokerCounter !== undefined
      ? `${p.brokerId}:${p.brokerCounter}`
      : `#${this.#anonymous++}`;
  }
}

/** The stock memory persistence with O(1) outgoing-queue operations (same semantics). */
class IndexedMemoryPersistence extends MemoryPersistence {
  readonly #queues = new Map<string, OutgoingQueue>();

  #queue(clientId: string): OutgoingQueue {
    let q = this.#queues.get(clientId);
    if (!q) {
      q = new OutgoingQueue();
      this.#queues.set(clientId, q);
    }
    return q;
  }

  #enqueue(clientId: string, packet: object): void {
    const q = this.#queue(clientId);
    const p = new Packet(packet);
    q.byKey.set(q.keyOf(p), p);
  }

  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void> {
    return settle(() => this.#enqueue(sub.clientId, packet));
  }

  outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }>, packet: object): Promise<void> {
    return settle(() => {
      for (const s of subs) this.#enqueue(s.clientId, packet);
    });
  }

  outgoingUpdate(client: { id: string }, packet: QueuedPacket): Promise<void> {
    return settle(() => this.#update(client, packet));
  }

  #update(client: { id: string }, packet: QueuedPacket): void {
    const q = this.#queue(client.id);
    const key =
      packet.brokerId !== undefined && packet.brokerCounter !== undefined
        ? `${packet.brokerId}:${packet.brokerCounter}`
        : undefined;
    const same = key !== undefined ? q.byKey.get(key) : undefined;
    if (same && key !== undefined) {
      if (same.messageId !== undefined && q.keyById.get(same.messageId) === key) q.keyById.delete(same.messageId);
      same.messageId = packet.messageId;
      if (packet.messageId !== undefined) q.keyById.set(packet.messageId, key);
      return;
    }
    // As the stock implementation: a packet from elsewhere with the same message id replaces it in place.
    const other = packet.messageId !== undefined ? q.keyById.get(packet.messageId) : undefined;
    if (other !== undefined) {
      q.byKey.set(other, packet);
      return;
    }
    throw new Error('no such packet');
  }

  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<QueuedPacket | undefined> {
    return settle(() => this.#clearMessageId(client, packet));
  }

  #clearMessageId(client: { id: string }, packet: { messageId?: number }): QueuedPacket | undefined {
    const q = this.#queues.get(client.id);
    if (!q || packet.messageId === undefined) return undefined;
    const key = q.keyById.get(packet.messageId);
    if (key === undefined) return undefined;
    q.keyById.delete(packet.messageId);
    const p = q.byKey.get(key);
    q.byKey.delete(key);
    if (q.byKey.size === 0) this.#queues.delete(client.id);
    return p;
  }

  outgoingStream(client: { id: string }): Readable {
    const q = this.#queues.get(client.id);
    return Readable.from(q ? [...q.byKey.values()] : []);
  }
}

/** A persistence for `new Aedes({ persistence })`. */
export function createIndexedPersistence(): object {
  return new CallBackPersistence((opts) => new IndexedMemoryPersistence(opts));
}
