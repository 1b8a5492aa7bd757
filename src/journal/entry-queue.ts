/**
 * An oldest-first queue of stored entries with O(1) amortised eviction from the front, so
 * recording into a full journal does not copy the whole journal on every entry.
 */

/** What the queue needs of an item: its size in bytes. */
export interface Sized {
  readonly bytes: number;
}

/** Oldest-first items with their total size. */
export class EntryQueue<T extends Sized> {
  #items: T[] = [];
  #head = 0;
  #bytes = 0;

  /** Live items. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Total bytes of the live items. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The i-th live item, 0 being the oldest. */
  at(i: number): T | undefined {
    return i < 0 || i >= this.length ? undefined : this.#items[this.#head + i];
  }

  push(item: T): void {
    this.#items.push(item);
    this.#bytes += item.bytes;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as unknown as T; // let it be collected
    this.#head++;
    this.#bytes -= item.bytes;
    // Reclaim the dead prefix once it is half the array: amortised O(1) per shift.
    if (this.#head >= 1_024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Keeps only the items `keep` accepts; calls `onDrop` for the others. */
  retain(keep: (item: T) => boolean, onDrop: (item: T) => void): void {
    const kept: T[] = [];
    let bytes = 0;
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (keep(item)) {
        kept.push(item);
        bytes += item.bytes;
      } else onDrop(item);
    }
    this.#items = kept;
    this.#head = 0;
    this.#bytes = bytes;
  }

  /** True when some live item satisfies `test`. */
  some(test: (item: T) => boolean): boolean {
    for (let i = this.#head; i < this.#items.length; i++) if (test(this.#items[i]!)) return true;
    return false;
  }

  /** The live items, newest first. */
  *newestFirst(): Generator<T> {
    for (let i = this.#items.length - 1; i >= this.#head; i--) yield this.#items[i]!;
  }

  /** A copy of the live items, oldest first. */
  toArray(): T[] {
    return this.#items.slice(this.#head);
  }

  /** Empties the queue and returns what it held. */
  clear(): T[] {
    const all = this.toArray();
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    return all;
  }
}
