/**
 * The device's key on the hub channel, kept in `<state>/channel-key.json` (0600, atomic writes).
 * Until the first rotation there is no file and the key is the bundle's web key, so a unit made
 * before rotations existed serves exactly as it did.
 *
 * A rotation makes a new P-256 key and its self-signed certificate (src/identity, loaded only
 * then), signs a statement of it with the current key (src/pairing's rotation statement), and
 * keeps both as `pending` beside the current key. The channel server goes on showing the current
 * key until every paired hub has fetched the statement and acknowledged it; only then does the
 * new key become current. So a power cut at any point leaves a key every paired hub accepts: the
 * old one until the switch is written, the new one (which each hub has re-pinned) after.
 *
 * Why wait for every hub rather than switch at once: a hub offline during the rotation then meets
 * the old key when it returns, still pinned, and is given the statement over that pinned channel.
 * The other way (switch now, let a returning hub fetch the statement from an unpinned key under an
 * exception) would put a hole in the pin check; waiting costs only time, and unpairing a hub that
 * never returns lets the switch go ahead.
 */
import { createPrivateKey, generateKeyPair, type KeyObject, X509Certificate } from 'node:crypto';
import { spkiSha256 } from '../channel/index.ts';
import { encodeKeyRotation, signKeyRotation } from '../pairing/index.ts';
import { readStateFile, writeStateFile, type DamagedStateSink, type StateFormat } from '../storage/index.ts';

/** A key and its certificate, PEM; `key` is a secret. */
export interface ChannelKeyPair {
  readonly key: string;
  readonly cert: string;
}

/** A rotation made and signed, not yet switched to. */
export interface PendingChannelKey extends ChannelKeyPair {
  /** The encoded statement (src/pairing `encodeKeyRotation`), signed by the current key. */
  readonly statement: string;
  /** 'sha256:<hex>' of the new key. */
  readonly pin: string;
  /** When the rotation was made, ISO 8601. */
  readonly issuedAt: string;
  /** The pins of the hubs that have re-pinned to the new key. */
  readonly acknowledged: readonly string[];
}

interface ChannelKeyFile {
  /** The key in use after a rotation, with the statement that introduced it; absent: the bundle's web key. */
  readonly current?: ChannelKeyPair & { readonly statement: string };
  readonly pending?: PendingChannelKey;
}

/** Characters of the statement in each `link rotation-part` answer (a channel string holds 256). */
export const ROTATION_PART_CHARS = 200;

const PIN_TEXT = /^sha256:[0-9a-f]{64}$/;
/** Most acknowledgements kept: more than the 8 hubs a unit pairs with, for hubs since unpaired. */
const MAX_ACKNOWLEDGED = 64;

function pinText(pin: Uint8Array): string {
  return 'sha256:' + Buffer.from(pin).toString('hex');
}

function checkPair(v: unknown): ChannelKeyPair & { statement?: unknown } {
  const p = v as Partial<ChannelKeyPair> | null;
  if (typeof p !== 'object' || p === null || typeof p.key !== 'string' || typeof p.cert !== 'string')
    throw new Error('bad key pair');
  if (!new X509Certificate(p.cert).checkPrivateKey(createPrivateKey(p.key)))
    throw new Error('key and certificate differ');
  return p as ChannelKeyPair;
}

function parseChannelKeyFile(text: string): ChannelKeyFile {
  const v = JSON.parse(text) as { version?: unknown; current?: unknown; pending?: unknown };
  if (typeof v !== 'object' || v === null || v.version !== 1) throw new Error('bad channel key file');
  const file: { current?: ChannelKeyFile['current']; pending?: PendingChannelKey } = {};
  if (v.current !== undefined) {
    const c = checkPair(v.current);
    if (typeof c.statement !== 'string') throw new Error('bad current key');
    file.current = { key: c.key, cert: c.cert, statement: c.statement };
  }
  if (v.pending !== undefined) {
    const p = checkPair(v.pending) as Partial<PendingChannelKey> & ChannelKeyPair;
    const { statement, pin, issuedAt } = p;
    const acks: unknown = p.acknowledged;
    if (
      typeof statement !== 'string' ||
      pin !== pinText(spkiSha256(p.cert)) ||
      typeof issuedAt !== 'string' ||
      !Array.isArray(acks) ||
      acks.length > MAX_ACKNOWLEDGED ||
      !acks.every((a): a is string => typeof a === 'string' && PIN_TEXT.test(a))
    )
      throw new Error('bad pending key');
    file.pending = { key: p.key, cert: p.cert, statement, pin, issuedAt, acknowledged: [...acks] };
  }
  return file;
}

const FORMAT: StateFormat<ChannelKeyFile> = { name: 'channel-key.json', version: 1, parse: parseChannelKeyFile };

/** A new P-256 key and a self-signed certificate for it (src/identity and @peculiar/x509 load here, not at start). */
async function newKeyPair(commonName: string): Promise<{ pair: ChannelKeyPair }> {
  // A promise by hand, not node:util's promisify: loading node:util brings worker_threads (1 MiB idle RSS).
  const privateKey = await new Promise<KeyObject>((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'P-256' }, (error, _publicKey, key) => (error ? reject(error) : resolve(key)));
  });
  const { createPinnedKeyCertificate } = await import('../identity/index.ts');
  const cert = await createPinnedKeyCertificate(privateKey, commonName);
  return { pair: { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert } };
}

/**
 * The channel key of one unit, in memory and in `path`.
 *
 * @example
 * const keys = await ChannelKeyStore.load(join(stateDir, 'channel-key.json'), bundle, damaged);
 * const pending = await keys.rotate(bundle.unit.serial, new Date());
 */
export class ChannelKeyStore {
  readonly #path: string;
  readonly #factory: ChannelKeyPair;
  #file: ChannelKeyFile;
  #writing: Promise<void> = Promise.resolve();
  #rotating: Promise<PendingChannelKey> | undefined;

  private constructor(path: string, factory: ChannelKeyPair, file: ChannelKeyFile) {
    this.#path = path;
    this.#factory = factory;
    this.#file = file;
  }

  /** Reads the file; a missing or damaged one (moved aside) leaves the bundle's web key in use. */
  static async load(path: string, factory: ChannelKeyPair, damaged: DamagedStateSink): Promise<ChannelKeyStore> {
    return new ChannelKeyStore(path, factory, (await readStateFile(path, FORMAT, damaged)) ?? {});
  }

  /** The key the channel server shows now. */
  get current(): ChannelKeyPair {
    return this.#file.current ?? this.#factory;
  }

  /** The rotation waiting for hubs to acknowledge it, if any. */
  get pending(): PendingChannelKey | undefined {
    return this.#file.pending;
  }

  /**
   * Makes a new key and signs its statement with the current one, and stores both before it
   * returns; a rotation already pending (or being made) is returned as it is: one at a time.
   */
  rotate(serial: string, now: Date): Promise<PendingChannelKey> {
    const pending = this.#file.pending;
    if (pending) return Promise.resolve(pending);
    this.#rotating ??= this.#makeRotation(serial, now).finally(() => {
      this.#rotating = undefined;
    });
    return this.#rotating;
  }

  async #makeRotation(serial: string, now: Date): Promise<PendingChannelKey> {
    const old = this.current;
    const { pair } = await newKeyPair(`Bulwark ${serial} hub channel`);
    const statement = signKeyRotation({
      serial,
      oldKey: createPrivateKey(old.key),
      oldCertificate: old.cert,
      newCertificate: pair.cert,
      issuedAt: now,
    });
    const pending: PendingChannelKey = {
      ...pair,
      statement: encodeKeyRotation(statement),
      pin: pinText(statement.newPin),
      issuedAt: statement.issuedAt,
      acknowledged: [],
    };
    await this.#save((file) => ({ ...file, pending }));
    return pending;
  }

  /** Records that the hub `hubPin` re-pinned to the pending key `newPin`; false when that is not the pending key. */
  async acknowledge(hubPin: string, newPin: string): Promise<boolean> {
    const matches = (f: ChannelKeyFile): boolean => f.pending?.pin === newPin && PIN_TEXT.test(hubPin);
    if (!matches(this.#file)) return false;
    await this.#save((file) => {
      const p = file.pending;
      if (!p || !matches(file) || p.acknowledged.includes(hubPin)) return file;
      return { ...file, pending: { ...p, acknowledged: [...p.acknowledged, hubPin].slice(-MAX_ACKNOWLEDGED) } };
    });
    return true;
  }

  /** Whether every hub in `hubPins` has acknowledged the pending key. */
  acknowledgedBy(hubPins: readonly string[]): boolean {
    const pending = this.#file.pending;
    return pending !== undefined && hubPins.every((p) => pending.acknowledged.includes(p));
  }

  /** Makes the pending key current (one atomic write); returns the key now current. */
  async switchToPending(): Promise<ChannelKeyPair> {
    await this.#save((file) =>
      file.pending
        ? { current: { key: file.pending.key, cert: file.pending.cert, statement: file.pending.statement } }
        : file,
    );
    return this.current;
  }

  /** Applies `change` to the file after any write in progress; memory changes only once it is on disk. */
  #save(change: (file: ChannelKeyFile) => ChannelKeyFile): Promise<void> {
    const write = async (): Promise<void> => {
      const next = change(this.#file);
      if (next === this.#file) return;
      await writeStateFile(this.#path, FORMAT, JSON.stringify({ version: 1, ...next }, null, 2) + '\n');
      this.#file = next;
    };
    this.#writing = this.#writing.catch(() => undefined).then(write);
    return this.#writing;
  }

  /** Waits for the write in progress, whatever its result. */
  async settled(): Promise<void> {
    await this.#writing.catch(() => undefined);
  }
}
