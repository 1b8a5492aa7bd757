/**
 * Checks a document against the shipped JSON Schema (schemas/model.v1.schema.json), for the subset
 * of JSON Schema that file uses: type, const, enum, pattern, string and array lengths, uniqueItems,
 * items, properties, required, additionalProperties false, numeric bounds, and a oneOf told apart by
 * its `type` property (its one `not`, the reserved capability ids, is model-file.ts's cross rule). Pure.
 * Each problem names the path and the rule in words a maker can act on
 * ("capabilities[2].value.min: must be a number"). The schema file is the one editors read through
 * `$schema`, so the file and this check cannot drift: test/models checks the same documents with ajv.
 */

/** The subset of a JSON Schema node the model schema uses. */
export interface SchemaNode {
  readonly type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean';
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
  readonly items?: SchemaNode;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly oneOf?: readonly SchemaNode[];
}

/** One problem: where, and what rule it breaks. */
export interface SchemaProblem {
  readonly path: string;
  readonly rule: string;
}

const typeOk: Record<NonNullable<SchemaNode['type']>, (v: unknown) => boolean> = {
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  integer: (v) => Number.isSafeInteger(v),
  boolean: (v) => typeof v === 'boolean',
};

const show = (v: unknown): string => JSON.stringify(v);

/** Every problem of `value` against `node`, the first per path. */
export function checkAgainstSchema(node: SchemaNode, value: unknown, path = ''): SchemaProblem[] {
  const at = (rule: string): SchemaProblem[] => [{ path: path || '(document)', rule }];
  if (node.oneOf) return checkOneOf(node.oneOf, value, path);
  if (node.type && !typeOk[node.type](value)) return at(`must be ${node.type === 'integer' ? 'an' : 'a'} ${node.type}`);
  if ('const' in node && value !== node.const) return at(`must be ${show(node.const)}`);
  if (node.enum && !node.enum.includes(value)) return at(`must be one of ${node.enum.map(show).join(', ')}`);
  if (typeof value === 'string') return checkString(node, value, at);
  if (typeof value === 'number') return checkNumber(node, value, at);
  if (Array.isArray(value)) return checkArray(node, value, path, at);
  if (typeOk.object(value)) return checkObject(node, value as Record<string, unknown>, path);
  return [];
}

function checkString(node: SchemaNode, value: string, at: (rule: string) => SchemaProblem[]): SchemaProblem[] {
  if (node.minLength !== undefined && value.length < node.minLength)
    return at(node.minLength === 1 ? 'must not be empty' : `must be at least ${node.minLength} characters`);
  if (node.maxLength !== undefined && value.length > node.maxLength)
    return at(`must be at most ${node.maxLength} characters`);
  if (node.pattern !== undefined && !new RegExp(node.pattern, 'u').test(value)) return at(`must match ${node.pattern}`);
  return [];
}

function checkNumber(node: SchemaNode, value: number, at: (rule: string) => SchemaProblem[]): SchemaProblem[] {
  if (node.minimum !== undefined && value < node.minimum) return at(`must be at least ${node.minimum}`);
  if (node.maximum !== undefined && value > node.maximum) return at(`must be at most ${node.maximum}`);
  if (node.exclusiveMinimum !== undefined && value <= node.exclusiveMinimum)
    return at(`must be more than ${node.exclusiveMinimum}`);
  return [];
}

function checkArray(
  node: SchemaNode,
  value: readonly unknown[],
  path: string,
  at: (rule: string) => SchemaProblem[],
): SchemaProblem[] {
  if (node.minItems !== undefined && value.length < node.minItems) return at(`must have at least ${node.minItems}`);
  if (node.maxItems !== undefined && value.length > node.maxItems) return at(`must have at most ${node.maxItems}`);
  if (node.uniqueItems) {
    const seen = new Set(value.map(show));
    if (seen.size !== value.length) return at('must not repeat an item');
  }
  if (!node.items) return [];
  return value.flatMap((item, i) => checkAgainstSchema(node.items!, item, `${path}[${i}]`));
}

function checkObject(node: SchemaNode, value: Record<string, unknown>, path: string): SchemaProblem[] {
  const child = (key: string): string => (path ? `${path}.${key}` : key);
  const problems: SchemaProblem[] = [];
  for (const key of node.required ?? []) {
    if (!(key in value)) problems.push({ path: child(key), rule: 'is required' });
  }
  for (const [key, v] of Object.entries(value)) {
    const sub = node.properties?.[key];
    if (sub) problems.push(...checkAgainstSchema(sub, v, child(key)));
    else if (node.additionalProperties === false)
      problems.push({ path: child(key.slice(0, 64)), rule: 'is not allowed here' });
  }
  return problems;
}

/** A oneOf whose branches each fix `type` to a constant: the instance's `type` picks the branch. */
function checkOneOf(branches: readonly SchemaNode[], value: unknown, path: string): SchemaProblem[] {
  const kinds = branches.map((b) => b.properties?.type?.const);
  const type = typeOk.object(value) ? (value as { type?: unknown }).type : undefined;
  const branch = branches[kinds.indexOf(type)];
  if (!branch) return [{ path: `${path}.type`, rule: `must be one of ${kinds.map(show).join(', ')}` }];
  return checkAgainstSchema(branch, value, path);
}
