// Fuzz target for parseFactsRecord, the parser of security facts records from outside (`cloud facts publish`'s
// input, and the record the auditor fetches from a cloud): random text, mutated valid records and valid records
// with a random value put at a random field. Only the typed refusal (FactsRecordError naming a field) may come out,
// never another exception or a hang; whatever is accepted is a record that round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getModel } from '../models/index.ts';
import { FactsRecordError } from './errors.ts';
import { buildFactsRecord, parseFactsRecord, serializeFactsRecord } from './facts.ts';
import { loadExampleProfile } from './load.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
/** Longest a single parse may take, ms. */
const MAX_PARSE_MS = 250;

const valid = serializeFactsRecord(
  buildFactsRecord({
    model: getModel('plug'),
    version: '1.1.0',
    profile: await loadExampleProfile('plug'),
    baseUrl: 'https://cloud.example.com',
    conformityUrl: 'https://example.com/conformity/plug.pdf',
    automaticUpdates: true,
    release: { model: 'plug', version: '1.1.0', sbom: 'plug/image.cdx.json', supportEndsOn: '2032-06-30' },
  }),
);

/** Parses `text`: the record, or undefined after a typed refusal; anything else fails the property. */
function parsedOrRefused(text: string): unknown {
  const start = performance.now();
  try {
    const record = parseFactsRecord(text);
    assert.deepEqual(parseFactsRecord(serializeFactsRecord(record)), record);
    return record;
  } catch (err) {
    assert.ok(err instanceof FactsRecordError, String((err as Error)?.stack ?? err));
    assert.ok(err.field.length > 0 && err.message.startsWith(`${err.field}: `), err.message);
    return undefined;
  } finally {
    assert.ok(performance.now() - start < MAX_PARSE_MS, 'a parse is bounded in time');
  }
}

function mutate(text: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .tuple(fc.nat({ max: text.length - 1 }), fc.string({ maxLength: 4 }))
      .map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1)),
    fc.nat({ max: text.length }).map((i) => text.slice(0, i)),
    fc
      .tuple(fc.nat({ max: text.length }), fc.string({ maxLength: 40 }))
      .map(([i, s]) => text.slice(0, i) + s + text.slice(i)),
  );
}

/** The paths of every value in a JSON document, e.g. ['support', 'endsOn']. */
function paths(value: unknown, at: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [at];
  return [at, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...at, k]))];
}

/** A valid record with `replacement` put at one of its paths (the whole record at the empty path). */
const replaced = fc
  .tuple(fc.constantFrom(...paths(JSON.parse(valid))), fc.jsonValue({ maxDepth: 2 }))
  .map(([path, replacement]) => {
    if (path.length === 0) return JSON.stringify(replacement);
    const doc = JSON.parse(valid) as Record<string, unknown>;
    let at = doc;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
    at[path.at(-1)!] = replacement;
    return JSON.stringify(doc);
  });

test('random, mutated and re-valued records: a record that round-trips, or FactsRecordError naming a field', () => {
  assert.ok(parsedOrRefused(valid), 'the valid record parses');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 2_000 }), fc.json({ maxDepth: 3 }), mutate(valid), replaced), (t) => {
      parsedOrRefused(t);
    }),
    { numRuns: RUNS },
  );
});
