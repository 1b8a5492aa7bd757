// Fuzz targets of the driver protocol's line parsers (src/audit/fuzz-inventory.ts names them): any
// line, well-formed JSON-RPC or not, gives a typed message or a DriverError, never another throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DriverError, parseAgentLine, parseDriverLine } from './index.ts';

const jsonRpcLike = fc
  .record(
    {
      jsonrpc: fc.oneof(fc.constant('2.0'), fc.string()),
      id: fc.oneof(fc.nat(), fc.integer(), fc.string(), fc.constant(null)),
      method: fc.oneof(fc.constantFrom('changed', 'button', 'fault', 'get', 'act', 'initialize'), fc.string()),
      params: fc.anything(),
      result: fc.anything(),
      error: fc.anything(),
    },
    { requiredKeys: [] },
  )
  .map((m) => JSON.stringify(m));
const anyLine = fc.oneof(fc.string({ maxLength: 300 }), jsonRpcLike, fc.json());

for (const [name, parse] of [
  ['parseDriverLine', parseDriverLine],
  ['parseAgentLine', parseAgentLine],
] as const) {
  test(`property: ${name} answers any line with a message or a DriverError`, () => {
    fc.assert(
      fc.property(anyLine, (line) => {
        try {
          const message = parse(line);
          assert.equal(typeof message, 'object');
        } catch (err) {
          assert.ok(err instanceof DriverError, `threw ${String(err)}`);
        }
      }),
      { numRuns: 2_000 },
    );
  });
}
