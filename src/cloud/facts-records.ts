/**
 * The cloud as the home of each model and version's security facts record (`bulwark.facts/v1`,
 * which `bulwark policy facts` writes): served publicly, with no session, at the stable URL a
 * label's QR code carries, `/facts/<model>/<version>.json`, byte for byte as published.
 *
 * `bulwark cloud facts publish` puts a record into the instance's data folder
 * (`<state>/facts/<model>/<version>.json`), written atomically, after the record's own schema
 * accepted it. That schema is src/policy's: the publisher passes its parser in, so the cloud
 * refuses what the schema refuses without loading the policy catalogue into the service. A record
 * that would shorten the support period already published for its model and version is refused.
 *
 * @example
 * const bytes = await readFile('plug.facts.json');
 * const done = await publishFactsRecord(factsFolder('cloud-state'), bytes, parseFactsRecord);
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/index.ts';
import type { Router } from '../web/index.ts';
import { FactsPublishError, NotFoundError } from './errors.ts';
import type { OwnerCtx } from './owner-accounts.ts';
import type { OwnerSite } from './owner-site.ts';

/** The data folder's sub-folder of published records. */
export const FACTS_DIR = 'facts';
/** Where records are served, relative to the origin (src/policy's factsRecordPath makes the same paths). */
export const FACTS_ROUTE_PREFIX = '/facts/';
/** Largest record published or served, bytes (src/policy's limit for a record). */
export const MAX_FACTS_BYTES = 65_536;
/** A model id, as src/models allows it. */
const MODEL_ID = /^[a-z][a-z0-9-]{1,31}$/;
/** A firmware version, MAJOR.MINOR.PATCH, as src/update allows it. */
const VERSION = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

/** What the publisher needs of a parsed record: where it goes and the support date it promises. */
export interface FactsRecordFacts {
  readonly product: { readonly model: string; readonly version: string };
  readonly support: { readonly endsOn: string };
}

/** The record's schema check: returns the record, or throws a typed error naming the field at fault. */
export type FactsRecordParser = (text: string) => FactsRecordFacts;

/** What a publication did. */
export interface FactsPublishOutcome {
  /** The path it is served at, e.g. '/facts/plug/1.1.0.json'. */
  readonly path: string;
  /** The file it is kept in. */
  readonly file: string;
  readonly outcome: 'published' | 'replaced' | 'unchanged';
}

/** The folder of published records in a cloud instance's state folder. */
export function factsFolder(stateDir: string): string {
  return join(stateDir, FACTS_DIR);
}

/** Reads a regular file of at most `maxBytes`; undefined when it is missing, not a file or larger. */
async function readSmallFile(path: string, maxBytes: number): Promise<Buffer | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (handle === undefined) return undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size > maxBytes) return undefined;
    const buffer = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(buffer, 0, info.size, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The file of a model and version's record, or undefined when either is no safe path segment. */
function recordFile(dir: string, model: string, version: string): string | undefined {
  return MODEL_ID.test(model) && VERSION.test(version) ? join(dir, model, `${version}.json`) : undefined;
}

/** The published record of `model` and `version`, as published; undefined when there is none. */
export async function readFactsRecord(dir: string, model: string, version: string): Promise<Buffer | undefined> {
  const file = recordFile(dir, model, version);
  return file === undefined ? undefined : readSmallFile(file, MAX_FACTS_BYTES);
}

/** The support date of the record held at `file`, if one is held and still parses. */
async function heldSupport(file: string, parse: FactsRecordParser): Promise<{ bytes?: Buffer; endsOn?: string }> {
  const bytes = await readSmallFile(file, MAX_FACTS_BYTES);
  if (bytes === undefined) return {};
  try {
    return { bytes, endsOn: parse(bytes.toString('utf8')).support.endsOn };
  } catch {
    // A record that no longer parses (an older schema) promises nothing this one could shorten.
    return { bytes };
  }
}

/**
 * Publishes a record into `dir` (a cloud instance's {@link factsFolder}): checked by size and
 * encoding, then by `parse` (the record's schema), then written atomically. Nothing is written when
 * any check refuses it.
 * @throws FactsPublishError 'FACTS_RECORD_TOO_LARGE', 'FACTS_RECORD_REFUSED', 'FACTS_RECORD_CONFLICT'; and
 *   whatever `parse` throws for a record its schema refuses
 */
export async function publishFactsRecord(
  dir: string,
  bytes: Buffer,
  parse: FactsRecordParser,
): Promise<FactsPublishOutcome> {
  if (bytes.length > MAX_FACTS_BYTES)
    throw new FactsPublishError('FACTS_RECORD_TOO_LARGE', `the record is over ${MAX_FACTS_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FactsPublishError('FACTS_RECORD_REFUSED', 'the record is not UTF-8');
  }
  const record = parse(text);
  const { model, version } = record.product;
  const file = recordFile(dir, model, version);
  if (file === undefined)
    throw new FactsPublishError('FACTS_RECORD_REFUSED', 'product.model or product.version is no model id or version');
  const path = `${FACTS_ROUTE_PREFIX}${model}/${version}.json`;
  const held = await heldSupport(file, parse);
  // ISO dates compare as text.
  if (held.endsOn !== undefined && record.support.endsOn < held.endsOn)
    throw new FactsPublishError(
      'FACTS_RECORD_CONFLICT',
      `support.endsOn: ${record.support.endsOn} would shorten the support period published for ${model} ` +
        `${version} (${held.endsOn}); it may be extended, never shortened`,
      { model, version, published: held.endsOn },
    );
  if (held.bytes?.equals(bytes)) return { path, file, outcome: 'unchanged' };
  await writeFileAtomic(file, bytes);
  return { path, file, outcome: held.bytes === undefined ? 'published' : 'replaced' };
}

/** `GET /facts/<model>/<version>.json`: public, for any origin (a label's QR code is opened anywhere). */
export function addFactsRoutes(router: Router<OwnerCtx>, site: Pick<OwnerSite, 'factsDir'>): void {
  router.add({
    method: 'GET',
    path: `${FACTS_ROUTE_PREFIX}:model/:file`,
    access: 'public',
    csrf: false,
    handler: async (req) => {
      const { model, file } = req.params as { model: string; file: string };
      const dir = site.factsDir;
      const bytes =
        dir === undefined || !file.endsWith('.json')
          ? undefined
          : await readFactsRecord(dir, model, file.slice(0, -'.json'.length));
      if (bytes === undefined) throw new NotFoundError();
      return {
        kind: 'text',
        body: bytes.toString('utf8'),
        contentType: 'application/json',
        headers: { 'access-control-allow-origin': '*' },
      };
    },
  });
}
