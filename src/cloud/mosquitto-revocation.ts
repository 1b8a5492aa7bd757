/**
 * Revocation and trust on an external Mosquitto written by `bulwark cloud broker-config`: the cloud keeps
 * the broker's CRL equal to the store's revoked certificates, one CRL per CA (the manufacturer CA's for
 * birth certificates, each issuing generation's for its operational certificates: with CRL checking on,
 * Mosquitto refuses a certificate whose CA has no CRL), and the device listener's CA bundle equal to the
 * CAs it must trust (every issuing generation still trusted, and the manufacturer CA unless birth
 * certificates are confined to the enrolment listener). Both files are rewritten atomically, read back and
 * checked, then Mosquitto is told to reload (SIGHUP to the pid in its pid file): 2.0.11 re-reads cafile and
 * crlfile then, without dropping a connection (measured; cafile only when the listener has a crlfile). A
 * CA rotation made anywhere is seen by polling the store. Each newly revoked unit is disabled in the
 * dynamic-security plugin as the instance's admin identity (`bulwark-admin-<instance>`), which drops a
 * live connection. Nobody else is disturbed.
 *
 * Without a pid file (the cloud runs as another user than Mosquitto and may not signal it), install the
 * `bulwark-mosquitto-crl.path`/`.service` pair broker-config writes: systemd runs `systemctl reload mosquitto`
 * whenever crl.pem is renamed into place. Failures are typed, logged and retried; they never stop the cloud.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BulwarkError } from '../errors/index.ts';
import { CloudError, type CloudErrorCode } from './errors.ts';
import { writeFileAtomic, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { connectMqtt, parseMqttsUrl, type MqttClient } from '../mqtt/index.ts';
import {
  createRevocationList,
  loadCaSigner,
  readRevocationList,
  type CaSigner,
  type CrlReason,
} from '../identity/index.ts';
import { CRL_VALIDITY_MS, dynsecAdminFiles, dynsecAdminName } from './broker-config.ts';
import type { RevokedSerialNumber } from './revocation-sql.ts';
import type { IssuingCaRecord } from './issuing-sql.ts';
import type { RevocationReason, RevocationRecord } from './revocation.ts';

/** Stable codes of Mosquitto revocation failures (part of the folder's CloudErrorCode). */
export type MosquittoRevocationErrorCode = Extract<
  CloudErrorCode,
  'MOSQUITTO_CRL_FAILED' | 'MOSQUITTO_RELOAD_FAILED' | 'MOSQUITTO_DYNSEC_FAILED'
>;

/**
 * Mosquitto could not be brought in step: the CRL could not be written or read back
 * ('MOSQUITTO_CRL_FAILED'), the broker could not be signalled ('MOSQUITTO_RELOAD_FAILED'), or the
 * dynamic-security plugin did not confirm a command ('MOSQUITTO_DYNSEC_FAILED').
 */
export class MosquittoRevocationError extends CloudError {}

/** Bounds of the Mosquitto revocation. */
export interface MosquittoRevocationConfig {
  /** The CRL is re-issued this often even with nothing new, ms (it is valid 30 days). */
  readonly reissueIntervalMs: number;
  /** After a failure, everything is applied again this much later, ms. */
  readonly retryMs: number;
  /** Longest wait for the admin connection and for each answer of the plugin, ms. */
  readonly answerTimeoutMs: number;
  /** Units disabled per command message (two commands each; the broker's packet limit is 8 KiB by default). */
  readonly unitsPerMessage: number;
  /** How often the store's issuing CAs are compared with what the broker trusts, ms (a rotation made elsewhere). */
  readonly trustPollMs: number;
}

/** The defaults: daily re-issue, a retry 10 s after a failure. */
export const defaultMosquittoRevocationConfig: Readonly<MosquittoRevocationConfig> = Object.freeze({
  reissueIntervalMs: 86_400_000,
  retryMs: 10_000,
  answerTimeoutMs: 5_000,
  unitsPerMessage: 20,
  trustPollMs: 1_000,
});

/** What Mosquitto revocation needs from the store. */
export interface RevokedSerialSource {
  revokedSerialNumbers(): Promise<RevokedSerialNumber[]>;
  revocations(): Promise<RevocationRecord[]>;
  /** The issuing CA generations (signers of their CRLs; the trusted ones go into the device listener's bundle). */
  issuingCas(): Promise<IssuingCaRecord[]>;
}

/** The settings of {@link MosquittoRevocation}. */
export interface MosquittoRevocationOptions {
  /** The `bulwark cloud broker-config` folder: crl.pem and the admin identity are there. */
  readonly configDir: string;
  /** Mosquitto's pid file (its `pid_file`): SIGHUP reloads the CRL. Absent: a systemd .path unit reloads it. */
  readonly pidFile?: string;
  /** The manufacturer CA, which signs the CRL. */
  readonly ca: CaSigner;
  /** `mqtts://host:port` of the broker. */
  readonly brokerUrl: string;
  /** This cloud instance's name; its admin identity is `bulwark-admin-<instance>`. */
  readonly instance: string;
  /** The admin identity's certificate and key; default: read from `configDir`. */
  readonly admin?: { readonly certPem: string; readonly keyPem: string };
  readonly store: RevokedSerialSource;
  /**
   * Whether the device listener trusts birth certificates too ('full', as before operational certificates)
   * or only operational ones ('enrolment': birth certificates go to the enrolment listener). Default 'full'.
   */
  readonly birthCertificates?: 'enrolment' | 'full';
  readonly log: (line: string) => void;
  readonly config?: Partial<MosquittoRevocationConfig>;
}

const CRL_REASONS: Record<RevocationReason, CrlReason> = {
  'key-compromise': 'keyCompromise',
  clone: 'keyCompromise',
  stolen: 'keyCompromise',
  retired: 'cessationOfOperation',
  superseded: 'superseded',
  other: 'unspecified',
};

/** What the broker was last given of the issuing CAs: each generation and whether it is retired. */
function generationsKey(cas: readonly IssuingCaRecord[]): string {
  return cas.map((r) => `${r.generation}${r.retiredAt === null ? '' : 'r'}`).join(',');
}

/** The CRL file of a broker-config folder. */
export function mosquittoCrlFile(configDir: string): string {
  return join(configDir, 'crl.pem');
}

/** The device listener's CA bundle in a broker-config folder (the cloud keeps it; broker-config seeds it). */
export function mosquittoTrustFile(configDir: string): string {
  return join(configDir, 'device-cas.pem');
}

/** The PEM blocks of one kind (`X509 CRL`, `CERTIFICATE`) in a concatenated file, in order. */
export function pemBlocks(text: string, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return (text.match(re) ?? []).map((b) => b + '\n');
}

/** One CRL of `ca` listing `revoked`, checked by reading it back before it is used. */
async function checkedCrl(ca: CaSigner, revoked: readonly RevokedSerialNumber[], now: Date): Promise<string> {
  const entries = revoked.map((r) => ({
    serialNumber: r.serialNumber,
    revokedAt: new Date(r.revokedAt),
    reason: CRL_REASONS[r.reason] ?? 'unspecified',
  }));
  const window = {
    thisUpdate: new Date(now.getTime() - 60_000),
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
  };
  const pem = await createRevocationList(ca, entries, window);
  const expected = entries.map((e) => e.serialNumber.replace(/^0+/, '')).sort();
  const listed = (await readRevocationList(pem, ca.certPem)).serialNumbers.map((s) => s.replace(/^0+/, '')).sort();
  if (listed.join() !== expected.join()) throw new Error('the list read back names other serial numbers');
  return pem;
}

/**
 * Writes the CRLs of `revoked` to `file` atomically (0644): one per CA, concatenated (the manufacturer
 * CA's for birth certificates, generation null; each of `issuers` for its own, even with nothing revoked,
 * since Mosquitto refuses every certificate of a CA without a CRL). Each is checked (it parses, is signed
 * by its CA, lists what it should) and the file read back before returning: Mosquitto must never reload a
 * damaged list (it would then refuse everyone until a good one). A revoked certificate of a generation
 * `issuers` lacks cannot be listed and fails the write.
 */
export async function writeMosquittoCrl(
  file: string,
  ca: CaSigner,
  revoked: readonly RevokedSerialNumber[],
  now = new Date(),
  issuers: ReadonlyMap<number, CaSigner> = new Map(),
): Promise<string> {
  try {
    const unknown = revoked.find((r) => r.generation !== null && !issuers.has(r.generation));
    if (unknown) throw new Error(`no signer for issuing CA generation ${unknown.generation}`);
    const parts = [
      await checkedCrl(
        ca,
        revoked.filter((r) => r.generation === null),
        now,
      ),
    ];
    for (const [generation, signer] of [...issuers].sort((a, b) => a[0] - b[0]))
      parts.push(
        await checkedCrl(
          signer,
          revoked.filter((r) => r.generation === generation),
          now,
        ),
      );
    const pem = parts.join('');
    await writeFileAtomic(file, pem, PUBLIC_FILE_MODE);
    if ((await readFile(file, 'utf8')) !== pem) throw new Error(`${file} does not hold what was written`);
    return pem;
  } catch (err) {
    throw new MosquittoRevocationError('MOSQUITTO_CRL_FAILED', `CRL not written: ${(err as Error).message}`, { file });
  }
}

/** Writes the device listener's CA bundle (`pems` concatenated) atomically (0644) and reads it back. */
export async function writeMosquittoTrust(file: string, pems: readonly string[]): Promise<string> {
  const text = pems.map((p) => (p.endsWith('\n') ? p : p + '\n')).join('');
  try {
    if (pemBlocks(text, 'CERTIFICATE').length !== pems.length || pems.length === 0)
      throw new Error('the bundle must hold one certificate per CA, and at least one');
    await writeFileAtomic(file, text, PUBLIC_FILE_MODE);
    if ((await readFile(file, 'utf8')) !== text) throw new Error(`${file} does not hold what was written`);
    return text;
  } catch (err) {
    throw new MosquittoRevocationError('MOSQUITTO_CRL_FAILED', `CA bundle not written: ${(err as Error).message}`, {
      file,
    });
  }
}

/** Sends SIGHUP to the process whose pid `pidFile` holds. */
export async function signalMosquittoReload(pidFile: string): Promise<number> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch (err) {
    throw new MosquittoRevocationError('MOSQUITTO_RELOAD_FAILED', `cannot read ${pidFile}: ${(err as Error).message}`);
  }
  if (!Number.isInteger(pid) || pid <= 1)
    throw new MosquittoRevocationError('MOSQUITTO_RELOAD_FAILED', `${pidFile} holds no process id`);
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new MosquittoRevocationError('MOSQUITTO_RELOAD_FAILED', `cannot signal Mosquitto (pid ${pid}): ${code}`);
  }
  return pid;
}

/** The dynamic-security commands that disable `serials` (created first: the plugin knows no device). */
export function disableCommands(serials: readonly string[], correlation: string): string {
  const commands = serials.flatMap((username, i) => [
    { command: 'createClient', username, correlationData: `${correlation}-c${i}` },
    { command: 'disableClient', username, correlationData: `${correlation}-d${i}` },
  ]);
  return JSON.stringify({ commands });
}

/** Checks the plugin's answer to {@link disableCommands}: every disableClient succeeded. */
export function checkDisableAnswer(answer: Buffer, serials: readonly string[], correlation: string): boolean {
  let parsed: { responses?: Array<{ command?: string; error?: string; correlationData?: string }> };
  try {
    parsed = JSON.parse(answer.toString('utf8')) as typeof parsed;
  } catch {
    return false;
  }
  const mine = (parsed.responses ?? []).filter((r) => r.correlationData?.startsWith(`${correlation}-`));
  if (mine.length === 0) return false;
  const disabled = mine.filter((r) => r.command === 'disableClient');
  const failed = disabled.filter((r) => r.error !== undefined);
  if (failed.length > 0 || disabled.length !== serials.length)
    throw new MosquittoRevocationError('MOSQUITTO_DYNSEC_FAILED', `disableClient refused: ${failed[0]?.error ?? '?'}`);
  return true;
}

const CONTROL_TOPIC = '$CONTROL/dynamic-security/v1';

/** One short admin session: connects, sends each batch and waits for its answer, disconnects. */
async function disableOnBroker(
  o: { brokerUrl: string; caCertPem: string; admin: { certPem: string; keyPem: string }; instance: string },
  serials: readonly string[],
  c: MosquittoRevocationConfig,
): Promise<void> {
  let client: MqttClient;
  try {
    const { host, port } = parseMqttsUrl(o.brokerUrl);
    client = connectMqtt({
      host,
      port,
      ca: o.caCertPem,
      cert: o.admin.certPem,
      key: o.admin.keyPem,
      clientId: dynsecAdminName(o.instance),
      keepaliveSeconds: 30,
      connectTimeoutMs: c.answerTimeoutMs,
    });
  } catch (err) {
    throw new MosquittoRevocationError('MOSQUITTO_DYNSEC_FAILED', `admin connection: ${(err as Error).message}`);
  }
  try {
    await adminStep(client, c.answerTimeoutMs, 'connect', (done) => client.once('connect', () => done()));
    await adminStep(client, c.answerTimeoutMs, 'subscribe', (done) =>
      client.subscribe([`${CONTROL_TOPIC}/response`], 1, done),
    );
    for (let i = 0; i < serials.length; i += c.unitsPerMessage) {
      const batch = serials.slice(i, i + c.unitsPerMessage);
      const correlation = randomBytes(6).toString('hex');
      await adminStep(client, c.answerTimeoutMs, 'answer', (done) => {
        const onMessage = (topic: string, payload: Buffer): void => {
          try {
            if (topic !== `${CONTROL_TOPIC}/response` || !checkDisableAnswer(payload, batch, correlation)) return;
            client.off('message', onMessage);
            done();
          } catch (err) {
            client.off('message', onMessage);
            done(err as Error);
          }
        };
        client.on('message', onMessage);
        client.publish(CONTROL_TOPIC, Buffer.from(disableCommands(batch, correlation)), 1, (err) => {
          if (err) done(err);
        });
      });
    }
  } finally {
    client.end();
  }
}

/** Waits for `start`'s callback, the connection's failure or `timeoutMs`; typed MOSQUITTO_DYNSEC_FAILED. */
function adminStep(
  client: MqttClient,
  timeoutMs: number,
  what: string,
  start: (done: (err?: Error) => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (reason: string): void => {
      finish();
      reject(new MosquittoRevocationError('MOSQUITTO_DYNSEC_FAILED', `admin ${what}: ${reason}`));
    };
    const onError = (err: Error): void => fail(err.message);
    const onClose = (): void => fail('the broker closed the admin connection');
    const timer = setTimeout(() => fail(`no answer in ${timeoutMs} ms`), timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.on('error', onError);
    client.on('close', onClose);
    start((err) => {
      if (err) {
        if (err instanceof MosquittoRevocationError) {
          finish();
          reject(err);
        } else fail(err.message);
        return;
      }
      finish();
      resolve();
    });
  });
}

/**
 * Keeps one Mosquitto in step with the store's revocations. {@link applyAll} at start (a restart
 * re-applies everything), {@link revoked} for each new revocation; one application runs at a time.
 *
 * @example
 * const m = new MosquittoRevocation({ configDir: 'broker', pidFile: '/run/mosquitto/mosquitto.pid', ca, brokerUrl,
 *   instance: '1', store, log });
 * await m.applyAll();
 */
export class MosquittoRevocation {
  readonly #o: MosquittoRevocationOptions;
  readonly #c: MosquittoRevocationConfig;
  #chain: Promise<void> = Promise.resolve();
  /** Units still to disable (kept across a failure, so the retry covers them). */
  readonly #toDisable = new Set<string>();
  #reissue: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #trustPoll: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The issuing generations (and whether retired) last written to the broker; '' before the first. */
  #appliedGenerations = '';
  /** Signers of the issuing generations, loaded once each. */
  readonly #issuers = new Map<number, CaSigner>();

  constructor(o: MosquittoRevocationOptions) {
    this.#o = o;
    this.#c = { ...defaultMosquittoRevocationConfig, ...(o.config ?? {}) };
  }

  /**
   * Writes the CRL and the device listener's CA bundle from the store, reloads, disables every revoked
   * unit, and starts the daily re-issue and the watch for a CA rotation.
   */
  applyAll(): Promise<void> {
    this.#reissue ??= setInterval(() => void this.#enqueue(false), this.#c.reissueIntervalMs);
    this.#reissue.unref();
    this.#trustPoll ??= setInterval(() => void this.#followRotation(), this.#c.trustPollMs);
    this.#trustPoll.unref();
    return this.#enqueue(true);
  }

  /** Enforces new revocations (the enforcer's onChange); resolves when applied or the failure logged. */
  revoked(added: readonly RevocationRecord[]): Promise<void> {
    for (const r of added) if (r.serial !== null) this.#toDisable.add(r.serial);
    return this.#enqueue(false);
  }

  /** Resolves when everything asked so far has been applied or has failed (and been logged). */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** Stops the re-issue and retries. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#reissue);
    clearInterval(this.#trustPoll);
    clearTimeout(this.#retry);
  }

  /** Applies again when the store's issuing generations differ from what the broker was given. */
  async #followRotation(): Promise<void> {
    try {
      const key = generationsKey(await this.#o.store.issuingCas());
      if (key !== this.#appliedGenerations) await this.#enqueue(false);
    } catch (err) {
      this.#o.log(`Mosquitto trust watch failed: ${(err as Error).message}`);
    }
  }

  #enqueue(everyUnit: boolean): Promise<void> {
    const step = async (): Promise<void> => {
      if (this.#stopped) return;
      try {
        await this.#apply(everyUnit);
      } catch (err) {
        const code: string = err instanceof BulwarkError ? String(err.code) : 'ERROR';
        this.#o.log(`Mosquitto revocation failed (${code}): ${(err as Error).message}; retrying`);
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => void this.#enqueue(everyUnit), this.#c.retryMs);
        this.#retry.unref();
      }
    };
    this.#chain = this.#chain.then(step, step);
    return this.#chain;
  }

  async #apply(everyUnit: boolean): Promise<void> {
    const o = this.#o;
    const cas = await o.store.issuingCas();
    for (const r of cas)
      if (!this.#issuers.has(r.generation)) this.#issuers.set(r.generation, await loadCaSigner(r.certPem, r.keyPem));
    const revoked = await o.store.revokedSerialNumbers();
    // The CRLs first: a CA the bundle adds must find its CRL at the same reload.
    await writeMosquittoCrl(mosquittoCrlFile(o.configDir), o.ca, revoked, new Date(), this.#issuers);
    const trusted = cas.filter((r) => r.retiredAt === null).map((r) => r.certPem);
    const birth = (o.birthCertificates ?? 'full') === 'full' ? [o.ca.certPem] : [];
    await writeMosquittoTrust(mosquittoTrustFile(o.configDir), [...birth, ...trusted]);
    if (o.pidFile !== undefined) await signalMosquittoReload(o.pidFile);
    this.#appliedGenerations = generationsKey(cas);
    if (everyUnit) for (const s of await this.#revokedUnits()) this.#toDisable.add(s);
    const serials = [...this.#toDisable].sort();
    if (serials.length > 0) {
      await disableOnBroker({ ...o, caCertPem: o.ca.certPem, admin: await this.#admin() }, serials, this.#c);
      for (const s of serials) this.#toDisable.delete(s);
    }
    o.log(
      `Mosquitto: CRL of ${revoked.length} certificates loaded, ${serials.length} units disabled, ` +
        `${trusted.length} issuing CA(s) trusted`,
    );
  }

  async #revokedUnits(): Promise<string[]> {
    const records = await this.#o.store.revocations();
    return records.flatMap((r) => (r.serial === null ? [] : [r.serial]));
  }

  async #admin(): Promise<{ certPem: string; keyPem: string }> {
    if (this.#o.admin) return this.#o.admin;
    const files = dynsecAdminFiles(this.#o.configDir, this.#o.instance);
    try {
      const [certPem, keyPem] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
      return { certPem, keyPem };
    } catch {
      throw new MosquittoRevocationError('MOSQUITTO_DYNSEC_FAILED', `no admin identity at ${files.certFile}`);
    }
  }
}
