/**
 * How many units in the field run each release: from the maker API of the cloud
 * (`GET /v1/maker/releases`, with the maker's token), over HTTPS, bounded in time and size.
 */
import { request } from 'node:https';
import { VulnError } from './errors.ts';

/** Units running one release. */
export interface FieldCount {
  readonly model: string;
  readonly version: string;
  readonly running: number;
}

/** Bounds of a maker API request. */
export const fieldApiLimits = {
  /** Milliseconds for the whole request. */
  timeoutMs: 30_000,
  /** Bytes of the answer. */
  maxAnswerBytes: 4 * 1_048_576,
  /** Releases read from the answer. */
  maxReleases: 100_000,
} as const;

const unavailable = (why: string): VulnError => new VulnError('VULN_FIELD_UNAVAILABLE', `the maker API: ${why}`);

/** Reads `{ releases: [{ model, version, running }] }`; anything else is refused. */
export function parseFieldCounts(body: unknown): FieldCount[] {
  const releases = (body as { releases?: unknown } | null)?.releases;
  if (!Array.isArray(releases) || releases.length > fieldApiLimits.maxReleases) throw unavailable('no releases list');
  return releases.map((r: unknown) => {
    const x = r as Record<string, unknown> | null;
    if (typeof x?.model !== 'string' || typeof x.version !== 'string' || !Number.isSafeInteger(x.running))
      throw unavailable('a release without model, version and running count');
    return { model: x.model, version: x.version, running: x.running as number };
  });
}

/**
 * Fetches the field counts from the maker API at `baseUrl` (https) with `token`, trusting `caPem`
 * when given (else the system's CAs). @throws VulnError 'VULN_FIELD_UNAVAILABLE'
 */
export function fetchFieldCounts(o: { baseUrl: string; token: string; caPem?: string }): Promise<FieldCount[]> {
  const url = new URL('/v1/maker/releases', o.baseUrl);
  if (url.protocol !== 'https:') return Promise.reject(unavailable('the URL must be https'));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json', authorization: `Bearer ${o.token}` },
        ...(o.caPem ? { ca: o.caPem } : {}),
        timeout: fieldApiLimits.timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > fieldApiLimits.maxAnswerBytes) req.destroy(unavailable('answer too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(unavailable(`answered ${res.statusCode}`));
          try {
            resolve(parseFieldCounts(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          } catch (err) {
            reject(err instanceof VulnError ? err : unavailable('the answer is not JSON'));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(unavailable('timed out')));
    req.on('error', (err) => reject(err instanceof VulnError ? err : unavailable(err.message)));
    req.end();
  });
}
