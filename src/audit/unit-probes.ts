/**
 * Measurements on a unit the auditor runs itself (a fresh unit or a reset copy, on loopback): the oldest TLS version
 * its admin page accepts, how many wrong logins one address gets before it backs off and for how long, how long a
 * button press opens the pairing window, how long the owner's postpone holds updates back, and how old a journal
 * entry it still keeps. Each measures what the running code does, whatever its configuration says.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import type { DeviceAgent } from '../device/index.ts';
import { TLS_VERSION_LEVELS } from '../models/index.ts';
import type { AuditLimits } from './config.ts';
import { parseForms } from './html-forms.ts';
import { httpsExchange, parseHttpsTarget, tlsHandshake, type HttpAnswer, type HttpsTarget } from './net.ts';

/** One measured value and how it was measured. */
export interface Measured {
  readonly value: number | string;
  readonly how: string;
}

const DAY_MS = 86_400_000;
// Offering TLS 1.0 and 1.1 needs OpenSSL's lowest security level on the auditor's side.
const OLD_CIPHERS = 'DEFAULT:@SECLEVEL=0';

/**
 * The oldest TLS version the unit's admin page completes a handshake with; undefined when the auditor could not offer
 * an old version or no handshake completed.
 */
export async function oldestTlsAccepted(url: string, limits: AuditLimits): Promise<Measured | undefined> {
  const target = parseHttpsTarget(url)!;
  const oldestFirst = [...TLS_VERSION_LEVELS].reverse() as SecureVersion[];
  const tried: string[] = [];
  for (const version of oldestFirst) {
    const r = await tlsHandshake(
      target,
      { minVersion: version, maxVersion: version, ...(version === 'TLSv1.3' ? {} : { ciphers: OLD_CIPHERS }) },
      limits.connectTimeoutMs,
    );
    if (r.clientUnable) return undefined;
    if (r.ok)
      return {
        value: version,
        how: `TLS handshakes offering one version each: ${[...tried, `${version} accepted`].join(', ')}`,
      };
    tried.push(`${version} refused`);
  }
  return undefined;
}

/** A small HTTPS client with a cookie jar, for the unit's own forms. */
class FormClient {
  readonly #target: HttpsTarget;
  readonly #limits: AuditLimits;
  readonly #jar = new Map<string, string>();
  constructor(url: string, limits: AuditLimits) {
    this.#target = parseHttpsTarget(url)!;
    this.#limits = limits;
  }

  async send(method: string, path: string, form?: Record<string, string>): Promise<HttpAnswer> {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const a = await httpsExchange(
      this.#target,
      {
        method,
        path,
        headers: {
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded', origin: this.#target.origin } : {}),
          ...(cookie ? { cookie } : {}),
        },
        ...(body !== undefined ? { body } : {}),
      },
      { ...this.#limits, maxResponseBytes: 1_048_576 },
    );
    const raw = a.headers['set-cookie'];
    for (const line of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      const pair = line.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq > 0) this.#jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    return a;
  }

  /** The unit's login form, or its setup form while the owner has not set a password: where a guesser guesses. */
  async guessForm(): Promise<GuessForm | undefined> {
    let path = '/login';
    let page = await this.send('GET', path);
    if (page.status === 303 && String(page.headers.location ?? '').startsWith('/setup')) {
      path = '/setup';
      page = await this.send('GET', path);
    }
    return guessFormOf(page.body, path);
  }
}

/** A form to guess in: where it posts and its fields filled with wrong values (its one-time token kept). */
interface GuessForm {
  readonly path: string;
  readonly fields: Record<string, string>;
}

/** The posted password form of a page, filled with wrong values; undefined when the page has none. */
function guessFormOf(html: string, path: string): GuessForm | undefined {
  const form = parseForms(html).find((f) => f.method === 'post' && f.inputs.some((i) => i.type === 'password'));
  if (form === undefined) return undefined;
  const fields: Record<string, string> = {};
  for (const i of form.inputs) {
    if (i.type === 'hidden') fields[i.name] = i.value;
    else if (i.type === 'password') fields[i.name] = 'Wrong-Guess-7qv2-Lm9x';
    else if (i.type !== 'submit') fields[i.name] = i.name === 'username' ? 'admin' : 'WRONG-0000-0000';
  }
  return { path: form.action || path, fields };
}

/**
 * Wrong logins (or wrong setup codes, before setup) from one address until the unit answers 429, at most `cap`:
 * the number answered before the back-off, and the back-off the 429 asks for (Retry-After, seconds).
 */
export async function lockoutOfOneAddress(
  url: string,
  limits: AuditLimits,
  cap: number,
): Promise<{ threshold?: Measured; backoff?: Measured; note?: string }> {
  const client = new FormClient(url, limits);
  let form = await client.guessForm();
  if (form === undefined) return { note: 'the unit showed no login or setup form' };
  const what = form.path === '/setup' ? 'wrong setup codes' : 'wrong passwords';
  for (let tried = 0; tried <= cap; tried++) {
    const a = await client.send('POST', form.path, form.fields);
    // Each answer carries the form again, with a new one-time token.
    form = guessFormOf(a.body, form.path) ?? form;
    if (a.status === 429) {
      const seconds = Number(a.headers['retry-after']);
      const how = `${what} from one address to POST ${form.path}: ${tried} answered, then 429`;
      return {
        threshold: { value: tried, how },
        ...(Number.isFinite(seconds) ? { backoff: { value: seconds, how: `${how} with Retry-After ${seconds}` } } : {}),
      };
    }
    if (a.status !== 401)
      return { note: `POST ${form.path} answered ${a.status || `nothing (${a.error ?? '?'})`}, not a refused guess` };
  }
  const how = `${what} from one address to POST ${form.path}: ${cap + 1} answered without a back-off`;
  return { threshold: { value: cap + 1, how }, note: 'no back-off seen, so its length was not measured' };
}

/** Presses the unit's button and reads how long the pairing window it opened stays open, in minutes. */
export async function pairingWindowOfAPress(agent: DeviceAgent, stateDir: string): Promise<Measured | undefined> {
  const { pressButton } = await import('../device/index.ts');
  await pressButton(stateDir, 'press');
  const s = agent.hub.pairingStatus();
  if (!s.open || s.closesAt === undefined) return undefined;
  // Read at once: the window's length to the second.
  const minutes = Math.round((s.closesAt - performance.now()) / 1_000) / 60;
  return { value: minutes, how: `a button press opened the pairing window: it closes in ${minutes} min` };
}

/** Postpones automatic updates as the owner would and reads for how long, in days (rounded up). */
export async function postponeOfTheOwner(agent: DeviceAgent): Promise<Measured | undefined> {
  const before = Date.now();
  await agent.updater.postpone();
  const until = agent.updater.status().postponedUntil;
  if (until === null) return undefined;
  // To the minute: the few milliseconds the action took are not a longer postpone.
  const days = Math.round((Date.parse(until) - before) / 60_000) / 1_440;
  return { value: days, how: `the owner's postpone (the admin page's action) holds updates back until ${until}` };
}

/** The ages planted in a fresh unit's journal, days: enough to bracket any retention the journal accepts. */
function retentionLadder(baselineDays: number): number[] {
  const ages = [1, 7, 14, 30, 60, 90, 180, 365, 730, 3_650, baselineDays, baselineDays + 1];
  return [...new Set(ages)].filter((d) => d >= 1 && d <= 3_651).sort((a, b) => a - b);
}

/**
 * Writes a journal into a fresh unit's empty state folder with one security event per age of the ladder, each an hour
 * younger than its age on the unit's own clock floor (the newest of the software's build floor and the day the unit
 * was made, which a fresh unit starts from): the journal keeps those within its retention and drops the rest.
 */
export async function plantAgedJournal(stateDir: string, floorMs: number, baselineDays: number): Promise<number[]> {
  const { JOURNAL_FILE_NAME } = await import('../journal/index.ts');
  const ages = retentionLadder(baselineDays).reverse();
  const lines = ages.map((days, i) =>
    JSON.stringify({
      seq: i + 1,
      at: plantedAt(floorMs, days),
      surface: 'state',
      source: 'local',
      event: 'audit-retention-probe',
      result: 'info',
    }),
  );
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFile(join(stateDir, JOURNAL_FILE_NAME), lines.join('\n') + '\n', { mode: 0o600 });
  return ages;
}

/** The time a planted entry of `days` carries. */
function plantedAt(floorMs: number, days: number): string {
  return new Date(floorMs - days * DAY_MS + 3_600_000).toISOString();
}

/** The oldest planted entry the running unit still lists, in days (0 when it keeps none). */
export async function oldestKeptOfPlanted(
  agent: DeviceAgent,
  floorMs: number,
  planted: readonly number[],
): Promise<Measured> {
  const rows = await agent.journal.list({ limit: 1_000, tier: 'security' });
  // Found by time: a sensitive unit's journal keeps no detail text.
  const times = new Set(rows.filter((r) => r.event === 'audit-retention-probe').map((r) => r.at));
  const kept = planted.filter((d) => times.has(plantedAt(floorMs, d)));
  const oldest = kept.length === 0 ? 0 : Math.max(...kept);
  const next = planted.filter((d) => d > oldest);
  return {
    value: oldest,
    how:
      `entries planted at ${planted.length} ages (1 to ${Math.max(...planted)} days) in a fresh journal: it keeps ` +
      `${oldest} days old${next.length ? ` and drops ${Math.min(...next)} days old` : ''}`,
  };
}
