/**
 * journal.flood-resistant: evidence a stranger cannot flush (issue 24). The auditor plants a few
 * failed logins from an address of its own, floods the surface with bare TLS handshakes (no
 * request) from several other loopback addresses, and reads the device's journal: every planted
 * failed login must still be there. A journal that keeps connections and security events in one
 * ring loses them as soon as the flood fills it; one that bounds its tiers apart keeps them.
 *
 * The flood is bounded in count, concurrency and time, and stops as soon as the journal shows how
 * it copes: the planted entries are gone, the journal states a drop, or the journal stops growing
 * with the flood (it aggregates). So a device that aggregates costs a few hundred handshakes.
 */
import { randomBytes } from 'node:crypto';
import { tierOf } from '../journal/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { loginDiscovery, NO_URL, unreachable } from './blackbox.ts';
import { PROBE_FAMILIES } from './config.ts';
import { tlsHandshake, type HttpsTarget } from './net.ts';
import type { LoginDriver } from './login.ts';
import { readJournal, settledJournal, type StoredJournalEntry } from './stored-journal.ts';
import type { Evidence } from './types.ts';

/** The flood probe's bounds. Counts are connections, times milliseconds. */
export interface FloodProbeLimits {
  /** Failed logins planted before the flood, from one address. */
  readonly plantedLogins: number;
  /** Loopback addresses the flood comes from (one, the host's, off loopback). */
  readonly floodSources: number;
  /** Handshakes per round; the journal is read after each round. */
  readonly roundHandshakes: number;
  /** Most handshakes of the whole flood. */
  readonly maxHandshakes: number;
  /** Handshakes in flight at once, spread over the sources (the device's per-source caps are 4 pending). */
  readonly concurrency: number;
  /** The flood stops by then, ms. */
  readonly maxFloodMs: number;
  /** One handshake, ms. */
  readonly handshakeTimeoutMs: number;
  /** A round that adds fewer journal entries than this share of its handshakes shows the journal aggregating. */
  readonly aggregatingGrowthShare: number;
  /** Wait after a round before reading the journal (the device writes in batches of ~50 ms), ms. */
  readonly roundSettleMs: number;
}

/** The default: 5 failed logins, then at most 3,000 handshakes from 10 addresses, 10 at once, 30 s. */
export const FLOOD_PROBE_LIMITS: Readonly<FloodProbeLimits> = Object.freeze({
  plantedLogins: 5,
  floodSources: 10,
  roundHandshakes: 300,
  maxHandshakes: 3_000,
  concurrency: 10,
  maxFloodMs: 30_000,
  handshakeTimeoutMs: 5_000,
  aggregatingGrowthShare: 0.25,
  roundSettleMs: 300,
});

/** The journal's own entries for a flood: a source's aggregate, and a tier's drop notice. */
const AGGREGATE_EVENTS: ReadonlySet<string> = new Set(['connection-flood', 'records-aggregated', 'events-aggregated']);
const DROP_EVENT = 'journal-drop';

/** Where the planted logins and the flood come from; undefined: the host's own address. */
interface ProbeAddresses {
  readonly plant: string | undefined;
  readonly flood: readonly (string | undefined)[];
}

/**
 * The plant's and the flood's addresses: in the /24 of the probe families, past their own, so
 * the flood's per-source counters and caps never touch another probe. Off loopback, one address.
 */
export function floodAddresses(familyBase: string | undefined, floodSources: number): ProbeAddresses {
  if (familyBase === undefined) return { plant: undefined, flood: [undefined] };
  const parts = familyBase.split('.').map(Number);
  const first = parts[3]!;
  const taken = (o: number): boolean => o >= first && o < first + PROBE_FAMILIES.length;
  const free: number[] = [];
  for (let k = 1; k <= 253 && free.length < floodSources + 1; k++) {
    const o = ((first + PROBE_FAMILIES.length - 3 + k) % 253) + 2; // 2..254: never .0, .1 or .255
    if (!taken(o)) free.push(o);
  }
  const at = (o: number): string => `${parts[0]}.${parts[1]}.${parts[2]}.${o}`;
  return { plant: at(free[0]!), flood: free.slice(1).map(at) };
}

/** 'a.b.c.d-e' for addresses of one /24, for evidence. */
function rangeText(addresses: readonly (string | undefined)[]): string {
  const set = addresses.filter((a): a is string => a !== undefined);
  if (set.length === 0) return "this host's address";
  const last = set[set.length - 1]!.split('.')[3];
  return set.length === 1 ? set[0]! : `${set.length} loopback addresses ${set[0]}-${last}`;
}

/** Whether a journal source ('a.b.c.d:port', or a network on a sensitive device) is the endpoint `ep`. */
function isFrom(source: string, ep: string): boolean {
  if (source === ep) return true;
  const address = ep.replace(/:\d+$/, '');
  if (source.endsWith('/24'))
    return address.split('.').slice(0, 3).join('.') === source.split('.').slice(0, 3).join('.');
  return source === '::1/128' && address === '[::1]';
}

/** A security event (a login, a lockout...) of a failed attempt from one of the endpoints, after `afterSeq`. */
function plantedEntries(
  entries: readonly StoredJournalEntry[],
  endpoints: readonly string[],
  afterSeq: number,
): StoredJournalEntry[] {
  return entries.filter(
    (e) =>
      (e.seq ?? 0) > afterSeq &&
      tierOf(e.event) === 'security' &&
      e.result !== 'success' &&
      e.result !== 'info' &&
      endpoints.some((ep) => isFrom(e.source, ep)),
  );
}

function lastSeq(entries: readonly StoredJournalEntry[]): number {
  return entries.reduce((n, e) => Math.max(n, e.seq ?? 0), 0);
}

/** Runs `count` bare handshakes over `from`, `concurrency` at once; stops starting new ones at `until`. */
async function floodRound(
  target: HttpsTarget,
  from: readonly (string | undefined)[],
  count: number,
  until: number,
  limits: FloodProbeLimits,
  seen: Set<string>,
): Promise<{ sent: number; completed: number }> {
  let next = 0;
  let completed = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < until) {
      const localAddress = from[next++ % from.length];
      const r = await tlsHandshake(target, localAddress ? { localAddress } : {}, limits.handshakeTimeoutMs);
      if (r.ok) completed++;
      if (r.local !== undefined && r.local.address !== '') seen.add(r.local.address.replace(/^::ffff:/, ''));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limits.concurrency, count) }, worker));
  return { sent: next, completed };
}

/** What the flood did and why it stopped. */
interface FloodRun {
  sent: number;
  completed: number;
  ms: number;
  /** The addresses the flood's connections came from, as the device saw them. */
  readonly from: Set<string>;
  stop: 'evicted' | 'drop-notice' | 'aggregating' | 'budget' | 'journal-gone';
  entries: StoredJournalEntry[] | undefined;
}

/** Floods in rounds until the journal shows how it copes with the flood, or the budget is used. */
async function runFlood(
  ctx: AuditContext,
  addresses: ProbeAddresses,
  planted: ReadonlySet<number>,
  baselineSeq: number,
  limits: FloodProbeLimits,
): Promise<FloodRun> {
  const started = Date.now();
  const until = started + Math.min(limits.maxFloodMs, Math.max(0, ctx.remainingMs() - 10_000));
  const run: FloodRun = {
    sent: 0,
    completed: 0,
    ms: 0,
    from: new Set(),
    stop: 'budget',
    entries: await readJournal(ctx),
  };
  while (run.sent < limits.maxHandshakes && Date.now() < until) {
    const before = lastSeq(run.entries ?? []);
    const count = Math.min(limits.roundHandshakes, limits.maxHandshakes - run.sent);
    const round = await floodRound(ctx.target!, addresses.flood, count, until, limits, run.from);
    run.sent += round.sent;
    run.completed += round.completed;
    await new Promise((r) => setTimeout(r, limits.roundSettleMs));
    run.entries = await readJournal(ctx);
    if (run.entries === undefined) run.stop = 'journal-gone';
    else if ([...planted].some((seq) => !run.entries!.some((e) => e.seq === seq))) run.stop = 'evicted';
    else if (run.entries.some((e) => e.event === DROP_EVENT && (e.seq ?? 0) > baselineSeq)) run.stop = 'drop-notice';
    else if (lastSeq(run.entries) - before < round.sent * limits.aggregatingGrowthShare) run.stop = 'aggregating';
    else continue;
    break;
  }
  run.ms = Date.now() - started;
  return run;
}

const STOP_TEXT: Readonly<Record<FloodRun['stop'], string>> = {
  evicted: 'stopped when planted entries left the journal',
  'drop-notice': 'stopped when the journal stated a drop',
  aggregating: 'stopped when the journal no longer grew with the flood (it aggregates per source)',
  budget: "the probe's budget ran out with the journal still growing with the flood: it reached none of its bounds",
  'journal-gone': 'stopped: the journal file disappeared',
};

/** How the journal accounts for the flood's connections: one by one, aggregated, dropped with a notice. */
function floodOnRecord(
  entries: readonly StoredJournalEntry[],
  flood: ReadonlySet<string>,
  baselineSeq: number,
): string {
  const mine = (e: StoredJournalEntry): boolean =>
    [...flood].some((a) => e.source.replace(/:\d+$/, '') === a || isFrom(e.source, `${a}:0`));
  const after = entries.filter((e) => (e.seq ?? 0) > baselineSeq);
  const single = after.filter((e) => tierOf(e.event) === 'connection' && !AGGREGATE_EVENTS.has(e.event) && mine(e));
  const aggregates = after.filter((e) => AGGREGATE_EVENTS.has(e.event) && mine(e));
  const counted = aggregates.reduce((n, e) => n + countIn(e.detail, /^([\d,]+) more/), 0);
  const notices = after.filter((e) => e.event === DROP_EVENT);
  const dropped = notices.reduce((n, e) => n + countIn(e.detail, /^dropped ([\d,]+)/), 0);
  return (
    `${single.length} recorded one by one, ${counted} in ${aggregates.length} aggregated entr` +
    `${aggregates.length === 1 ? 'y' : 'ies'}, ${dropped} dropped with ${notices.length} drop notice` +
    `${notices.length === 1 ? '' : 's'} (aggregates of a window still open are written when it ends)`
  );
}

function countIn(detail: string | undefined, pattern: RegExp): number {
  const m = pattern.exec(detail ?? '');
  return m === null ? 0 : Number(m[1]!.replace(/,/g, ''));
}

/** Plants failed logins from `from`; returns the endpoints of those the device answered. */
async function plantFailedLogins(
  ctx: AuditContext,
  driver: LoginDriver,
  from: string | undefined,
  count: number,
): Promise<{ endpoints: string[]; answers: string[] }> {
  const endpoints: string[] = [];
  const answers: string[] = [];
  for (let i = 0; i < count; i++) {
    const password = `bulwark-audit-canary-${randomBytes(12).toString('base64url')}`;
    ctx.trace.canaries.push(password);
    const r = await driver.attempt({ username: 'admin', password, shown: 'a random wrong password' }, from);
    answers.push(r.status === 0 ? 'no answer' : String(r.status));
    if (r.local !== undefined && r.outcome !== 'unclear' && r.outcome !== 'accepted')
      endpoints.push(`${r.local.address.replace(/^::ffff:/, '')}:${r.local.port}`);
  }
  return { endpoints, answers };
}

/**
 * journal.flood-resistant: failed logins the auditor planted are still in the journal after a
 * bounded flood of bare TLS handshakes from several addresses.
 */
export async function checkFloodResistant(ctx: AuditContext): Promise<CheckOutcome> {
  const limits = FLOOD_PROBE_LIMITS;
  if (ctx.target === undefined) return notTested(NO_URL);
  if (ctx.inputs.stateDir === undefined)
    return notTested('needs --state to read the journal the planted logins must survive in');
  const down = await unreachable(ctx);
  if (down !== undefined) return notTested(down);
  const login = await loginDiscovery(ctx);
  if (login?.driver === undefined)
    return notTested(`cannot drive the login to plant failed logins: ${login?.note ?? 'not found'}`);
  const before = await readJournal(ctx);
  if (before === undefined) return notTested('there is no journal in the state folder: nothing was flooded');
  if (ctx.remainingMs() < 20_000) return notTested('the audit deadline is too near for the flood probe');
  const addresses = floodAddresses(ctx.sourceFor('tls'), limits.floodSources);
  const baselineSeq = lastSeq(before);
  const plant = await plantFailedLogins(ctx, login.driver, addresses.plant, limits.plantedLogins);
  // On a sensitive device every source is a network, so count the entries as well as match them.
  const recorded = (es: StoredJournalEntry[]): boolean =>
    plantedEntries(es, plant.endpoints, baselineSeq).length >= plant.endpoints.length &&
    plant.endpoints.every((ep) => plantedEntries(es, [ep], baselineSeq).length > 0);
  const settled = (await settledJournal(ctx, recorded)) ?? [];
  const planted = plantedEntries(settled, plant.endpoints, baselineSeq);
  const evidence: Evidence[] = [
    {
      sent: `${limits.plantedLogins} logins with random wrong passwords from ${rangeText([addresses.plant])}`,
      received:
        `answered ${plant.answers.join(', ')}; ${planted.length} failed attempt(s) in the journal before the flood` +
        (planted.length > 0 ? ` (seq ${planted[0]!.seq}-${planted[planted.length - 1]!.seq})` : ''),
      finding: planted.length === 0,
    },
  ];
  if (planted.length === 0)
    return { status: 'fail', summary: 'the failed logins the auditor planted never reached the journal', evidence };
  const run = await runFlood(ctx, addresses, new Set(planted.map((e) => e.seq)), baselineSeq, limits);
  return floodVerdict(evidence, run, planted, addresses, baselineSeq, limits);
}

/** The evidence of the flood and the journal after it, and the verdict. */
function floodVerdict(
  evidence: Evidence[],
  run: FloodRun,
  planted: readonly StoredJournalEntry[],
  addresses: ProbeAddresses,
  baselineSeq: number,
  limits: FloodProbeLimits,
): CheckOutcome {
  const after = run.entries ?? [];
  const gone = planted.filter((p) => !after.some((e) => e.seq === p.seq));
  evidence.push(
    {
      sent:
        `${run.sent} bare TLS handshakes (no request) from ${rangeText(addresses.flood)}, ` +
        `${limits.concurrency} at once, in ${run.ms} ms`,
      received: `${run.completed} completed; ${STOP_TEXT[run.stop]}`,
    },
    {
      sent: `the ${planted.length} planted failed logins in the journal after the flood`,
      received:
        gone.length === 0
          ? `all ${planted.length} still there`
          : `${gone.length} gone (seq ${gone.map((e) => e.seq).join(', ')})`,
      finding: gone.length > 0,
    },
    {
      sent: "the flood's connections in the journal",
      received: floodOnRecord(after, run.from, baselineSeq),
    },
  );
  return verdict(
    evidence,
    `every failed login the auditor planted is still in the journal after ${run.sent} bare handshakes from ` +
      `${rangeText(addresses.flood)}`,
    () => `a flood of ${run.sent} bare handshakes evicted ${gone.length} of ${planted.length} planted failed logins`,
  );
}
