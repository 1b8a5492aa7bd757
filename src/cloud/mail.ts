/**
 * The cloud's mail to owners: one message builder (plain text in the owner's words), and two ways
 * out. With an SMTP server configured the cloud sends over it, STARTTLS required and the server's
 * certificate checked against the maker's CA (optionally pinned); with none (the embedded default,
 * the demo) each message is written to a maildir in the cloud's state folder (`<state>/mail`).
 *
 * Messages go out from a bounded queue after the request is answered, so how long a server takes
 * never shows in an answer's timing. A token is only ever in a message's body: the log names the
 * kind of message and the outcome, never the address, the body or a link.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import nodemailer, { type Transporter } from 'nodemailer';
import { writeAll } from '../storage/index.ts';
import { CloudConfigError, MailError } from './errors.ts';

/** An SMTP server the maker configures. STARTTLS is always required. */
export interface SmtpConfig {
  readonly host: string;
  /** 587 (submission) by default. */
  readonly port: number;
  /** PEM of the CA(s) the server's certificate must chain to; absent: the system's. */
  readonly caPem?: string;
  /** SHA-256 (hex) of the server certificate's DER: when set, only that certificate is accepted. */
  readonly pinSha256?: string;
  /** The name the certificate must carry; default: `host`. */
  readonly servername?: string;
  /** Login, when the server asks for one. */
  readonly user?: string;
  readonly pass?: string;
}

/** Settings of the cloud's mail. */
export interface MailConfig {
  /** The From: of every message. */
  readonly from: string;
  /** The origin links in messages point to, e.g. 'https://cloud.example.com'; null: the owner API's URL. */
  readonly linkBase: string | null;
  /** null (the default): messages go to the maildir `<state>/mail`. */
  readonly smtp: SmtpConfig | null;
  /** Messages waiting to go out at most; more are dropped and logged. */
  readonly maxQueued: number;
  /** One SMTP exchange at most, ms. */
  readonly timeoutMs: number;
}

/** The secure default: no server, so the maildir. */
export const defaultMailConfig: Readonly<MailConfig> = Object.freeze({
  from: 'Bulwark Cloud <no-reply@bulwark.invalid>',
  linkBase: null,
  smtp: null,
  maxQueued: 1_000,
  timeoutMs: 30_000,
});

const ADDRESS = /^[^\s@<>"'`]{1,64}@[a-z0-9.-]{1,253}$/i;

function validateSmtp(s: Partial<SmtpConfig>): SmtpConfig {
  const smtp = { port: 587, ...s } as SmtpConfig;
  if (typeof smtp.host !== 'string' || !/^[a-z0-9.:[\]-]{1,255}$/i.test(smtp.host))
    throw new CloudConfigError('mail.smtp.host', 'must be a host name or address');
  if (!Number.isInteger(smtp.port) || smtp.port < 1 || smtp.port > 65_535)
    throw new CloudConfigError('mail.smtp.port', 'must be a port number');
  if (smtp.port === 465) throw new CloudConfigError('mail.smtp.port', 'use submission with STARTTLS (587)');
  if (smtp.pinSha256 !== undefined && !/^[0-9a-f]{64}$/.test(smtp.pinSha256))
    throw new CloudConfigError('mail.smtp.pinSha256', 'must be a SHA-256 in hex');
  if (smtp.caPem !== undefined && !smtp.caPem.includes('-----BEGIN CERTIFICATE-----'))
    throw new CloudConfigError('mail.smtp.caPem', 'must be PEM certificates');
  if ((smtp.user === undefined) !== (smtp.pass === undefined))
    throw new CloudConfigError('mail.smtp.user', 'user and pass go together');
  return smtp;
}

/** Validates a (partial) mail config; there is no setting that sends without TLS. */
export function validateMailConfig(config: Partial<MailConfig> = {}): MailConfig {
  const c = { ...defaultMailConfig, ...config };
  const from = /<([^>]+)>\s*$/.exec(c.from)?.[1] ?? c.from;
  if (typeof c.from !== 'string' || c.from.length > 200 || /[\r\n]/.test(c.from) || !ADDRESS.test(from))
    throw new CloudConfigError('mail.from', 'must be an address, optionally with a name: Name <a@b.example>');
  if (c.linkBase !== null && !/^https:\/\/[a-z0-9.:[\]-]{1,255}$/i.test(c.linkBase))
    throw new CloudConfigError('mail.linkBase', 'must be an https origin without a path');
  if (!Number.isInteger(c.maxQueued) || c.maxQueued < 1 || c.maxQueued > 100_000)
    throw new CloudConfigError('mail.maxQueued', 'must be an integer from 1 to 100000');
  if (!Number.isInteger(c.timeoutMs) || c.timeoutMs < 1_000 || c.timeoutMs > 300_000)
    throw new CloudConfigError('mail.timeoutMs', 'must be an integer from 1000 to 300000');
  return { ...c, smtp: c.smtp === null ? null : validateSmtp(c.smtp) };
}

/** What the cloud writes to owners about. */
export type MailKind =
  | 'verify'
  | 'signup-existing'
  | 'reset'
  | 'password-changed'
  | 'sign-in'
  | 'claim'
  | 'release'
  | 'invite'
  | 'member-added';

/** What a message may mention; `link` is the only place a token ever goes. */
export interface MailFacts {
  readonly link?: string;
  readonly serial?: string;
  readonly who?: string;
  readonly role?: string;
  readonly source?: string;
  readonly minutes?: number;
}

/** One message, ready to go. */
export interface OutgoingMail {
  readonly kind: MailKind;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

const SIGNATURE =
  '\n\n-- \nBulwark Cloud. You get this because of your account; we never ask for your password by mail.\n';

function lines(subject: string, ...body: string[]): { subject: string; text: string } {
  return { subject, text: body.join('\n\n') + SIGNATURE };
}

/** The subject and plain-text body of a message of `kind`. */
export function composeMail(kind: MailKind, f: MailFacts): { subject: string; text: string } {
  const notYou = 'If this was not you, change your password and look at your devices.';
  switch (kind) {
    case 'verify':
      return lines(
        'Confirm your e-mail address',
        'Someone, hopefully you, created a Bulwark Cloud account with this address.',
        `Open this link to confirm it; until then the account cannot claim a device:\n${f.link}`,
        'If it was not you, ignore this message: nothing happens without the link.',
      );
    case 'signup-existing':
      return lines(
        'Someone tried to create an account with your address',
        'Someone tried to create a Bulwark Cloud account with this address, which already has one.',
        'Nothing changed. If it was you and you forgot your password, reset it here:\n' + f.link,
      );
    case 'reset':
      return lines(
        'Reset your password',
        `Open this link within ${f.minutes} minutes to choose a new password; it works once:\n${f.link}`,
        'If you did not ask for this, ignore this message: your password stays as it is.',
      );
    case 'password-changed':
      return lines('Your password was changed', 'The password of your account was just changed.', notYou);
    case 'sign-in':
      return lines('New sign-in', `Your account was just signed in to from ${f.source}.`, notYou);
    case 'claim':
      return lines('A device was added', `${f.serial} was claimed by your account.`, notYou);
    case 'release':
      return lines('A device was released', `${f.serial} is no longer in your account.`, notYou);
    case 'invite':
      return lines(
        'You are invited to a household',
        `${f.who} invites you to use their devices as a ${f.role}.`,
        `Open this link while signed in (or after creating an account) to accept; it works once:\n${f.link}`,
      );
    case 'member-added':
      return lines('A person joined your household', `${f.who} accepted your invitation as a ${f.role}.`, notYou);
  }
}

/** Where messages go. */
export interface MailTransport {
  /** `'maildir'` or `'smtp'`. */
  readonly kind: 'maildir' | 'smtp';
  deliver(mail: OutgoingMail, from: string): Promise<void>;
  close(): void;
}

/** The message as RFC 5322 bytes. */
async function rawMessage(mail: OutgoingMail, from: string): Promise<Buffer> {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const info = await composer.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
  return info.message as Buffer;
}

let sequence = 0;

/** A maildir's unique name: `<seconds>.M<microseconds>P<pid>Q<n>.<host>` (the maildir convention). */
export function maildirName(now = Date.now()): string {
  const host = hostname().replace(/[/:]/g, '_') || 'localhost';
  const usec = (now % 1000) * 1000 + Math.floor(Math.random() * 1000);
  return `${Math.floor(now / 1000)}.M${usec}P${process.pid}Q${++sequence}.${host}`;
}

/** Writes `bytes` into the maildir `dir`: to tmp/, fsynced, then renamed into new/ (never half a message). */
export async function writeMaildirMessage(dir: string, bytes: Uint8Array): Promise<string> {
  await Promise.all(['tmp', 'new', 'cur'].map((d) => mkdir(join(dir, d), { recursive: true, mode: 0o700 })));
  const name = maildirName();
  const tmp = join(dir, 'tmp', name);
  const out = await open(tmp, 'wx', 0o600);
  try {
    await writeAll(out, bytes);
    await out.sync();
  } finally {
    await out.close();
  }
  await rename(tmp, join(dir, 'new', name));
  const folder = await open(join(dir, 'new'), 'r');
  await folder.sync().finally(() => folder.close());
  return name;
}

/** Messages as files in a maildir (read them with any mail client, or `cat`); the folders are made now. */
export function maildirTransport(dir: string): MailTransport {
  for (const d of ['tmp', 'new', 'cur']) mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
  return {
    kind: 'maildir',
    deliver: async (mail, from) => {
      await writeMaildirMessage(dir, await rawMessage(mail, from));
    },
    close: () => undefined,
  };
}

/** The certificate check: the CA chain and name as usual, then the pin when there is one. */
function pinnedCheck(pin: string | undefined): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const err = checkServerIdentity(host, cert);
    if (err || pin === undefined) return err;
    const seen = createHash('sha256').update(cert.raw).digest('hex');
    return seen === pin ? undefined : new MailError('MAIL_FAILED', 'the SMTP server showed another certificate');
  };
}

/** Messages over SMTP, STARTTLS required (a server that does not offer it gets nothing). */
export function smtpTransport(smtp: SmtpConfig, timeoutMs: number): MailTransport {
  const transporter: Transporter = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: false,
    requireTLS: true,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    ...(smtp.user !== undefined ? { auth: { user: smtp.user, pass: smtp.pass! } } : {}),
    tls: {
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      servername: smtp.servername ?? smtp.host,
      ...(smtp.caPem !== undefined ? { ca: smtp.caPem } : {}),
      checkServerIdentity: pinnedCheck(smtp.pinSha256),
    },
  });
  return {
    kind: 'smtp',
    deliver: async (mail, from) => {
      await transporter.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transporter.close(),
  };
}

/**
 * The cloud's outgoing mail: messages queue (bounded) and go out one at a time after the answer.
 *
 * @example
 * const mailer = new Mailer({ config: validateMailConfig(), maildir: join(stateDir, 'mail'), log });
 * mailer.send('verify', 'owner@example.com', { link });
 */
export class Mailer {
  readonly #config: MailConfig;
  readonly #maildir: string;
  readonly #transport: MailTransport;
  readonly #log: (message: string) => void;
  readonly #queue: OutgoingMail[] = [];
  #running: Promise<void> | undefined;
  #sent = 0;
  #failed = 0;

  constructor(o: { config: MailConfig; maildir: string; log: (message: string) => void; transport?: MailTransport }) {
    this.#maildir = o.maildir;
    this.#config = o.config;
    this.#log = o.log;
    this.#transport =
      o.transport ?? (o.config.smtp ? smtpTransport(o.config.smtp, o.config.timeoutMs) : maildirTransport(o.maildir));
  }

  /** Where messages go: 'smtp' or 'maildir'. */
  get transport(): 'smtp' | 'maildir' {
    return this.#transport.kind;
  }

  /** Counters for the log and tests: messages delivered and failed since start. */
  get counts(): { sent: number; failed: number; queued: number } {
    return { sent: this.#sent, failed: this.#failed, queued: this.#queue.length };
  }

  /** Deletes what this cloud keeps of its messages to `to` (its maildir's); a server's mailboxes are not its own. */
  async forget(to: string): Promise<number> {
    await this.idle();
    return this.#transport.kind === 'maildir' ? forgetMaildirAddress(this.#maildir, to) : 0;
  }

  /** Queues a message of `kind` to `to`; never throws, never waits for the server. */
  send(kind: MailKind, to: string, facts: MailFacts = {}): void {
    if (this.#queue.length >= this.#config.maxQueued) {
      this.#failed++;
      this.#log(`mail: queue full, a ${kind} message was dropped`);
      return;
    }
    this.#queue.push({ kind, to, ...composeMail(kind, facts) });
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
  }

  async #drain(): Promise<void> {
    for (let mail = this.#queue.shift(); mail; mail = this.#queue.shift()) {
      try {
        await this.#transport.deliver(mail, this.#config.from);
        this.#sent++;
      } catch (err) {
        this.#failed++;
        // The error's code only: an SMTP answer may quote the recipient.
        this.#log(`mail: a ${mail.kind} message was not delivered (${(err as { code?: string }).code ?? 'error'})`);
      }
    }
  }

  /** Resolves when every queued message went out (or failed). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Waits for the queue, then closes the transport. */
  async close(): Promise<void> {
    await this.idle();
    this.#transport.close();
  }
}

/** A message's text with quoted-printable soft breaks and escapes undone. */
function unquoted(raw: string): string {
  const bytes = raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** One message the cloud wrote to its maildir, as text. */
export interface StoredMail {
  readonly name: string;
  readonly to: string;
  readonly subject: string;
  readonly date: string;
  readonly text: string;
}

/** A single-part message of the cloud's own (headers, then a plain body in 7bit, quoted-printable or base64). */
function parseStoredMail(name: string, raw: string): StoredMail {
  const split = raw.search(/\r?\n\r?\n/);
  const head = (split < 0 ? raw : raw.slice(0, split)).replace(/\r?\n[ \t]+/g, ' ');
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const header = (key: string): string => new RegExp(`^${key}:[ \t]*(.*)$`, 'mi').exec(head)?.[1]?.trim() ?? '';
  const encoding = header('Content-Transfer-Encoding').toLowerCase();
  const text =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? unquoted(body)
        : body;
  return { name, to: header('To'), subject: header('Subject'), date: header('Date'), text };
}

/** The messages in the maildir `dir` (new/ then cur/), oldest first by name; at most `limit` (the newest). */
export async function maildirMessages(dir: string, limit = 100): Promise<StoredMail[]> {
  const out: StoredMail[] = [];
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const name of names) out.push(parseStoredMail(name, await readFile(join(dir, sub, name), 'utf8')));
  }
  const order = (n: string): [number, number] => {
    const m = /^(\d+)\.M(\d+)/.exec(n);
    return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
  };
  out.sort((a, b) => {
    const [x, y] = [order(a.name), order(b.name)];
    return x[0] - y[0] || x[1] - y[1];
  });
  return out.slice(-limit);
}

/**
 * Deletes every message to `to` from the maildir `dir` (new/, cur/ and tmp/): an account's deletion leaves no message
 * of it behind, links included. Resolves with how many were deleted.
 */
export async function forgetMaildirAddress(dir: string, to: string): Promise<number> {
  const address = to.toLowerCase();
  let deleted = 0;
  for (const sub of ['new', 'cur', 'tmp']) {
    for (const name of await readdir(join(dir, sub)).catch(() => [] as string[])) {
      const path = join(dir, sub, name);
      const raw = await readFile(path, 'utf8').catch(() => undefined);
      if (raw === undefined || parseStoredMail(name, raw).to.toLowerCase() !== address) continue;
      await rm(path, { force: true });
      deleted++;
    }
  }
  return deleted;
}

/**
 * The newest link to `path` (e.g. '/verify') in the maildir's messages to `to`, or undefined: how the
 * demo, which has no mailbox, follows the confirmation link the cloud wrote for it.
 */
export async function findMailedLink(dir: string, to: string, path: string): Promise<string | undefined> {
  const escaped = path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const link = new RegExp(`https://\\S+${escaped}\\?token=[A-Za-z0-9._%-]+`);
  const mine = (await maildirMessages(dir, 10_000)).filter((m) => m.to.toLowerCase().includes(to.toLowerCase()));
  return mine
    .map((m) => link.exec(m.text)?.[0])
    .filter((l) => l !== undefined)
    .at(-1);
}
