/**
 * The connection journal in the owner's words: one sentence per record ("Wrong password for bea from 192.168.1.23"),
 * the raw record kept beside it for whoever wants the detail. Pure: the journal page renders what this returns.
 */

/** One row of the connection journal as shown to the owner. */
export interface JournalRow {
  readonly at: string;
  readonly surface: string;
  readonly source: string;
  readonly event: string;
  readonly identity?: string;
  readonly result: string;
  readonly detail?: string;
}

/** Where a record came from, in words: an address, or the device itself. */
function fromWhere(source: string): string {
  if (source === 'local' || source === '') return 'on the device';
  if (source === 'unknown') return 'from an unknown address';
  return `from ${source.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')}`;
}

/** Who a record names, in words. */
function who(identity: string | undefined): string {
  if (!identity) return 'someone';
  if (identity === '(unknown)') return 'a name nobody here has';
  if (identity.startsWith('sha256:')) return `hub ${identity.slice(7, 15)}`;
  return identity;
}

/** A detail the journal redacted says so in words rather than as a marker. */
function detailOf(detail: string | undefined): string {
  if (!detail) return '';
  return detail.includes('[REDACTED]') ? detail.replaceAll('[REDACTED]', '(hidden)') : detail;
}

type Words = (r: JournalRow) => string | undefined;

/**
 * What ended a handshake that did not finish: the client hung up ('dropped': a browser's spare connection), the
 * client refused this device's certificate ('untrusted': a browser that has not been told to trust it yet), or
 * anything else (a client this device refused). The first two are the client's choice, not an attack on the owner.
 */
function tlsCloseKind(r: JournalRow): 'dropped' | 'untrusted' | 'refused' {
  const code = r.detail ?? '';
  if (/^(ECONNRESET|EPIPE|ECONNABORTED)$/.test(code)) return 'dropped';
  if (/ALERT_(CERTIFICATE_UNKNOWN|BAD_CERTIFICATE|UNKNOWN_CA)$/.test(code)) return 'untrusted';
  return 'refused';
}

/** Sentences for the events an owner meets most; anything else falls back to a readable generic line. */
const SENTENCES: Readonly<Record<string, Words>> = {
  login: (r) => {
    const where = fromWhere(r.source);
    if (r.result === 'success') return `${who(r.identity)} logged in ${where}`;
    if (r.result === 'locked-out') return `A login for ${who(r.identity)} ${where} was held back after too many tries`;
    if (r.result === 'failure') return `Wrong password for ${who(r.identity)} ${where}`;
    return undefined;
  },
  'tls-error': (r) => {
    const where = fromWhere(r.source);
    if (tlsCloseKind(r) === 'dropped')
      return `A connection ${where} closed before its secure handshake ended (browsers open spare ones and drop them)`;
    if (tlsCloseKind(r) === 'untrusted')
      return `A browser ${where} did not accept this device's certificate yet (its fingerprint is on the dashboard)`;
    return `A connection ${where} was refused: it did not complete a secure handshake`;
  },
  'tls-connect': (r) => `Secure connection ${fromWhere(r.source)}`,
  'tcp-connect': (r) => `Connection ${fromWhere(r.source)}`,
  connect: (r) => (r.result === 'success' ? `Connected ${fromWhere(r.source)}` : undefined),
  'connection-flood': (r) => `Many connections ${fromWhere(r.source)}, summarised: ${detailOf(r.detail)}`,
  'http-malformed': (r) => `A malformed request ${fromWhere(r.source)} was refused`,
  csrf: (r) => `A form ${fromWhere(r.source)} without its page's token was refused`,
  'role-refused': (r) => `${who(r.identity)} was refused: ${detailOf(r.detail) || 'not allowed for their role'}`,
  control: (r) =>
    r.result === 'success'
      ? `${who(r.identity)} used ${detailOf(r.detail)}`
      : `${who(r.identity)} tried ${detailOf(r.detail)}, which did not happen`,
  'user-removed': (r) => (r.result === 'success' ? `Removed ${detailOf(r.detail)}` : undefined),
  'window-open': (r) => `The pairing window opened${r.detail ? ` (${detailOf(r.detail)})` : ''}`,
  'channel-connect': (r) => `Paired ${who(r.identity)} connected ${fromWhere(r.source)}`,
  'journal-drop': (r) => `The journal let older entries go to stay within its size: ${detailOf(r.detail)}`,
};

/** One record as a sentence an owner understands. */
export function journalSentence(r: JournalRow): string {
  const sentence = SENTENCES[r.event]?.(r);
  if (sentence) return sentence;
  const event = r.event.replaceAll('-', ' ');
  const detail = detailOf(r.detail);
  const result = r.result === 'success' || r.result === 'info' ? '' : ` (${r.result.replaceAll('-', ' ')})`;
  const named = r.identity ? ` for ${who(r.identity)}` : '';
  return `${event.charAt(0).toUpperCase()}${event.slice(1)}${named}${result}${detail ? `: ${detail}` : ''}`;
}

/** Whether a record asks for the owner's attention (shown in red): a failure or refusal not of the client's choice. */
export function journalConcern(r: JournalRow): boolean {
  if (r.event === 'tls-error' && tlsCloseKind(r) !== 'refused') return false;
  return r.result === 'failure' || r.result === 'refused' || r.result === 'locked-out';
}

/** Whether a record matches the owner's filter text (its sentence, address, name or event; any case). */
export function journalMatches(r: JournalRow, filter: string): boolean {
  if (filter === '') return true;
  const needle = filter.toLowerCase();
  return [journalSentence(r), r.source, r.identity ?? '', r.event, r.surface].some((t) =>
    t.toLowerCase().includes(needle),
  );
}
