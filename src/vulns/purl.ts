/**
 * Package URLs of npm packages as the purl specification writes them: `pkg:npm/<name>@<version>`,
 * a scope as the namespace with its `@` percent-encoded (`pkg:npm/%40scope/name@1.0.0`).
 */

/** The purl of an npm package, with its version when given. */
export function npmPurl(name: string, version?: string): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  const scope = slash > 0 ? encodeURIComponent(name.slice(0, slash)) + '/' : '';
  const bare = encodeURIComponent(slash > 0 ? name.slice(slash + 1) : name);
  return `pkg:npm/${scope}${bare}${version === undefined ? '' : '@' + encodeURIComponent(version)}`;
}

/** An npm purl's package name and version. */
export interface NpmPurl {
  readonly name: string;
  readonly version?: string;
}

const MAX_PURL_LENGTH = 512;

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/**
 * Reads an npm purl (qualifiers and subpath ignored; an unencoded `@` in the scope accepted, as
 * some tools write it); undefined for any other type or a malformed one.
 */
export function parseNpmPurl(purl: unknown): NpmPurl | undefined {
  if (typeof purl !== 'string' || purl.length > MAX_PURL_LENGTH) return undefined;
  const m = /^pkg:npm\/([^?#]+)/i.exec(purl);
  if (!m) return undefined;
  const path = m[1]!.replace(/\/+$/, '');
  const parts = path.split('/');
  if (parts.length > 2 || parts.length === 0) return undefined;
  const last = parts[parts.length - 1]!;
  const at = last.lastIndexOf('@');
  const bare = decode(at > 0 ? last.slice(0, at) : last);
  const version = at > 0 ? decode(last.slice(at + 1)) : undefined;
  const scope = parts.length === 2 ? decode(parts[0]!) : '';
  if (!bare || scope === undefined || (parts.length === 2 && !/^@[^/@]+$/.test(scope))) return undefined;
  if (at > 0 && !version) return undefined;
  const name = scope ? `${scope}/${bare}` : bare;
  return version === undefined ? { name } : { name, version };
}
