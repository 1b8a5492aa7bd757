/**
 * Checks of the device's connection journal, white-box: the auditor's own connections and the
 * security events it caused are recorded, the passwords it sent are nowhere in the state folder,
 * a sensing device keeps no content or exact sources, and the journal keeps to its bounds.
 */
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { acceptsConfig, notTested, verdict, type CheckOutcome } from './context.ts';
import { isBulwark, NOT_BULWARK_CONFIG } from './device-info.ts';
import { readBounded, walk } from './files.ts';
import { readJournal, settledJournal, type StoredJournalEntry } from './stored-journal.ts';
import type { Evidence } from './types.ts';

/** Whether a journal source ('a.b.c.d:port', '[v6]:port' or a coarsened network) is the auditor's endpoint. */
function sourceMatches(source: string, endpoint: string): boolean {
  if (source === endpoint) return true;
  const [address] = endpoint.split(/:(?=\d+$)/);
  if (source.endsWith('/24'))
    return (
      address !== undefined &&
      address.split('.').slice(0, 3).join('.') === source.slice(0, -3).split('.').slice(0, 3).join('.')
    );
  return source === '::1/128' && address === '::1';
}

function allEndpoints(ctx: AuditContext): string[] {
  return [...ctx.trace.endpoints.values()].flatMap((s) => [...s]);
}

/**
 * journal.connections: each of the auditor's own connections appears in the journal with time, source, surface and
 * result.
 */
export async function checkJournalConnections(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined) return notTested('needs --state to read the connection journal');
  const endpoints = allEndpoints(ctx);
  const recorded = (entries: StoredJournalEntry[], ep: string): boolean =>
    entries.some((e) => sourceMatches(e.source, ep));
  const entries = await settledJournal(ctx, (es) => endpoints.every((ep) => recorded(es, ep)));
  if (entries === undefined)
    return {
      status: 'fail',
      summary: 'there is no connection journal in the state folder',
      evidence: [{ sent: `read the journal in ${ctx.inputs.stateDir}`, received: 'missing', finding: true }],
    };
  const malformed = entries.filter((e) => !e.at || !e.source || !e.surface || !e.result).length;
  const evidence: Evidence[] = [
    {
      sent: 'read the connection journal',
      received: `${entries.length} entries${malformed ? `, ${malformed} without time, source, surface or result` : ''}`,
      finding: malformed > 0,
    },
  ];
  if (endpoints.length === 0)
    return notTested(
      'give --url as well: the auditor then checks that each of its own connections was recorded',
      evidence,
    );
  const sensitive = entries.some((e) => /\/\d+$/.test(e.source));
  const missing = sensitive ? [] : endpoints.filter((ep) => !recorded(entries, ep));
  const matched = entries.filter((e) => endpoints.some((ep) => sourceMatches(e.source, ep)));
  evidence.push({
    sent: `the auditor's ${endpoints.length} TLS connections during this audit`,
    received: sensitive
      ? `${matched.length} entries from the auditor's network (sources are coarsened on this device class)`
      : missing.length === 0
        ? `all ${endpoints.length} recorded (${[...new Set(matched.map((e) => `${e.event} ` + `${e.result}`))]
            .slice(0, 8)
            .join(', ')})`
        : `${missing.length} not recorded, e.g. ${missing.slice(0, 3).join(', ')}`,
    finding: sensitive ? matched.length < endpoints.length : missing.length > 0,
  });
  return verdict(
    evidence,
    'every connection the auditor made is in the journal with its time, source, surface and result',
    () => 'connection attempts are missing from the journal',
  );
}

/**
 * journal.security-events: the lockout and the CSRF refusal the auditor caused are recorded, and the owner has a
 * journal page.
 */
export async function checkJournalSecurityEvents(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined)
    return notTested(
      "needs --state to read the journal (the owner's journal page needs the owner's credentials, which audits do " +
        'not use)',
    );
  const lockoutEps = [...(ctx.trace.endpoints.get('lockout') ?? [])];
  const csrfEps = [...(ctx.trace.endpoints.get('csrf') ?? [])];
  const wantLockout = ctx.trace.lockout !== undefined;
  const wantCsrf = ctx.trace.csrfRefused === true;
  if (!wantLockout && !wantCsrf)
    return notTested(
      'no security event was caused: give --url so the auditor triggers a lockout and a CSRF refusal and then looks ' +
        'for them in the journal',
    );
  const hasLock = (es: StoredJournalEntry[]): boolean =>
    es.some((e) => e.result === 'locked-out' && lockoutEps.some((ep) => sourceMatches(e.source, ep)));
  const hasCsrf = (es: StoredJournalEntry[]): boolean =>
    es.some((e) => e.event === 'csrf' && e.result === 'refused' && csrfEps.some((ep) => sourceMatches(e.source, ep)));
  const entries = await settledJournal(ctx, (es) => (!wantLockout || hasLock(es)) && (!wantCsrf || hasCsrf(es)));
  if (entries === undefined)
    return {
      status: 'fail',
      summary: 'there is no journal in the state folder',
      evidence: [{ sent: 'read the journal', received: 'missing', finding: true }],
    };
  const evidence: Evidence[] = [];
  if (wantLockout)
    evidence.push({
      sent: `the lockout the auditor triggered at attempt ${ctx.trace.lockout!.attempt}`,
      received: hasLock(entries) ? 'recorded as a locked-out login' : 'not recorded',
      finding: !hasLock(entries),
    });
  if (wantCsrf)
    evidence.push({
      sent: 'the cross-origin request the device refused',
      received: hasCsrf(entries) ? 'recorded as a refused CSRF attempt' : 'not recorded',
      finding: !hasCsrf(entries),
    });
  const listing = ctx.trace.answers.find((a) => a.request === 'GET /api/journal');
  if (listing !== undefined)
    evidence.push({
      sent: "GET /api/journal without a session (the owner's listing)",
      received: listing.status === 404 ? 'does not exist' : `exists and is owner-only (${listing.status})`,
      finding: listing.status === 404,
    });
  return verdict(
    evidence,
    'the security events the auditor caused are in the journal, which the owner lists on the admin page',
    () => 'security events are not recorded for the owner',
  );
}

/** journal.redaction: none of the random passwords the auditor sent appears in any file of the state folder. */
export async function checkJournalRedaction(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined) return notTested('needs --state to search the logs');
  const canaries = ctx.trace.canaries;
  if (canaries.length === 0)
    return notTested('no canary was sent: give --url so the auditor sends random passwords and then searches for them');
  // The device batches its writes (journal ~50 ms, counters ~200 ms): let them land first.
  await new Promise((r) => setTimeout(r, Math.min(500, ctx.inputs.limits.journalSettleMs)));
  const { entries, truncated } = await walk(ctx.inputs.stateDir, ctx.inputs.limits.maxStateFiles);
  const files = entries.filter((e) => e.kind === 'file');
  const hits: string[] = [];
  for (const f of files) {
    const t = await readBounded(f.path, ctx.inputs.limits.maxInputFileBytes, { tail: true });
    if (t.ok && canaries.some((c) => t.text.includes(c))) hits.push(f.name);
  }
  return verdict(
    [
      {
        sent:
          `search ${files.length} files in the state folder${truncated ? ' (first ones only)' : ''} for the ` +
          `${canaries.length} random passwords the auditor sent`,
        received: hits.length === 0 ? 'none found' : `found in ${hits.join(', ')}`,
        finding: hits.length > 0,
      },
    ],
    'no password the auditor sent was written anywhere on the device',
    () => 'passwords sent to the device were written to its storage',
  );
}

/** journal.no-content: a camera or microphone device's journal keeps no detail and only coarse sources. */
export async function checkJournalNoContent(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined) return notTested('needs --state to read the journal');
  const entries = await readJournal(ctx);
  if (entries === undefined) return notTested('there is no journal in the state folder');
  if (entries.length === 0) return notTested('the journal is empty');
  // The journal's own notices and aggregates keep counts and times on a camera too: not content.
  const { JOURNAL_MADE_EVENTS } = await import('../journal/index.ts');
  const detailed = entries.filter((e) => e.detail !== undefined && !JOURNAL_MADE_EVENTS.has(e.event)).length;
  const precise = entries.filter(
    (e) => !/\/\d+$/.test(e.source) && e.source !== 'local' && e.source !== 'unknown',
  ).length;
  return verdict(
    [
      {
        sent: `${entries.length} journal entries`,
        received: detailed === 0 ? 'no free-text detail' : `${detailed} with free-text detail`,
        finding: detailed > 0,
      },
      {
        sent: 'journal sources',
        received: precise === 0 ? 'networks only (/24, /48)' : `${precise} exact addresses`,
        finding: precise > 0,
      },
    ],
    'the journal keeps no content-derived detail and only coarse sources',
    () => 'the journal of a sensing device keeps detail or exact sources',
  );
}

/** config.log-retention: the journal is bounded in entries, bytes and age, and the state's journal keeps to it. */
export async function checkLogRetention(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_CONFIG);
  const journalApi = await import('../journal/index.ts');
  const { defaultJournalConfig: c, validateJournalConfig, JOURNAL_FILE_NAME } = journalApi;
  const bounds = journalApi.fileBounds(c);
  const unbounded = acceptsConfig(() => validateJournalConfig({ maxAgeDays: 100_000 }));
  const evidence: Evidence[] = [
    {
      sent: "the firmware's journal limits",
      received: `${bounds.maxEntries} entries, ${bounds.maxBytes} bytes, ${c.maxAgeDays} days`,
      finding: c.maxAgeDays > 365,
    },
    {
      sent: 'a configuration keeping entries for 100,000 days',
      received: unbounded ? 'accepted' : 'refused',
      finding: unbounded,
    },
  ];
  if (ctx.inputs.stateDir !== undefined) {
    const entries = await readJournal(ctx);
    const f = await readBounded(join(ctx.inputs.stateDir, JOURNAL_FILE_NAME), ctx.inputs.limits.maxInputFileBytes, {
      tail: true,
    });
    if (f.ok && entries !== undefined) {
      const oldest = entries.length ? Date.parse(entries[0]!.at) : Date.now();
      const ageDays = (Date.now() - oldest) / 86_400_000;
      evidence.push({
        sent: `the journal in the state folder`,
        received: `${entries.length} entries, ${f.size} bytes, oldest ${ageDays.toFixed(1)} days`,
        finding: f.size > bounds.maxBytes || entries.length > bounds.maxEntries || ageDays > c.maxAgeDays + 1,
      });
    }
  }
  return verdict(
    evidence,
    'logs are bounded by size, count and age, and the bounds cannot be lifted',
    () => 'log retention is unbounded or exceeded',
  );
}
