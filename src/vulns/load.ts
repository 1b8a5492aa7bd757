/**
 * Reading advisories from files, offline: one JSON file or a folder of them (OSV files as
 * GitHub's advisory database and OSV.dev publish them, CSAF 2.0 documents), every size bounded.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Advisory } from './advisory.ts';
import { invalidAdvisory } from './advisory.ts';
import { isOsvDocument, parseOsvAdvisory } from './osv.ts';
import { isCsafDocument, parseCsafAdvisories } from './csaf-in.ts';
import { VulnError } from './errors.ts';

/** Limits of one import, with their units. */
export const advisoryInputLimits = {
  /** Bytes of one advisory file. */
  maxFileBytes: 8 * 1_048_576,
  /** Advisory files in a folder (subfolders are walked). */
  maxFiles: 20_000,
  /** Bytes of all files of one import. */
  maxTotalBytes: 256 * 1_048_576,
  /** Folder depth walked. */
  maxDepth: 8,
} as const;

/**
 * Parses one advisory document of either format (an OSV advisory, a list of them, or a CSAF 2.0
 * document). @throws VulnError 'VULN_ADVISORY_INVALID'
 */
export function parseAdvisoryDocument(doc: unknown, where = 'advisory'): Advisory[] {
  if (Array.isArray(doc)) {
    if (doc.length > advisoryInputLimits.maxFiles) throw invalidAdvisory(where, 'too many advisories in one list');
    return doc.flatMap((d, i) => parseAdvisoryDocument(d, `${where}[${i}]`));
  }
  if (isCsafDocument(doc)) return parseCsafAdvisories(doc, where);
  if (isOsvDocument(doc)) return [parseOsvAdvisory(doc, where)];
  throw invalidAdvisory(where, 'neither an OSV advisory (id, affected) nor a CSAF 2.0 document');
}

async function jsonFiles(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth > advisoryInputLimits.maxDepth) return;
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) await jsonFiles(join(dir, e.name), depth + 1, out);
    else if (e.isFile() && e.name.endsWith('.json')) out.push(join(dir, e.name));
    if (out.length > advisoryInputLimits.maxFiles)
      throw new VulnError('VULN_INPUT_TOO_LARGE', `more than ${advisoryInputLimits.maxFiles} advisory files`);
  }
}

/**
 * Reads every advisory in `path` (a JSON file, or a folder walked for *.json files).
 * @throws VulnError 'VULN_INPUT_UNREADABLE', 'VULN_INPUT_TOO_LARGE' or 'VULN_ADVISORY_INVALID'
 * @example const advisories = await readAdvisories('advisories/');
 */
export async function readAdvisories(path: string): Promise<Advisory[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new VulnError('VULN_INPUT_UNREADABLE', `no advisory file or folder at ${path}`, { path });
  const files: string[] = [];
  if (info.isDirectory()) await jsonFiles(path, 1, files);
  else files.push(path);
  let total = 0;
  const out: Advisory[] = [];
  for (const file of files) {
    const size = (await stat(file)).size;
    total += size;
    if (size > advisoryInputLimits.maxFileBytes || total > advisoryInputLimits.maxTotalBytes)
      throw new VulnError('VULN_INPUT_TOO_LARGE', `${basename(file)}: advisories over their size limits`, {
        file,
        limits: advisoryInputLimits,
      });
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      throw invalidAdvisory(basename(file), 'not JSON');
    }
    out.push(...parseAdvisoryDocument(doc, basename(file)));
  }
  return out;
}
