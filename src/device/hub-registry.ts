/**
 * The hubs this device has paired with: the list in hubs.json, the pin lookup the channel server
 * asks on each handshake, and writes kept in order so the file always holds the latest list.
 */
import { rm } from 'node:fs/promises';
import { pinnedPeers, type PinnedPeerLookup } from '../channel/index.ts';
import type { ModelSpec } from '../models/index.ts';
import { writeFileAtomic, readStateFile, SECRET_FILE_MODE, type DamagedStateSink } from '../storage/index.ts';
import type { PairingMode } from '../pairing/index.ts';
import { isUserName } from '../auth/index.ts';

/** A hub this device has paired with. */
export interface PairedHub {
  /** 'sha256:<hex>' of the hub's SubjectPublicKeyInfo: the only key accepted as this hub. */
  readonly pin: string;
  readonly mode: PairingMode;
  readonly pairedAt: string;
  /** The capabilities this hub may use. */
  readonly rights: readonly string[];
  /** People the household removed here that this hub has not heard of yet (it was not connected). */
  readonly pendingRemovals?: readonly string[];
}

/** Most removals kept for one hub; the oldest go first. */
export const MAX_PENDING_REMOVALS = 32;

const PIN_TEXT = /^sha256:[0-9a-f]{64}$/;
/** Longest pairing time accepted in the file, characters (an ISO date is 24). */
const MAX_PAIRED_AT_CHARS = 40;

function isHubRecord(r: Partial<PairedHub>, capabilityIds: ReadonlySet<string>): r is PairedHub {
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.pin === 'string' &&
    PIN_TEXT.test(r.pin) &&
    (r.mode === 'setup-code' || r.mode === 'push-button') &&
    typeof r.pairedAt === 'string' &&
    r.pairedAt.length <= MAX_PAIRED_AT_CHARS &&
    Array.isArray(r.rights) &&
    r.rights.every((x) => typeof x === 'string' && capabilityIds.has(x)) &&
    (r.pendingRemovals === undefined ||
      (Array.isArray(r.pendingRemovals) &&
        r.pendingRemovals.length <= MAX_PENDING_REMOVALS &&
        r.pendingRemovals.every(isUserName)))
  );
}

/** Parses hubs.json; throws on anything but a well-formed list of at most `maxHubs` hubs of `model`. */
function parseHubs(text: string, model: ModelSpec, maxHubs: number): PairedHub[] {
  const v = JSON.parse(text) as { version?: unknown; hubs?: unknown };
  if (typeof v !== 'object' || v === null || v.version !== 1 || !Array.isArray(v.hubs) || v.hubs.length > maxHubs) {
    throw new Error('bad hubs file');
  }
  const ids = new Set(model.capabilities.map((c) => c.id));
  return v.hubs.map((h: unknown) => {
    const r = h as Partial<PairedHub>;
    if (!isHubRecord(r, ids)) throw new Error('bad hub record');
    const pending = r.pendingRemovals?.length ? { pendingRemovals: [...r.pendingRemovals] } : {};
    return { pin: r.pin, mode: r.mode, pairedAt: r.pairedAt, rights: [...r.rights], ...pending };
  });
}

function lookupOf(hubs: readonly PairedHub[]): PinnedPeerLookup<string> {
  return pinnedPeers(hubs.map((h) => [Buffer.from(h.pin.slice(7), 'hex'), h.pin] as const));
}

/** The paired hubs, in memory and in `path`. */
export class HubRegistry {
  readonly #path: string;
  #hubs: PairedHub[] = [];
  #lookup = lookupOf([]);
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  /** Reads the file. Fails closed: a damaged list pins nobody (the owner pairs again); says whether it was. */
  async load(model: ModelSpec, maxHubs: number, damaged: DamagedStateSink): Promise<'loaded' | 'none' | 'damaged'> {
    let moved = false;
    const sink = {
      dir: damaged.dir,
      note: (e: Parameters<DamagedStateSink['note']>[0]) => {
        moved = true;
        damaged.note(e);
      },
    };
    const format = { name: 'hubs.json', version: 1, parse: (text: string) => parseHubs(text, model, maxHubs) };
    const hubs = await readStateFile(this.#path, format, sink);
    if (hubs) this.set(hubs);
    return hubs ? 'loaded' : moved ? 'damaged' : 'none';
  }

  get hubs(): PairedHub[] {
    return this.#hubs;
  }

  find(pin: string): PairedHub | undefined {
    return this.#hubs.find((h) => h.pin === pin);
  }

  /** The pin of a paired hub's key, or undefined. */
  lookup(spki: Buffer): string | undefined {
    return this.#lookup(spki);
  }

  set(next: PairedHub[]): void {
    this.#hubs = next;
    this.#lookup = lookupOf(next);
  }

  /** Writes the current list after any write in progress. */
  persist(): Promise<void> {
    const text = JSON.stringify({ version: 1, hubs: this.#hubs }, null, 2) + '\n';
    const write = (): Promise<void> => writeFileAtomic(this.#path, text, SECRET_FILE_MODE);
    this.#writing = this.#writing.catch(() => undefined).then(write);
    return this.#writing;
  }

  /** Waits for the write in progress, whatever its result. */
  async settled(): Promise<void> {
    await this.#writing.catch(() => undefined);
  }

  /** Forgets every hub and removes the file. */
  async clear(): Promise<void> {
    this.set([]);
    await this.settled();
    await rm(this.#path, { force: true });
  }
}
