/**
 * The device's web certificate, kept short-lived: valid at most 398 days (src/identity's
 * `WEB_CERTIFICATE_DAYS`), issued again by the unit itself for the bundle's key when a third of its
 * life is left, saved in the state folder (the bundle is the factory's and stays read-only) and
 * swapped into the running server. The key never changes, so an owner's browser exception on the
 * key and the hub's pin keep matching. Certificates are read with node:crypto; src/identity (and
 * @peculiar/x509 behind it) is loaded only when a renewal is due. See docs/bundle.md.
 */
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireIntegerSetting } from '../errors/index.ts';
import { writeFileAtomic } from '../storage/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';

/** The renewed certificate in the agent's state folder (public; its key stays the bundle's). */
export const WEB_CERT_STATE_FILE = 'web-cert.pem';
/** Browsers and testssl.sh refuse a server certificate valid longer than this, days. */
export const MAX_WEB_CERTIFICATE_DAYS = 398;
const DAY_MS = 86_400_000;

/** Settings of the renewal. */
export interface WebCertificateConfig {
  /** How often the certificate's remaining life is checked while running, ms (1_000..86_400_000). */
  readonly checkIntervalMs: number;
}

/** Safe defaults: a check every 6 hours (a renewal is due months before expiry). */
export const defaultWebCertificateConfig: WebCertificateConfig = { checkIntervalMs: 21_600_000 };

/** What the owner's page tells of the certificate it is served with. */
export interface WebCertificateView {
  /** SHA-256 of the DER certificate, 'AB:CD:...'. */
  readonly fingerprint256: string;
  /** SHA-256 of the public key (SPKI), hex: what a pin on the key compares. */
  readonly spkiSha256: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Reads a PEM certificate's fingerprint, key hash and validity. */
export function viewOf(certPem: string): WebCertificateView {
  const cert = new X509Certificate(certPem);
  return {
    fingerprint256: cert.fingerprint256,
    spkiSha256: spkiSha256Of(cert.publicKey),
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
  };
}

function spkiSha256Of(key: ReturnType<typeof createPublicKey>): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/**
 * Why the certificate must be issued again at `now`, or undefined while it is good: expired or not
 * yet valid, a lifetime over 398 days (the factory's former 20 years), or less than a third left.
 */
export function renewalReason(view: WebCertificateView, now: number): string | undefined {
  const life = view.notAfter - view.notBefore;
  if (now >= view.notAfter) return 'expired';
  if (now < view.notBefore) return 'not yet valid';
  if (life > MAX_WEB_CERTIFICATE_DAYS * DAY_MS) return `valid ${Math.round(life / DAY_MS)} days, over 398`;
  if (view.notAfter - now < life / 3) return 'less than a third of its validity left';
  return undefined;
}

/** The certificate's end in the owner's words: '6 January 2028'. */
export function ownerDate(at: number): string {
  const options = { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' } as const;
  return new Date(at).toLocaleDateString('en-GB', options);
}

/** The journal as the renewal needs it. */
export interface CertificateJournal {
  record(entry: {
    surface: 'web';
    source: 'local';
    event: 'certificate-renewed';
    result: 'success' | 'failure';
    detail: string;
  }): void;
}

/** Options of {@link openWebCertificate}. */
export interface WebCertificateOptions {
  readonly bundle: DeviceBundle;
  readonly stateDir: string;
  readonly journal: CertificateJournal;
  /** The unit's clock (src/clock's `now`); default the wall clock. */
  readonly clock?: { now(): number };
  readonly config?: Partial<WebCertificateConfig>;
  readonly log?: (message: string) => void;
}

/** The certificate the web service serves, renewed in place. */
export interface WebCertificate {
  /** The certificate served now (its key is the bundle's). */
  certPem(): string;
  view(): WebCertificateView;
  /** Renews the certificate if due; never rejects (a failure is journalled and tried at the next check). */
  check(): Promise<void>;
  /** Checks on the configured period from now on, handing each new certificate to `serve`. */
  start(serve: (certPem: string, keyPem: string) => void): void;
  stop(): void;
}

/** The renewed certificate in the state folder when it is for the bundle's key and valid at `now`. */
async function savedCertificate(o: WebCertificateOptions, now: number): Promise<string | undefined> {
  const pem = await readFile(join(o.stateDir, WEB_CERT_STATE_FILE), 'utf8').catch(() => undefined);
  if (pem === undefined) return undefined;
  try {
    const view = viewOf(pem);
    const keySpki = spkiSha256Of(createPublicKey(o.bundle.webKeyPem));
    return view.spkiSha256 === keySpki && now >= view.notBefore && now < view.notAfter ? pem : undefined;
  } catch {
    o.log?.(`${WEB_CERT_STATE_FILE} is not a certificate: the bundle's is used`);
    return undefined;
  }
}

/**
 * Opens the web certificate: the renewed one in the state folder if it is for the bundle's key and
 * valid, else the bundle's; then renews it at once if due (so a legacy 20-year one is replaced at start).
 * @throws ConfigError 'DEVICE_CONFIG_INVALID' for a check interval out of range
 */
export async function openWebCertificate(o: WebCertificateOptions): Promise<WebCertificate> {
  const config = { ...defaultWebCertificateConfig, ...o.config };
  const { checkIntervalMs } = config;
  requireIntegerSetting('DEVICE_CONFIG_INVALID', 'webCertificate.checkIntervalMs', checkIntervalMs, 1_000, DAY_MS);
  const now = (): number => o.clock?.now() ?? Date.now();
  let current = (await savedCertificate(o, now())) ?? o.bundle.webCertPem;
  let serve: ((certPem: string, keyPem: string) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const renew = async (reason: string): Promise<void> => {
    const certPem = await issue(o, now());
    await writeFileAtomic(join(o.stateDir, WEB_CERT_STATE_FILE), certPem);
    serve?.(certPem, o.bundle.webKeyPem);
    current = certPem;
    const v = viewOf(certPem);
    const detail = `${reason}: now sha256 ${v.fingerprint256.slice(0, 23)}…, valid until ${ownerDate(v.notAfter)}`;
    o.journal.record({ surface: 'web', source: 'local', event: 'certificate-renewed', result: 'success', detail });
    o.log?.(`web certificate renewed (${detail})`);
  };
  const check = (): Promise<void> => {
    const reason = renewalReason(viewOf(current), now());
    if (reason === undefined || running) return running ?? Promise.resolve();
    running = renew(reason)
      .catch((err: unknown) => noteFailure(o, reason, err))
      .finally(() => (running = undefined));
    return running;
  };
  await check();
  return {
    certPem: () => current,
    view: () => viewOf(current),
    check,
    start(s) {
      serve = s;
      timer ??= setInterval(() => void check(), checkIntervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

/** A new certificate for the bundle's key; src/identity is loaded here, only when one is due. */
async function issue(o: WebCertificateOptions, now: number): Promise<string> {
  const { renewWebCertificate } = await import('../identity/index.ts');
  const { serial, maker } = o.bundle.unit;
  return renewWebCertificate(o.bundle.webKeyPem, serial, maker, { now: new Date(now) });
}

function noteFailure(o: WebCertificateOptions, reason: string, err: unknown): void {
  const code = (err as { code?: unknown }).code;
  const why = typeof code === 'string' ? code : err instanceof Error ? err.message.slice(0, 80) : 'error';
  const detail = `${reason}; not renewed (${why}), tried again at the next check`;
  o.journal.record({ surface: 'web', source: 'local', event: 'certificate-renewed', result: 'failure', detail });
  o.log?.(`web certificate: ${detail}`);
}
